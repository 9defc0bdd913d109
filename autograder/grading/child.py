"""`python -m autograder.grading.child JOB_JSON`: grade one student (`grade_student`) in its own process.

The child dies with the batch (PR_SET_PDEATHSIG), writes its result atomically, and exits 0; anything
it cannot handle itself is recorded by the batch as `crashed`. Locally it is forked warm from the batch's
fork server instead (`forked`, the same work without the 2.7 CPU-s of imports).
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import multiprocessing
import multiprocessing.forkserver
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
    """Be killed when the parent dies: the batch (cold), or the fork server, which ends with the batch
    once its children no longer hold the batch's end of its "alive" pipe (warm)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() == parent_pid:  # cold, and the batch is alive
        return
    try:  # warm: the parent is the fork server; the batch must still be alive
        os.kill(parent_pid, 0)
    except ProcessLookupError:  # the batch died before prctl took effect
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


def forked(job: dict[str, Any], log_path: str, environ: dict[str, str], cwd: str) -> None:
    """The entry of a child forked from the batch's fork server (`executors.spawn_child(warm=True)`):
    its own session, output into `log_path`, the batch's environment and working directory of now."""
    gc.freeze()  # collections skip the server's preloaded objects (and leave their pages shared)
    os.setsid()
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    os.environ.clear()
    os.environ.update(environ)
    os.chdir(cwd)
    server = multiprocessing.forkserver._forkserver  # private: the stdlib has no public name for this fd
    alive = getattr(server, "_forkserver_alive_fd", None)
    if alive is not None:  # each child gets the batch's end of the server's "alive" pipe; dropping it
        os.close(alive)  # lets the server end (and this child with it) as soon as the batch ends
        server._forkserver_alive_fd = None
    _serve(job)


def _serve(job: dict[str, Any]) -> None:
    """What a child does once started, cold or forked: die with the batch, log, grade."""
    if job.get("parent_pid"):
        _die_with_parent(int(job["parent_pid"]))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_job(job)


def main(argv: list[str]) -> int:
    _serve(json.loads(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
