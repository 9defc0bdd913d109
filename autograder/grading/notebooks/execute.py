"""Execute a submission's assembled notebooks in one sandbox and read back their per-cell records,
defensively.

The runner, nbclient and the kernels all run inside bubblewrap on private tmpfs copies of the
submission; this trusted side only parses the JSON lines they send back through a pipe. The notebooks and
the planted checks go to the runner through another pipe, so no kernel finds them in a file. One sandbox
serves all of a submission's notebooks, each with a fresh kernel and scratch (runner.py), so torch is
imported once per submission, not once per notebook; a runner that dies (a kernel can kill it) is started
again for the notebooks it had not begun.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.sandbox.notebook import plan_run
from autograder.worker import hung

from .settings import NotebookGradingSettings

log = logging.getLogger(__name__)

RUNNER = Path(__file__).with_name("runner.py")
ZYGOTE = Path(__file__).with_name("zygote.py")
MAX_RESULTS_BYTES = 32 * 1024 * 1024
"""More than this in the results file is ignored (a flood from the sandbox)."""
MAX_FIELD = 20_000
BACKSTOP_S = 5.0
"""The runner keeps each notebook to its share of the budget; it is killed this long after the budget."""
_STATUSES = {"ok", "timeout", "dead"}
_EVENTS = {"kernel", "no_kernel", "dead_kernel", "stuck", "no_copy", "notebook", "budget", "finished"}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class CellRecord:
    """What the sandbox reported for one code cell."""

    status: str
    """`ok` (ran; errors are in the outputs), `timeout` or `dead` (the kernel died in it)."""
    seconds: float
    outputs: list[dict]
    reply: dict[str, str] = field(default_factory=dict)
    """The kernel's execute reply: `status` (ok / error / aborted), `ename`, `evalue`. An error here
    counts even when no error output was shown (a student can silence the traceback display)."""
    wall_guard: bool = False
    """A `timeout` from the wall-clock guard (the cell waited), not from its CPU time."""
    cpu_s: float = 0.0
    """CPU seconds the kernel used on the cell (as the runner read them from /proc)."""


@dataclass
class NotebookRun:
    """Everything the trusted side learned from one sandboxed notebook run."""

    cells: dict[int, CellRecord] = field(default_factory=dict)
    checks: dict[tuple[int, int], CellRecord] = field(default_factory=dict)
    """(position, k) -> the k-th planted check run before cell `position` (see `checks.py`)."""
    events: list[dict] = field(default_factory=list)
    budget_exhausted: bool = False
    seconds: float = 0.0
    isolation: str = ""
    log_tail: str = ""

    def event(self, name: str) -> dict | None:
        return next((e for e in self.events if e.get("event") == name), None)


def _clean_text(value: object) -> str:
    text = value if isinstance(value, str) else ""
    return _ANSI.sub("", text[:MAX_FIELD])


def _clean_output(out: object) -> dict | None:
    if not isinstance(out, dict):
        return None
    kind = out.get("output_type")
    if kind == "stream" and out.get("name") in ("stdout", "stderr"):
        return {"output_type": "stream", "name": out["name"], "text": _clean_text(out.get("text"))}
    if kind == "error":
        traceback = out.get("traceback") if isinstance(out.get("traceback"), list) else []
        return {
            "output_type": "error",
            "ename": _clean_text(out.get("ename")),
            "evalue": _clean_text(out.get("evalue")),
            "traceback": [_clean_text(line) for line in traceback[-20:]],
        }
    if kind in ("execute_result", "display_data"):
        data = out.get("data") if isinstance(out.get("data"), dict) else {}
        return {"output_type": kind, "data": {"text/plain": _clean_text(data.get("text/plain"))}}
    return None


def _record(record: dict) -> CellRecord:
    outputs = record.get("outputs") if isinstance(record.get("outputs"), list) else []
    seconds, cpu = record.get("seconds"), record.get("cpu_s")
    reply = record.get("reply") if isinstance(record.get("reply"), dict) else {}
    return CellRecord(
        status=record["status"],
        seconds=float(seconds) if isinstance(seconds, int | float) and seconds >= 0 else 0.0,
        outputs=[o for o in map(_clean_output, outputs[:100]) if o is not None],
        reply={k: _clean_text(reply.get(k)) for k in ("status", "ename", "evalue")},
        wall_guard=record.get("wall_guard") is True,
        cpu_s=float(cpu) if isinstance(cpu, int | float) and 0 <= cpu < 1e6 else 0.0,
    )


def _records(raw: bytes) -> Iterator[dict]:
    """Each JSON object line of the runner's output (at most MAX_RESULTS_BYTES)."""
    for line in raw[:MAX_RESULTS_BYTES].splitlines():
        try:
            record = json.loads(line)
        except ValueError:  # not JSON, or not UTF-8
            continue
        if isinstance(record, dict):
            yield record


