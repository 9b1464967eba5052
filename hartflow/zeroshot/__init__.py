"""The zero-shot HRR reasoner (no gradient training): lexicon, skeleton memory, induced rules."""

from hartflow.zeroshot.lexicon import LexiconMemory, induce_lexicon
from hartflow.zeroshot.reasoner import Answer, ZeroShotReasoner, abstract
from hartflow.zeroshot.rules import Rule, induce_rules

__all__ = [
    "Answer",
    "LexiconMemory",
    "Rule",
    "ZeroShotReasoner",
    "abstract",
    "induce_lexicon",
    "induce_rules",
]
