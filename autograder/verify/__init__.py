"""Verify the hidden suites: the reference scores full marks, the skeleton nothing, known wrong solutions
lose points on the tests meant to catch them (`autograder verify`)."""

from .corpus import CorpusEntry, apply_entry, load_corpus, load_entry, replace_definition
from .reference_models import TINY_BUDGET, ModelBudget, reference_models, train_reference_models
from .run import ANY_QUALITY, Outcome, VerifyReport, judge, verify

__all__ = [
    "ANY_QUALITY",
    "TINY_BUDGET",
    "CorpusEntry",
    "ModelBudget",
    "Outcome",
    "VerifyReport",
    "apply_entry",
    "judge",
    "load_corpus",
    "load_entry",
    "reference_models",
    "replace_definition",
    "train_reference_models",
    "verify",
]
