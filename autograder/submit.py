"""`autograder submit`: the student's own helper (`exercise_code.submit`, which ships in the released kit),
then the grader's intake run on the zip it wrote. Kept for callers of `build_submission` and `check_model`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from autograder.errors import IntakeRejected, SubmissionError
from autograder.intake import IntakeLimits, extract_submission
from exercise_code.submit import ModelCheck, SubmitReport, check_model, submit

__all__ = ["ModelCheck", "SubmitReport", "build_submission", "check_model"]


def build_submission(
    root: Path, *, out: Path | None = None, strict: bool = False, public_checks: bool = True
) -> SubmitReport:
    """Check the kit at `root` and write the zip `out` (default `root/submission.zip`; a relative `out` is
    relative to the current folder), exactly as `python -m exercise_code.submit` does.

    Returns the report (`report.ok`: the zip was written). Raises SubmissionError when the grader's intake
    would reject the written zip (the zip is then removed).
    """
    target = Path(out).expanduser().resolve() if out is not None else "submission.zip"
    report = submit(root, target, strict=strict, checks=public_checks)
    if not report.ok:
        return report
    try:
        with tempfile.TemporaryDirectory(prefix="autograder-submit-") as scratch:
            extract_submission(report.out, Path(scratch), limits=IntakeLimits())  # the grader's own rules
    except IntakeRejected as exc:
        report.out.unlink(missing_ok=True)
        raise SubmissionError(
            f"{report}\nthe grader's intake rejects {report.out} (removed): {exc}"
        ) from None
    return report
