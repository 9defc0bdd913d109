"""The forbidden-shortcut scan of a whole kit: every rule of its rules file against its own source files.

The public checks (`no forbidden shortcuts`) and `python -m exercise_code.submit` report what it finds;
the grader runs the same scan (`scan.scan_function`) on the submission with its own copy of the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .rules import Rules, display_name, exercise_name, kit_rules, not_allowed
from .scan import AMBIGUOUS, Finding, scan_function

CONSEQUENCE = "the grader gives the tests of such a function 0 points (status `forbidden`)"
"""What a forbidden call costs, said once after the findings."""


@dataclass(frozen=True)
class Violation:
    """One exercise whose source (or a helper it calls) refers to a callable its rule forbids."""

    exercise: str
    """The rule's key: `exercise_code.layers.nearest_unpool2d`."""
    finding: Finding
    forbidden: tuple[str, ...]
    """Every callable the rule forbids in it."""

    def message(self) -> str:
        """`nearest_unpool2d calls F.interpolate at exercise_code/layers/unpooling.py:23 (not allowed in
        nearest_unpool2d: F.interpolate, ...)`, or for an ambiguous layout what the grader cannot read."""
        name = exercise_name(self.exercise)
        if self.finding.name == AMBIGUOUS:
            return f"{name}: the grader cannot tell which file Python imports ({self.finding.where})"
        return (
            f"{name} calls {display_name(self.finding.name)} at {self.finding.where} "
            f"(not allowed in {name}: {not_allowed(self.forbidden)})"
        )


def in_modules(exercise: str, modules: Sequence[str]) -> bool:
    """True when `exercise` (a dotted name) lies in one of `modules` (dotted prefixes); any when empty."""
    return not modules or any(exercise == m or exercise.startswith(m + ".") for m in modules)


def scan_kit(root: Path, modules: Sequence[str] = (), rules: Rules | None = None) -> list[Violation]:
    """The violations in the kit at `root` (the folder holding `exercise_code/`), in the rules' order:
    one per exercise under `modules` (all when empty) whose rule forbids something. `rules` defaults to the
    kit's own (`rules.kit_rules`); an exercise the kit does not define has nothing to violate."""
    rules = kit_rules(root) if rules is None else rules
    found = []
    for exercise, names in rules.items():
        if names and in_modules(exercise, modules):
            finding = scan_function(Path(root), exercise, names)
            if finding is not None:
                found.append(Violation(exercise, finding, names))
    return found
