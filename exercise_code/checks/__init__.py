"""Public checks students run: `python -m exercise_code.checks layers` (or `run_checks("layers")`).

A new group is a module of `@check(group, name)` functions plus one line in `settings.GROUP_MODULES`.
"""

from .runner import CheckFailed, CheckReport, CheckResult, Status, check, compare, run_checks
from .settings import GROUP_MODULES, TOLERANCE, Tolerance

__all__ = [
    "GROUP_MODULES",
    "TOLERANCE",
    "CheckFailed",
    "CheckReport",
    "CheckResult",
    "Status",
    "Tolerance",
    "check",
    "compare",
    "run_checks",
]