def parse_results(
    raw: bytes, code_cells: set[int], check_slots: frozenset[tuple[int, int]] = frozenset()
) -> tuple[dict[int, CellRecord], list[dict], dict[tuple[int, int], CellRecord]]:
    """Per-cell records, other events and planted-check records from the runner's JSON lines; anything
    malformed is dropped.

    Only indices of code cells and planted `(position, k)` slots count, each once (the first record), in
    the order they run: the checks at `position` before the cell `position`.
    """
    return _parse(_records(raw), code_cells, check_slots)


def _parse(
    records: Iterable[dict], code_cells: set[int], check_slots: frozenset[tuple[int, int]]
) -> tuple[dict[int, CellRecord], list[dict], dict[tuple[int, int], CellRecord]]:
    """`parse_results` on records already read."""
    cells: dict[int, CellRecord] = {}
    checks: dict[tuple[int, int], CellRecord] = {}
    events: list[dict] = []
    last = (-1, 0, 0)
    for record in records:
        event = record.get("event")
        if event not in ("cell", "check"):
            if event in _EVENTS:
                seconds = record.get("seconds")
                if not (isinstance(seconds, int | float) and 0 <= seconds < 1e6):
                    seconds = None
                message = _clean_text(record.get("message"))
                events.append({"event": event, "message": message, "seconds": seconds})
            continue
        if record.get("status") not in _STATUSES:
            continue
        if event == "cell":
            index = record.get("index")
            if type(index) is int and index in code_cells and (index, 1, 0) > last:
                cells[index], last = _record(record), (index, 1, 0)
            continue
        slot = (record.get("at"), record.get("k"))
        if all(type(n) is int for n in slot) and slot in check_slots and (slot[0], 0, slot[1]) > last:
            checks[slot], last = _record(record), (slot[0], 0, slot[1])
    return cells, events, checks


def _drain(fd: int, sink: bytearray) -> threading.Thread:
    """Read `fd` into `sink` until EOF, keeping at most MAX_RESULTS_BYTES."""

    def run() -> None:
        with os.fdopen(fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(1 << 16):
                if len(sink) < MAX_RESULTS_BYTES:
                    sink.extend(chunk[: MAX_RESULTS_BYTES - len(sink)])

    thread = threading.Thread(target=run, name="nbgrade-results", daemon=True)
    thread.start()
    return thread


def _send(fd: int, data: bytes) -> threading.Thread:
    """Write `data` to `fd` and close it (a thread: the runner reads it while starting)."""

    def run() -> None:
        with contextlib.suppress(OSError), os.fdopen(fd, "wb") as pipe:
            pipe.write(data)

    thread = threading.Thread(target=run, name="nbgrade-job", daemon=True)
    thread.start()
    return thread


def _stage(folder: Path) -> None:
    """runner.py and zygote.py in `folder`, readable by the sandbox user."""
    os.chmod(folder, 0o755)
    for script in (RUNNER, ZYGOTE):
        shutil.copyfile(script, folder / script.name)
        os.chmod(folder / script.name, 0o644)


def _tail(path: Path, size: int = 4000) -> str:
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - size))
        return handle.read().decode("utf-8", "replace")


@dataclass
class NotebookJob:
    """One notebook to run: the assembled notebook, its folder relative to the submission root, and the
    planted cells to run before given cells (`len(notebook.cells)`: at the end; see `checks.py`)."""

    notebook: NotebookNode
    cwd: str = ""
    checks: dict[int, list[str]] = field(default_factory=dict)

    def code_cells(self) -> set[int]:
        return {i for i, c in enumerate(self.notebook.cells) if c.cell_type == "code" and c.source.strip()}

    def slots(self) -> frozenset[tuple[int, int]]:
        return frozenset((at, k) for at, sources in self.checks.items() for k in range(len(sources)))


def _by_notebook(raw: bytes, count: int) -> tuple[dict[int, list[dict]], bool]:
    """The runner's records grouped by their `nb` tag (other records dropped), and whether it said `done`."""
    grouped: dict[int, list[dict]] = {}
    done = False
    for record in _records(raw):
        nb = record.get("nb")
        if type(nb) is int and 0 <= nb < count:
            grouped.setdefault(nb, []).append(record)
        elif nb is None and record.get("event") == "done":
            done = True
    return grouped, done


