"""Forbidden shortcuts: the rules (which torch callables an exercise must not use) and the AST scan that
finds them, shared by the public checks, `submit` and the grader.

Only the standard library: the grader imports it without torch, and it ships in the student kit.
"""

from .kit import CONSEQUENCE, Violation, in_modules, scan_kit
from .rules import (
    COURSE_RULES,
    RELEASED_RULES,
    Rules,
    display_name,
    exercise_name,
    kit_rules,
    load_rules,
    not_allowed,
    rules_file,
)
from .scan import AMBIGUOUS, MAX_HOPS, Finding, find_definition, scan_function

__all__ = [
    "AMBIGUOUS",
    "CONSEQUENCE",
    "COURSE_RULES",
    "MAX_HOPS",
    "RELEASED_RULES",
    "Finding",
    "Rules",
    "Violation",
    "display_name",
    "exercise_name",
    "find_definition",
    "in_modules",
    "kit_rules",
    "load_rules",
    "not_allowed",
    "rules_file",
    "scan_function",
    "scan_kit",
]
