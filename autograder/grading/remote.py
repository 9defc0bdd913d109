"""Grading on a Dask cluster: the client ships each submission as bytes, a worker grades it in a child.

A task carries the submission (a zip's bytes, or a folder zipped in memory), the trusted bundle (hidden
suites, rubric, forbidden list, hidden data: zipped once per batch), the child's job settings and the
hidden-data key. On the worker, `grade_task` writes them to a temp folder and runs the same child as a
local batch in a fresh process: forked from the worker's own fork server when the worker is not daemonic
(`local:N` starts them so; `DASK_DISTRIBUTED__WORKER__DAEMON=False` for workers you start), else
`python -m autograder.grading.child`. Student code runs only in the sandbox on the worker's host and
pytest starts fresh each time; the task returns the result to the client, which stores it. A task
whose worker dies is re-run by Dask elsewhere, up to the scheduler's
`distributed.scheduler.allowed-failures`; after that `KilledWorker` makes the submission `crashed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import logging
import os
import socket
import stat
import subprocess
import tempfile
import time
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.errors import GradingError
from autograder.intake.manifest import JUNK
from autograder.sandbox import IsolationChoice, cgroups, detect_isolation

from .executors import BatchPlan, ClusterSpec, Outcome, death_message, kill_child, read_tail, spawn_child
from .results import SubmissionResult, SubmissionStatus
from .secret import read_key, write_key

if TYPE_CHECKING:
    from .batch import Job

log = logging.getLogger(__name__)
ALLOWED_FAILURES = 2
"""Worker deaths a task may be part of before it is given up (`allowed-failures` of a `local:N` cluster)."""
LOG_CHARS = 100_000
"""Characters of a child's log a task sends back (written to `OUT/logs/<student>.log`)."""


# --- client side ------------------------------------------------------------------------------------


def zip_bytes(path: Path, *, max_bytes: int) -> bytes:
    """A zip's bytes as they are, or a folder zipped in memory (regular files only, junk left out, as
    intake's folder copy keeps them). GradingError when it is larger than `max_bytes`."""
    path = Path(path)
    if path.is_file():
        if path.stat().st_size > max_bytes:
            raise GradingError(f"{path.name} is over the intake cap of {max_bytes / 2**20:g} MB")
        return path.read_bytes()
    buffer, total = io.BytesIO(), 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in JUNK)
            for name in sorted(filenames):
                file = Path(dirpath, name)
                info = file.lstat()
                if name in JUNK or not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
                    continue
                total += info.st_size
                if total > max_bytes:
                    raise GradingError(f"{path.name} is over the intake cap of {max_bytes / 2**20:g} MB")
                archive.write(file, file.relative_to(path).as_posix())
    return buffer.getvalue()


def trusted_bundle(payload: dict[str, Any]) -> bytes:
    """The hidden suites, source notebooks, rubric, forbidden list and hidden data of `payload`, zipped."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, key in (("suites", "suites"), ("data", "hidden_data"), ("notebooks", "notebooks")):
            root = Path(payload[key]) if payload.get(key) else None
            for file in sorted(root.rglob("*")) if root and root.is_dir() else []:
                if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                    archive.write(file, f"{name}/{file.relative_to(root).as_posix()}")
        for name in ("rubric", "forbidden"):
            if payload.get(name):
                archive.write(payload[name], f"{name}.toml")
        if payload.get("sources"):
            archive.write(payload["sources"], "sources.json")
    return buffer.getvalue()


WORKER_CONFIG = {"distributed.worker.daemon": False}
"""Dask config under which nannies start their workers as ordinary (not daemonic) processes. A daemonic
process may not start `multiprocessing` children, so its grading children would start cold: 5.5 against
2.1 CPU-s each for the trusted grading process (bench/grading.py, 12-05). A worker still ends with its
nanny (distributed watches the nanny's pipe in every worker it starts)."""


def local_cluster(n_workers: int, *, gpu: bool = False, **kwargs: Any) -> Any:
    """A `distributed.LocalCluster` of `n_workers` processes with one thread each (one grading at a time),
    tasks given up after `ALLOWED_FAILURES` worker deaths; `gpu`: each worker has a `GPU` resource. Its
    workers start not daemonic (`WORKER_CONFIG`); one that a nanny restarts later is so only while
    `WORKER_CONFIG` is still set, as `DaskExecutor` keeps it while it runs."""
    import dask
    import distributed

    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES, **WORKER_CONFIG}):
        return distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: several batches (or tests) may run at once
            resources={"GPU": 1} if gpu else None,
            **kwargs,
        )


