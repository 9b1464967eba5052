"""The zero-shot HRR reasoner (no gradient training): lexicon, skeleton memory, induced rules."""

from hartflow.zeroshot.analogy import SpanEdits, induce_positions
from hartflow.zeroshot.choice import Alternations, TemplateChoice
from hartflow.zeroshot.classes import induce_classes, substitutable
from hartflow.zeroshot.lexicon import LexiconMemory, induce_lexicon
from hartflow.zeroshot.reasoner import Answer, ZeroShotReasoner, abstract
from hartflow.zeroshot.rules import Rule, induce_rules

__all__ = [
    "Alternations",
    "Answer",
    "LexiconMemory",
    "Rule",
    "SpanEdits",
    "TemplateChoice",
    "ZeroShotReasoner",
    "abstract",
    "induce_classes",
    "induce_lexicon",
    "induce_positions",
    "induce_rules",
    "substitutable",
]
