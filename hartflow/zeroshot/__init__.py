"""The zero-shot HRR reasoner (no gradient training): lexicon, skeleton memory, induced grammar."""

from hartflow.zeroshot.analogy import induce_positions
from hartflow.zeroshot.classes import induce_classes, substitutable
from hartflow.zeroshot.grammar import Grammar, induce_grammar
from hartflow.zeroshot.lexicon import LexiconMemory, induce_lexicon
from hartflow.zeroshot.reasoner import Answer, ZeroShotReasoner, abstract
from hartflow.zeroshot.rules import Parser, Rule

__all__ = [
    "Answer",
    "Grammar",
    "LexiconMemory",
    "Parser",
    "Rule",
    "ZeroShotReasoner",
    "abstract",
    "induce_classes",
    "induce_grammar",
    "induce_lexicon",
    "induce_positions",
    "substitutable",
]
