"""Public checks students run: `python -m exercise_code.checks [group ...]` or `run_checks("layers")`."""

from .runner import GROUP_MODULES, CheckFailed, CheckReport, CheckResult, check, compare, run_checks

__all__ = ["GROUP_MODULES", "CheckFailed", "CheckReport", "CheckResult", "check", "compare", "run_checks"]
