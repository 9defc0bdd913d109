"""Public checks students run: `python -m exercise_code.checks [group ...]` (or `run_checks("layers")`).

Groups: layers, patches, fcn, autoencoders, models (the saved models under `root`; all groups by default).
A new group is a module of `@check(group, name)` functions plus one line in `settings.GROUP_MODULES`.
"""

from .runner import (
    CheckFailed,
    CheckReport,
    CheckResult,
    NotDoneYet,
    Status,
    check,
    compare,
    kit_root,
    run_checks,
)
from .settings import GROUP_MODULES, POINTS, TOLERANCE, PublicPoints, Tolerance

__all__ = [
    "GROUP_MODULES",
    "POINTS",
    "TOLERANCE",
    "CheckFailed",
    "CheckReport",
    "CheckResult",
    "NotDoneYet",
    "PublicPoints",
    "Status",
    "Tolerance",
    "check",
    "compare",
    "kit_root",
    "run_checks",
]
