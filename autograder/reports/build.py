"""Every report of a grading folder, from its stored results only (no student code runs): the results
completed across the batch, hand-graded points added, the late policy applied, then the reports and
the gradebook exports. `autograder grade` calls this when its batch ends; `autograder report` alone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.errors import GradingError

from .late import apply_late_policy, submission_times
from .lms import LmsAssignment, LmsExports, read_roster, write_lms_exports
from .manual import apply_manual_scores
from .merge import stored_results
from .write import ReportPaths, write_reports


@dataclass
class BuiltReports:
    """What `build_reports` read and wrote."""

    results: list[dict[str, Any]]
    paths: ReportPaths
    lms: LmsExports


def build_reports(
    out: Path,
    *,
    roster: Path | None = None,
    timestamps: Path | None = None,
    base: Path | None = None,
    assignment: LmsAssignment | str | None = None,
) -> BuiltReports:
    """Read `out/results/`, write `out/reports/` and `out/lms/`.

    `roster` (CSV, docs/lms.md) maps students to LMS ids; `timestamps` (CSV `student,submitted_at`)
    gives submission times for the late policy of `CONFIG.late` (without it: the newest entry date of
    each zip, relative `source` paths taken from `base`, default the current folder). Raises
    GradingError when there are no results or an input file is malformed (naming the problem).
    """
    from exercise_code.config import CONFIG

    results = stored_results(out)
    if not results:
        raise GradingError(
            f"no results in {Path(out) / 'results'}: run `autograder grade SUBMISSIONS --out {out}` first"
        )
    try:
        entries = read_roster(roster) if roster is not None else None
        results = apply_manual_scores(results, Path(out))
        times = submission_times(results, CONFIG.late, timestamps_csv=timestamps, base=base)
        results = apply_late_policy(results, CONFIG.late, times)
        paths = write_reports(results, Path(out) / "reports")
        lms = write_lms_exports(results, Path(out) / "lms", entries, assignment, late=CONFIG.late)
    except ValueError as exc:  # a malformed roster, timestamps file or policy: named by the reader
        raise GradingError(str(exc)) from None
    return BuiltReports(results, paths, lms)
