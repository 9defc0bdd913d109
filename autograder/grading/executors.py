"""Where a batch's grading children run: `local` processes on this machine, or tasks on a Dask cluster.

An executor takes the jobs still to grade and yields one `Outcome` per job as it ends; the batch
(`autograder.grading.batch`) turns each outcome into a result and stores it, so resuming works the same
whichever executor ran the job. Either way every submission is graded by `autograder.grading.child` in
a fresh process, which runs the student's code only inside the sandbox. That process is forked from a
fork server that imported torch, pytest and the kit once per batch here, or once per Dask worker
(`GradeSettings.warm_start`); on a daemonic Dask worker (one started by a nanny under Dask's default
config), which multiprocessing does not let fork servers serve, it starts cold with
`python -m autograder.grading.child`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from autograder.sandbox import cgroups

from .results import SubmissionResult, SubmissionStatus
from .settings import GradeSettings

if TYPE_CHECKING:
    from .batch import Job

log = logging.getLogger(__name__)
CHILD_GRACE_S = 180.0
"""Time a child gets on top of the submission budget (intake, imports, worker start) before it is killed."""
LOG_TAIL_CHARS = 3000
"""Characters of a dead child's log kept in its `crashed`/`timeout` record."""


@dataclass(frozen=True)
class BatchPlan:
    """What every job of a batch shares."""

    payload: dict[str, Any]
    """The child's JSON job without the per-submission keys (out, suites, seed, key_file, settings...)."""
    settings: GradeSettings
    results_dir: Path
    """`OUT/results`: one `<student>.json` per submission."""
    logs_dir: Path
    """`OUT/logs`: one `<student>.log` per submission graded now."""

    def child_result(self, student: str) -> Path:
        """Where a local child writes its result; the batch stores it (`ResultStore.record`)."""
        return self.logs_dir / f"{student}.result.json"

    @property
    def deadline_s(self) -> float:
        """Seconds after which a child is stopped and the job recorded as `timeout`."""
        return self.settings.submission_s + CHILD_GRACE_S


@dataclass
class Outcome:
    """How one job ended: the child's result, or why there is none."""

    job: Job
    result: SubmissionResult | None = None
    """What the child wrote (checked by the batch against the job's source hash and seed)."""
    status: SubmissionStatus = SubmissionStatus.CRASHED
    """When there is no result: `crashed` (the child or its worker died), `timeout`, `rejected` (not sent
    to the cluster: unreadable or too large) or `error` (the cluster failed the task)."""
    message: str = ""
    log_tail: str = ""
    seconds: float = 0.0
    store: bool = True
    """False for a failure of the infrastructure, not of the submission (a re-run grades it again)."""


class Executor(Protocol):
    """Runs the grading children of a batch (a context manager: entering starts, leaving stops)."""

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def run(self, jobs: Sequence[Job], plan: BatchPlan) -> Iterator[Outcome]:
        """Grade `jobs`, yielding each outcome as it ends; closing the iterator stops what still runs."""
        ...


# --- the child process, shared by both executors ---------------------------------------------------

WARM_PRELOAD = (
    "autograder.grading.child",  # torch, pytest, the kit and the grading code: about 2.7 CPU-s
    "autograder.grading.notebooks.grade",
    "autograder.hidden.references",  # not the test modules: pytest rewrites their asserts on import
    "autograder.reports",
    "autograder.worker.main",
    "nbgrader.preprocessors",  # nbconvert, sqlalchemy...: about 0.9 CPU-s
    "torch.fx.experimental.symbolic_shapes",  # what torch loads on the first max_unpool2d (sympy)
    "torch.utils._sympy.functions",
)
"""What the fork server imports once so that each child forked from it does not: about 3.8 CPU-s of
imports that every cold child pays (1.1 of them in the middle of grading, loaded lazily)."""


class WarmChild:
    """A child forked from the batch's fork server (`multiprocessing`'s forkserver, preloaded with
    `WARM_PRELOAD`), with the `subprocess.Popen` names the executors use: pid, poll, wait, returncode."""

    def __init__(self, process: BaseProcess) -> None:
        self._process = process
        self.pid: int = process.pid or 0

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(f"grading child {self.pid}", timeout or 0.0)
        return self._process.exitcode


Child = subprocess.Popen[bytes] | WarmChild


def can_fork_warm() -> bool:
    """Whether this process may start children from a fork server (multiprocessing refuses it in a
    daemonic process, such as a Dask worker that a nanny started with `distributed.worker.daemon` true,
    Dask's default; `remote.WORKER_CONFIG`)."""
    return not multiprocessing.current_process().daemon


def spawn_child(payload: dict[str, Any], log_path: Path, *, warm: bool = False) -> Child:
    """Start the grading child of `payload` in its own session, output into `log_path`: forked from the
    fork server when `warm` and this process may (`can_fork_warm`), else
    `python -m autograder.grading.child`.

    Either way the child grades in a fresh process that dies with the batch; the warm one also gets
    this process's environment and working directory as they are now."""
    if warm and can_fork_warm():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(WARM_PRELOAD))  # used when the server starts (once)
        from .child import forked

        process = context.Process(
            target=forked, args=(payload, str(log_path), dict(os.environ), os.getcwd()), daemon=False
        )
        process.start()
        return WarmChild(process)
    with open(log_path, "wb") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "autograder.grading.child", json.dumps(payload)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill_child(proc: Child) -> None:
    """Kill a child's process group (its sandboxes die with it) and remove its cgroups."""
    for kill in (os.killpg, os.kill):  # the group, and the child itself (a warm one may not lead it yet)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    with contextlib.suppress(OSError):
        cgroups.remove_owned_by(proc.pid)


