"""Execute an assembled notebook in the sandbox and read back its per-cell records, defensively.

The runner, nbclient and the kernel all run inside bubblewrap on a private tmpfs copy of the
submission; this trusted side only parses the JSON lines they leave in a dedicated output folder.
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
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .sandbox import plan_run
from .settings import NotebookGradingSettings

log = logging.getLogger(__name__)

RUNNER = Path(__file__).with_name("runner.py")
MAX_RESULTS_BYTES = 32 * 1024 * 1024
"""More than this in the results file is ignored (a flood from the sandbox)."""
MAX_FIELD = 20_000
_STATUSES = {"ok", "timeout", "dead"}
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


@dataclass
class NotebookRun:
    """Everything the trusted side learned from one sandboxed notebook run."""

    cells: dict[int, CellRecord] = field(default_factory=dict)
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


def parse_results(raw: bytes, code_cells: set[int]) -> tuple[dict[int, CellRecord], list[dict]]:
    """Per-cell records and other events from the runner's JSON lines; anything malformed is dropped.

    Only indices of code cells count, each once (the first record), in increasing order.
    """
    cells: dict[int, CellRecord] = {}
    events: list[dict] = []
    last = -1
    for line in raw[:MAX_RESULTS_BYTES].decode("utf-8", "replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if record.get("event") != "cell":
            if record.get("event") in ("kernel", "no_kernel", "dead_kernel", "stuck", "done", "no_copy"):
                events.append({"event": record["event"], "message": _clean_text(record.get("message"))})
            continue
        index, status = record.get("index"), record.get("status")
        if not isinstance(index, int) or index not in code_cells or index <= last or status not in _STATUSES:
            continue
        outputs = record.get("outputs") if isinstance(record.get("outputs"), list) else []
        seconds = record.get("seconds")
        reply = record.get("reply") if isinstance(record.get("reply"), dict) else {}
        cells[index] = CellRecord(
            status=status,
            seconds=float(seconds) if isinstance(seconds, int | float) and seconds >= 0 else 0.0,
            outputs=[o for o in map(_clean_output, outputs[:100]) if o is not None],
            reply={k: _clean_text(reply.get(k)) for k in ("status", "ename", "evalue")},
        )
        last = index
    return cells, events


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


def _stage(folder: Path, nb: NotebookNode) -> None:
    """runner.py and the notebook in `folder`, readable by the sandbox user."""
    os.chmod(folder, 0o755)
    shutil.copyfile(RUNNER, folder / "runner.py")
    nbformat.write(nb, folder / "grading.ipynb")
    for path in folder.iterdir():
        os.chmod(path, 0o644)


def _tail(path: Path, size: int = 4000) -> str:
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - size))
        return handle.read().decode("utf-8", "replace")


def run_notebook(
    nb: NotebookNode,
    *,
    submission: Path,
    cwd: str,
    settings: NotebookGradingSettings,
    budget_s: float | None = None,
) -> NotebookRun:
    """Execute `nb` in the sandbox, with `submission` copied to private scratch and the kernel in `cwd`.

    `cwd` is the notebook's folder relative to the submission root. `budget_s` (default
    `settings.budget_s`) bounds the whole run; cells without a record by then are reported missing.
    """
    budget = min(settings.budget_s, budget_s or settings.budget_s)
    code_cells = {i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()}
    run = NotebookRun()
    with tempfile.TemporaryDirectory(prefix="nbgrade-") as tmp:
        grader = Path(tmp) / "grader"
        grader.mkdir()
        _stage(grader, nb)
        plan = plan_run(grader, Path(submission).resolve(), settings)
        read_fd, write_fd = os.pipe()
        job = {
            "notebook": f"{plan.grader}/grading.ipynb",
            "results_fd": write_fd,
            "submission": plan.submission,
            "work": f"{plan.scratch}/work",
            "cwd": f"{plan.scratch}/work/{cwd}".rstrip("/."),
            "site": plan.site,
            "cell_timeout_s": settings.cell_timeout_s,
            "startup_timeout_s": settings.startup_timeout_s,
            "interrupt_grace_s": settings.interrupt_grace_s,
        }
        (grader / "job.json").write_text(json.dumps(job))
        os.chmod(grader / "job.json", 0o644)
        run.isolation = plan.isolation
        sink = bytearray()
        started = time.monotonic()
        log_path = Path(tmp) / "log.txt"
        try:
            with open(log_path, "wb") as log_file:
                try:
                    process = subprocess.Popen(
                        [*plan.argv, f"{plan.grader}/job.json"],
                        stdin=subprocess.DEVNULL,
                        stdout=log_file,
                        stderr=subprocess.STDOUT,
                        pass_fds=(write_fd,),
                        cwd=plan.cwd,
                        env=plan.env,
                        start_new_session=True,
                        preexec_fn=plan.preexec if plan.cgroup is not None else None,
                    )
                finally:
                    os.close(write_fd)
                reader = _drain(read_fd, sink)
                try:
                    process.wait(timeout=budget)
                except subprocess.TimeoutExpired:
                    run.budget_exhausted = True
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)  # the kernel too, if the runner left it
                if plan.cgroup is not None:
                    plan.cgroup.kill_all()
                process.wait()
                reader.join(timeout=10)
        finally:
            plan.close()
        run.seconds = time.monotonic() - started
        run.cells, run.events = parse_results(bytes(sink), code_cells)
        run.log_tail = _tail(log_path)
        if process.returncode != 0 and not run.budget_exhausted:
            log.info("notebook runner exited with %s: %s", process.returncode, run.log_tail[-500:])
    return run
