"""`python -m autograder.grading.child JOB_JSON`: grade one student (`grade_student`) in its own process.

The child dies with the batch (PR_SET_PDEATHSIG), writes its result atomically, and exits 0; anything
it cannot handle itself is recorded by the batch as `crashed`.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from .notebooks.settings import NotebookGradingSettings
from .results import SubmissionResult, SubmissionStatus
from .secret import read_key
from .settings import GradeSettings
from .student import ALL_PARTS, grade_student, parse_parts


def _die_with_parent(parent_pid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the batch died before prctl took effect
        os._exit(70)


def run_job(job: dict[str, Any]) -> SubmissionResult:
    """Grade the submission described by `job` (the batch's JSON) and write its result file."""
    names = ("rubric", "forbidden", "hidden_data", "notebooks", "sources")
    opt = {k: Path(job[k]) for k in names if job.get(k)}
    try:
        result = grade_student(
            Path(job["submission"]),
            out=Path(job["out"]),
            parts=parse_parts(job.get("parts", ALL_PARTS)),
            suites=Path(job["suites"]),
            seed=int(job["seed"]),
            hidden_key=read_key(Path(job["key_file"])) if job.get("key_file") else None,
            settings=GradeSettings.from_dict(job["settings"]),
            notebook_settings=NotebookGradingSettings(**job.get("notebook_settings", {})),
            student=job["student"],
            stopped=job.get("stopped") or None,
            **opt,
        )
    except Exception as exc:
        logging.exception("grading %s failed", job["student"])
        result = SubmissionResult(
            student=job["student"],
            status=SubmissionStatus.ERROR,
            seed=int(job["seed"]),
            source=job["submission"],
            source_sha256=job.get("source_sha256", ""),
            parts=list(job.get("parts", ALL_PARTS)),
            message=f"the grader failed: {type(exc).__name__}: {exc}",
            log_excerpt=traceback.format_exc()[-2000:],
        )
    result.write(Path(job["result"]))
    return result


def main(argv: list[str]) -> int:
    job = json.loads(argv[0])
    if job.get("parent_pid"):
        _die_with_parent(int(job["parent_pid"]))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_job(job)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