class DaskExecutor:
    """Grades on the Dask cluster of `spec`; keeps at most one task per worker thread in flight."""

    def __init__(self, spec: ClusterSpec) -> None:
        self.spec = spec
        self.client: Any = None
        self._cluster: Any = None
        self._config: Any = None
        self._warned = False

    def __enter__(self) -> DaskExecutor:
        try:
            import distributed
        except ImportError as exc:
            raise GradingError(
                f"grading on a cluster needs the `cluster` extra (pip install -e '.[cluster]'): {exc}"
            ) from None
        try:
            if self.spec.address is None:
                import dask

                self._config = dask.config.set(WORKER_CONFIG)  # workers restarted after a death too
                self._cluster = local_cluster(self.spec.local_workers, gpu=self.spec.gpu)
                self.client = distributed.Client(self._cluster)
            else:
                self.client = distributed.Client(self.spec.address)
        except (OSError, TimeoutError) as exc:
            self.__exit__()
            raise GradingError(f"cannot reach the Dask scheduler at {self.spec.address}: {exc}") from None
        log.info("grading on the Dask cluster at %s", self.client.scheduler.address)
        return self

    def __exit__(self, *exc: object) -> None:
        for thing in (self.client, self._cluster):
            if thing is not None:
                with contextlib.suppress(Exception):
                    thing.close()
        if self._config is not None:
            self._config.__exit__(None, None, None)
        self.client = self._cluster = self._config = None

    def _slots(self) -> int:
        """Worker threads that can take a task now (GPU slots with `--gpu`); at least 1."""
        info = self.client.scheduler_info
        every = {"n_workers": -1} if "n_workers" in inspect.signature(info).parameters else {}  # else: all
        workers = info(**every)["workers"].values()
        if not self.spec.gpu:
            return max(1, sum(w["nthreads"] for w in workers))
        slots = sum(min(w["nthreads"], int(w.get("resources", {}).get("GPU", 0))) for w in workers)
        if not slots and not self._warned:
            log.warning("no worker has a GPU resource yet; tasks wait for one (worker --resources GPU=1)")
            self._warned = True
        return max(1, slots)

    def run(self, jobs: Sequence[Job], plan: BatchPlan) -> Iterator[Outcome]:
        from distributed import KilledWorker, as_completed

        bundle = trusted_bundle(plan.payload)
        key = read_key(Path(plan.payload["key_file"])) if plan.payload.get("key_file") else None
        common = {k: v for k, v in plan.payload.items() if k != "key_file"}  # the key travels as a value
        max_bytes = int(plan.settings.intake.max_total_mb * 2**20)
        pending, futures, started = list(jobs), {}, {}
        done = as_completed()
        try:
            while pending or futures:
                while pending and len(futures) < self._slots():
                    job = pending.pop(0)
                    try:
                        data = zip_bytes(job.submission, max_bytes=max_bytes)
                    except (OSError, GradingError) as exc:
                        yield self._refused(job, exc)
                        continue
                    task = {
                        "job": common,
                        "deadline_s": plan.deadline_s,
                        "key": key,
                        "zip": data,
                        "student": job.student,
                        "source": str(job.submission),
                        "source_sha256": job.source_sha256,
                        "stopped": job.stopped,
                    }
                    future = self.client.submit(
                        grade_task,
                        task,
                        bundle,
                        key=f"grade-{job.student}-{uuid.uuid4().hex[:8]}",
                        resources={"GPU": 1} if self.spec.gpu else None,
                        pure=False,
                    )
                    futures[future], started[future] = job, time.monotonic()
                    done.add(future)
                if not futures:
                    continue
                future = next(done)
                job = futures.pop(future)
                seconds = round(time.monotonic() - started.pop(future), 3)
                try:
                    reply = future.result()
                except KilledWorker as exc:
                    yield Outcome(
                        job,
                        message=(
                            f"grading this submission killed its Dask worker {exc.allowed_failures + 1} "
                            "times (the cluster's allowed-failures), so it was not tried again; "
                            "the rest of the batch is unaffected"
                        ),
                        seconds=seconds,
                    )
                    continue
                except (CancelledError, asyncio.CancelledError):
                    raise GradingError(
                        f"the Dask cluster lost the task of {job.student}; re-run to resume"
                    ) from None
                except Exception as exc:
                    message = f"the Dask task failed on the cluster: {type(exc).__name__}: {exc}"
                    yield Outcome(job, status=SubmissionStatus.ERROR, message=message, store=False)
                    continue
                yield self._outcome(job, reply, plan, seconds)
        finally:
            if futures:  # interrupted: running children finish or time out on their workers
                with contextlib.suppress(Exception):
                    self.client.cancel(list(futures))

    @staticmethod
    def _refused(job: Job, exc: Exception) -> Outcome:
        """A submission that is not sent to the cluster (unreadable, or over the intake size cap)."""
        return Outcome(job, status=SubmissionStatus.REJECTED, message=f"submission rejected: {exc}")

    @staticmethod
    def _outcome(job: Job, reply: dict[str, Any], plan: BatchPlan, seconds: float) -> Outcome:
        (plan.logs_dir / f"{job.student}.log").write_text(reply["log"], errors="replace")
        if reply.get("manifest"):
            work = plan.results_dir.parent / "work" / job.student
            work.mkdir(parents=True, exist_ok=True)
            (work / "manifest.json").write_text(reply["manifest"])
        result = SubmissionResult.from_dict(reply["result"]) if reply.get("result") else None
        status, message = death_message(reply.get("code"), reply.get("hung", False))
        message = f"{message} (Dask worker on {reply.get('host', '?')})"
        tail = "" if result else reply["log"][-3000:]
        return Outcome(job, result, status, message, tail, seconds)