def _launch(
    jobs: dict[int, NotebookJob],
    submission: Path,
    settings: NotebookGradingSettings,
    budget: float,
    preamble: str,
) -> tuple[bytes, bool, str, str]:
    """One sandboxed runner over `jobs` (index -> job), `budget` seconds at most. Returns what it wrote
    to the results pipe, whether it was stopped at the budget, the isolation summary and its log's tail."""
    with tempfile.TemporaryDirectory(prefix="nbgrade-") as tmp:
        grader = Path(tmp) / "grader"
        grader.mkdir()
        _stage(grader)
        plan = plan_run(grader, Path(submission).resolve(), settings)
        work = f"{plan.scratch}/work"
        notebooks = [
            {
                "nb": nb,
                "cwd": f"{work}/{job.cwd}".rstrip("/."),
                "notebook": nbformat.writes(job.notebook),
                "checks": {str(k): v for k, v in job.checks.items()},
                "preamble": preamble,
            }
            for nb, job in jobs.items()
        ]
        secret = json.dumps({"notebooks": notebooks})
        read_fd, write_fd = os.pipe()
        job_read, job_write = os.pipe()
        job = {
            "job_fd": job_read,
            "results_fd": write_fd,
            "submission": plan.submission,
            "scratch": plan.scratch,
            "work": work,
            "site": plan.site,
            "sweep": plan.pid_namespace,
            "zygote": settings.warm_kernels,
            "budget_s": budget,
            "cell_cpu_s": settings.cell_timeout_s,
            "cell_wall_s": settings.cell_timeout_s * settings.wall_factor,
            "startup_timeout_s": settings.startup_timeout_s,
            "interrupt_grace_s": settings.interrupt_grace_s,
        }
        (grader / "job.json").write_text(json.dumps(job))
        os.chmod(grader / "job.json", 0o644)
        sink = bytearray()
        exhausted = False
        log_path = Path(tmp) / "log.txt"
        try:
            with open(log_path, "wb") as log_file:
                try:
                    process = subprocess.Popen(
                        [*plan.argv, f"{plan.grader}/job.json"],
                        stdin=subprocess.DEVNULL,
                        stdout=log_file,
                        stderr=subprocess.STDOUT,
                        pass_fds=(write_fd, job_read, *plan.pass_fds),
                        cwd=plan.cwd,
                        env=plan.env,
                        start_new_session=True,
                    )
                except BaseException:
                    os.close(job_write)
                    raise
                finally:
                    os.close(write_fd)
                    os.close(job_read)
                sender = _send(job_write, secret.encode())
                reader = _drain(read_fd, sink)
                try:  # the runner keeps each notebook to its share; this is the backstop
                    process.wait(timeout=budget + BACKSTOP_S)
                except subprocess.TimeoutExpired:
                    exhausted = True
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)  # the kernel too, if the runner left it
                if plan.cgroup is not None:
                    plan.cgroup.kill_all()
                process.wait()
                reader.join(timeout=10)
                sender.join(timeout=10)
        finally:
            plan.close()
        if process.returncode != 0 and not exhausted:
            log.info("notebook runner exited with %s: %s", process.returncode, _tail(log_path)[-500:])
        return bytes(sink), exhausted, plan.isolation, _tail(log_path)


def run_notebooks(
    jobs: list[NotebookJob],
    *,
    submission: Path,
    settings: NotebookGradingSettings,
    budget_s: float | None = None,
    stopped: dict[str, str] | None = None,
) -> list[NotebookRun | None]:
    """Execute `jobs` in order in one sandbox, with `submission` copied afresh to private scratch for each
    and its kernel in the job's `cwd` (relative to the submission root).

    `budget_s` (default `settings.budget_s`) bounds the whole run; each notebook may use what is left
    divided by the notebooks still to run. `stopped` (`module:qualname` -> message): student functions
    stubbed out in every kernel first. One run per job, None for a job never started because the budget
    was used up before it; a job the runner never reached for another reason gets a run without records.
    """
    budget = min(settings.budget_s, budget_s or settings.budget_s)
    deadline = time.monotonic() + budget
    preamble = hung.preamble(stopped) if stopped else ""
    runs: list[NotebookRun | None] = [None] * len(jobs)
    pending = dict(enumerate(jobs))
    exhausted, done, isolation, tail = False, False, "", ""
    while pending and deadline - time.monotonic() > 1:
        started = time.monotonic()
        sent = dict(pending)
        raw, exhausted, isolation, tail = _launch(sent, submission, settings, deadline - started, preamble)
        seconds = time.monotonic() - started
        grouped, done = _by_notebook(raw, len(jobs))
        begun = False
        for nb, job in sent.items():
            if nb not in grouped:
                continue
            run = NotebookRun(isolation=isolation, log_tail=tail)
            run.cells, run.events, run.checks = _parse(grouped[nb], job.code_cells(), job.slots())
            if not run.event("notebook"):  # skipped: the time left was too short to start it
                continue
            begun = True
            del pending[nb]
            finished = run.event("finished")
            run.budget_exhausted = bool(run.event("budget")) or (exhausted and not finished)
            run.seconds = _seconds(run, seconds)
            runs[nb] = run
        if done or exhausted or not begun:
            break
    if pending and not (exhausted or done) and deadline - time.monotonic() > 1:  # the runner failed first
        for nb in pending:
            runs[nb] = NotebookRun(isolation=isolation, log_tail=tail)
    return runs


def _seconds(run: NotebookRun, whole: float) -> float:
    """How long the notebook ran, as the runner said (its share when the budget stopped it)."""
    for name in ("budget", "finished"):
        event = run.event(name)
        if event and event["seconds"] is not None:
            return float(event["seconds"])
    return whole