def death_message(code: int | None, hung: bool) -> tuple[SubmissionStatus, str]:
    """The status and message of a child that ended without a result (exit `code`, or `hung`)."""
    if hung:
        return SubmissionStatus.TIMEOUT, "grading this submission did not finish in time and was stopped"
    how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
    return (
        SubmissionStatus.CRASHED,
        f"the grading process for this submission died ({how}); the rest of the batch is unaffected",
    )


def read_tail(path: Path, chars: int = LOG_TAIL_CHARS) -> str:
    with contextlib.suppress(OSError):
        return path.read_bytes()[-chars:].decode(errors="replace")
    return ""


def load_result(path: Path) -> SubmissionResult | None:
    """The result file at `path`, or None when it is missing or unreadable."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return SubmissionResult.load(path)
    return None


# --- local: one child process per submission on this machine --------------------------------------


class _Running:
    def __init__(self, job: Job, proc: Child, deadline: float) -> None:
        self.job, self.proc, self.deadline = job, proc, deadline
        self.started = time.monotonic()


class LocalExecutor:
    """`workers` child processes at once on this machine; each writes its result next to its log."""

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers

    def __enter__(self) -> LocalExecutor:
        with contextlib.suppress(OSError):
            if cgroups.detect_cgroups().usable:
                cgroups.remove_owned_by(None)  # groups of graders that were killed
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def run(self, jobs: Sequence[Job], plan: BatchPlan) -> Iterator[Outcome]:
        pending, running = list(jobs), []
        try:
            while pending or running:
                while pending and len(running) < self.workers:
                    running.append(self._spawn(pending.pop(0), plan))
                time.sleep(0.05)
                for task in list(running):
                    if task.proc.poll() is None and time.monotonic() < task.deadline:
                        continue
                    running.remove(task)
                    yield self._collect(task, plan)
        finally:
            for task in running:  # interrupted: stop the children (their sandboxes die with them)
                kill_child(task.proc)

    def _spawn(self, job: Job, plan: BatchPlan) -> _Running:
        payload = {
            **plan.payload,
            "parent_pid": os.getpid(),
            "submission": str(job.submission),
            "student": job.student,
            "source_sha256": job.source_sha256,
            "result": str(plan.child_result(job.student)),
            "stopped": job.stopped,
        }
        plan.child_result(job.student).unlink(missing_ok=True)
        proc = spawn_child(payload, plan.logs_dir / f"{job.student}.log", warm=plan.settings.warm_start)
        log.info("grading %s (pid %d)", job.student, proc.pid)
        return _Running(job, proc, time.monotonic() + plan.deadline_s)

    @staticmethod
    def _collect(task: _Running, plan: BatchPlan) -> Outcome:
        hung = task.proc.poll() is None
        if hung:
            kill_child(task.proc)
        else:
            with contextlib.suppress(OSError):  # its sandboxes' cgroups, if it died hard
                cgroups.remove_owned_by(task.proc.pid)
        seconds = round(time.monotonic() - task.started, 3)
        result = None if hung else load_result(plan.child_result(task.job.student))
        status, message = death_message(task.proc.returncode, hung)
        tail = "" if result else read_tail(plan.logs_dir / f"{task.job.student}.log")
        return Outcome(task.job, result, status, message, tail, seconds)


# --- choosing one -----------------------------------------------------------------------------------

_LOCAL_CLUSTER = re.compile(r"local:(\d+)")
_SCHEDULER = re.compile(r"(tcp|tls|ucx|inproc)://\S+")


@dataclass(frozen=True)
class ClusterSpec:
    """A Dask cluster to grade on: an existing scheduler's address, or a LocalCluster of `local_workers`."""

    address: str | None = None
    """`tcp://HOST:8786` (or `tls://...`) of a running `dask scheduler`."""
    local_workers: int = 0
    """Worker processes of a LocalCluster started for the batch (`local:N`), one thread each."""
    gpu: bool = False
    """Send each task with `resources={"GPU": 1}` (only workers started with `--resources GPU=1` run it)."""


def parse_cluster(text: str, *, gpu: bool = False) -> ClusterSpec:
    """`tcp://HOST:PORT` / `tls://HOST:PORT` (an existing scheduler) or `local:N` (a LocalCluster)."""
    text = text.strip()
    if match := _LOCAL_CLUSTER.fullmatch(text):
        if int(match[1]) < 1:
            raise ValueError(f"local:N needs at least one worker, got {text!r}")
        return ClusterSpec(local_workers=int(match[1]), gpu=gpu)
    if _SCHEDULER.fullmatch(text):
        return ClusterSpec(address=text, gpu=gpu)
    raise ValueError(f"cluster must be 'tcp://HOST:PORT', 'tls://HOST:PORT' or 'local:N', got {text!r}")


def make_executor(*, workers: int = 1, cluster: str | None = None, gpu: bool = False) -> Executor:
    """The local executor (`cluster=None`), else the Dask executor for `cluster` (see `parse_cluster`)."""
    if cluster is None:
        if gpu:
            raise ValueError("gpu=True needs a Dask cluster (cluster='tcp://HOST:PORT' or 'local:N')")
        return LocalExecutor(workers)
    spec = parse_cluster(cluster, gpu=gpu)
    from .remote import DaskExecutor  # imports distributed (the optional `cluster` extra)

    return DaskExecutor(spec)