# --- worker side ------------------------------------------------------------------------------------


def grade_task(task: dict[str, Any], bundle: bytes) -> dict[str, Any]:
    """Run on a Dask worker: grade `task` (see `DaskExecutor.run`) in a child process; never raises for
    the submission. Returns {"result": the child's result dict or None, "code", "hung", "log", "manifest",
    "host"}. Raises SandboxUnavailable when `--isolation bubblewrap` cannot run on this worker: a fault of
    the worker, not the submission, so the client does not store it and a re-run grades it again."""
    if task["job"]["settings"]["isolation"] == str(IsolationChoice.BUBBLEWRAP):
        detect_isolation(IsolationChoice.BUBBLEWRAP)  # probed once per worker process
    with tempfile.TemporaryDirectory(prefix="autograder-task-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o700)
        with zipfile.ZipFile(io.BytesIO(bundle)) as archive:  # trusted: zipped by the batch's client
            archive.extractall(root / "trusted")
        trusted = root / "trusted"
        submission = root / f"{task['student']}.zip"
        submission.write_bytes(task["zip"])
        payload = {
            **task["job"],
            "out": str(root / "out"),
            "suites": str(trusted / "suites"),
            "notebooks": str(trusted / "notebooks"),
            "submission": str(submission),
            "student": task["student"],
            "source_sha256": task["source_sha256"],
            "stopped": task.get("stopped", {}),
            "result": str(root / "result.json"),
            "parent_pid": os.getpid(),
        }
        shipped = {
            "rubric": "rubric.toml",
            "forbidden": "forbidden.toml",
            "hidden_data": "data",
            "sources": "sources.json",
        }
        payload |= {name: str(trusted / rel) for name, rel in shipped.items() if payload.get(name)}
        if task.get("key") is not None:
            payload["key_file"] = str(write_key(root / "hidden-key", task["key"]))
        log_path = root / "child.log"
        proc = spawn_child(payload, log_path, warm=bool(task["job"]["settings"].get("warm_start", True)))
        try:
            proc.wait(timeout=task["deadline_s"])
            hung = False
        except subprocess.TimeoutExpired:
            hung = True
        finally:  # stop a hung child (or one whose worker thread is interrupted) and its sandboxes
            if proc.poll() is None:
                kill_child(proc)
            with contextlib.suppress(OSError):
                cgroups.remove_owned_by(proc.pid)
        result = None
        if not hung and (root / "result.json").is_file():
            result = SubmissionResult.load(root / "result.json").to_dict()
            result["source"], result["source_sha256"] = task["source"], task["source_sha256"]
        manifest = root / "out" / "work" / task["student"] / "manifest.json"
        return {
            "result": result,
            "code": proc.returncode,
            "hung": hung,
            "log": read_tail(log_path, LOG_CHARS),
            "manifest": manifest.read_text() if manifest.is_file() else None,
            "host": socket.gethostname(),
        }
