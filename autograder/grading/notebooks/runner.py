"""Runs INSIDE the sandbox: copy the submission to private scratch, execute one notebook cell by cell.

Standalone on purpose (standard library, nbformat, nbclient only): the trusted kit is not importable in
the sandbox. Usage: `python runner.py JOB.json`. The notebook and the planted checks arrive on the job
pipe, one JSON line per code cell and per check goes to the results pipe (fds the kernel does not
inherit) as soon as it ends, so a killed run keeps what it finished. The runner makes itself
non-dumpable first, so the kernel (same uid) cannot read its memory or fds through /proc.
Nothing here is trusted: the grader re-checks every line.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time

sys.modules.setdefault("rfc3987_syntax", None)  # see autograder/grading/_lean.py: 1.5 CPU-s saved

MAX_TEXT = 20_000
"""Characters kept of one output's text."""


def _text(value: object) -> str:
    text = "".join(value) if isinstance(value, list) else str(value)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "\n[... output truncated]"


def _outputs(cell) -> list[dict]:
    kept = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            kept.append(
                {"output_type": "stream", "name": out.get("name"), "text": _text(out.get("text", ""))}
            )
        elif kind == "error":
            kept.append(
                {
                    "output_type": "error",
                    "ename": _text(out.get("ename", "")),
                    "evalue": _text(out.get("evalue", "")),
                    "traceback": [_text(line) for line in out.get("traceback", [])[-20:]],
                }
            )
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            record = {"output_type": kind, "data": {"text/plain": _text(data.get("text/plain", ""))}}
            kept.append(record)
    return kept


class Log:
    """Writes one flushed JSON line per event to the results pipe."""

    def __init__(self, fd: int) -> None:
        os.set_inheritable(fd, False)  # the kernel and anything it starts do not get the channel
        self.handle = os.fdopen(fd, "w", encoding="utf-8")

    def write(self, **record: object) -> None:
        self.handle.write(json.dumps(record) + "\n")
        self.handle.flush()


async def _probe(client, grace: float) -> bool:
    """After an interrupt: does the kernel answer a trivial request within `grace` seconds?"""
    msg_id = client.kc.execute("", silent=True, store_history=False)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            reply = await client.kc.shell_channel.get_msg(timeout=max(0.1, deadline - time.monotonic()))
        except Exception:  # queue.Empty: no answer yet
            continue
        if reply.get("parent_header", {}).get("msg_id") == msg_id:
            return True
    return False


def _private() -> None:
    """PR_SET_DUMPABLE 0: /proc/<this pid>/{mem,maps,environ,fd} become unreadable to the kernel."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: nothing to hide the checks from /proc there
        pass


def _cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of process `pid` (all its threads, and the children it has reaped)."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()  # after the command name: field 3 onwards
    except (OSError, IndexError):
        return None
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime


def _kernel_pid(client) -> int | None:
    return getattr(getattr(client.km, "provisioner", None), "pid", None)


async def _execute(client, cell, slot: int, cpu_limit: float) -> tuple[bool, float | None]:
    """Execute `cell`; interrupt it once the kernel has used `cpu_limit` CPU seconds on it. Returns
    (stopped for CPU time, CPU seconds used). nbclient's own timeout is the wall-clock guard."""
    pid = _kernel_pid(client)
    start = _cpu_seconds(pid)
    task = asyncio.ensure_future(client.async_execute_cell(cell, slot))
    over = False
    while not task.done():
        await asyncio.wait({task}, timeout=0.25)
        used = _cpu_seconds(pid)
        spent = None if start is None or used is None else used - start
        if not over and not task.done() and spent is not None and spent > cpu_limit:
            over = True
            await client.km.interrupt_kernel()  # the cell ends with KeyboardInterrupt; the kernel lives on
    await task  # CellTimeoutError / DeadKernelError propagate
    end = _cpu_seconds(pid)
    return over, None if start is None or end is None else round(end - start, 3)


def _limits(cell, job: dict) -> tuple[float, float]:
    """(CPU, wall-clock) seconds `cell` may take: the job's, or its own from `metadata.autograder` (the
    grader gives the instructor's read-only setup cell more)."""
    own = cell.get("metadata", {}).get("autograder") or {}
    return float(own.get("cpu_s", job["cell_cpu_s"])), float(own.get("wall_s", job["cell_wall_s"]))


async def _step(client, cell, slot: int, replies: dict, job: dict, log: Log, **where: object) -> str:
    """Execute `cell` in the notebook's cell `slot` and log its record (`where`: which cell or check it is).
    Returns `ok`, `timeout` (the kernel recovered), `dead` or `stuck` (the run cannot go on)."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    t0 = time.monotonic()
    cpu = None
    wall_timeout = False
    try:
        over, cpu = await _execute(client, cell, slot, _limits(cell, job)[0])
        status = "timeout" if over else "ok"
    except CellTimeoutError:
        status, wall_timeout = "timeout", True
    except DeadKernelError:
        status = "dead"
    log.write(
        **where,
        status=status,
        seconds=round(time.monotonic() - t0, 3),
        cpu_s=cpu,
        wall_guard=wall_timeout,
        outputs=_outputs(cell),
        reply=replies.pop(slot, {}),
    )
    if wall_timeout:
        await client.km.interrupt_kernel()
        if not await _probe(client, job["interrupt_grace_s"]):
            log.write(event="stuck")
            return "stuck"
    return status


async def _checks(client, sources: list[str], at: int, replies: dict, job: dict, log: Log) -> bool:
    """Run the planted checks due before cell `at`, each in a scratch slot after the notebook's cells
    (nbclient stores an executed cell at its index); an ordinary execute request, like any cell's."""
    import nbformat

    for k, source in enumerate(sources):
        cell = nbformat.v4.new_code_cell(source)
        client.nb.cells.append(cell)
        try:
            slot = len(client.nb.cells) - 1
            status = await _step(client, cell, slot, replies, job, log, event="check", at=at, k=k)
        finally:
            client.nb.cells.pop()
        if status == "dead":
            log.write(event="dead_kernel")  # later tests say the kernel died
        if status in ("dead", "stuck"):
            return False
    return True


async def run(job: dict, secret: dict, log: Log) -> None:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    nb = nbformat.reads(secret["notebook"], as_version=4)
    checks = {int(at): sources for at, sources in secret.get("checks", {}).items()}
    client = NotebookClient(
        nb,
        timeout=None,  # per cell, below (nbclient's `timeout` takes whole seconds only)
        timeout_func=lambda cell: _limits(cell, job)[1],
        startup_timeout=job["startup_timeout_s"],
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=False,
        resources={"metadata": {"path": os.getcwd()}},
    )
    replies: dict[int, dict] = {}

    def on_executed(cell, cell_index, execute_reply) -> None:
        content = (execute_reply or {}).get("content", {})
        replies[cell_index] = {k: _text(content.get(k, "")) for k in ("status", "ename", "evalue")}

    client.on_cell_executed = on_executed
    started = time.monotonic()
    try:
        async with client.async_setup_kernel():
            log.write(event="kernel", seconds=round(time.monotonic() - started, 3))
            if secret.get("preamble"):  # functions that hung in the hidden suites fail at once here too
                cell = nbformat.v4.new_code_cell(secret["preamble"])
                nb.cells.append(cell)
                try:
                    await _step(client, cell, len(nb.cells) - 1, replies, job, log, event="preamble")
                finally:
                    nb.cells.pop()
            cells = list(nb.cells)
            for index, cell in enumerate(cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                if not await _checks(client, checks.get(index, []), index, replies, job, log):
                    return
                status = await _step(client, cell, index, replies, job, log, event="cell", index=index)
                if status in ("dead", "stuck"):
                    return
            await _checks(client, checks.get(len(cells), []), len(cells), replies, job, log)
    except DeadKernelError:
        log.write(event="dead_kernel")
    except RuntimeError as exc:  # kernel did not start
        log.write(event="no_kernel", message=str(exc)[:500])


def install_kernelspec(folder: str) -> None:
    """A `python3` kernelspec that starts the kernel with `-S`: no .pth hooks (an editable install of
    the trusted kit is one), site-packages come from PYTHONPATH only; and `-P`: the working folder is not
    put first on sys.path, so a submitted `ipykernel_launcher.py` cannot stand in for the kernel.
    JUPYTER_PATH points at it."""
    spec_dir = os.path.join(folder, "kernels", "python3")
    os.makedirs(spec_dir, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-S", "-P", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (sandboxed)",
        "language": "python",
    }
    with open(os.path.join(spec_dir, "kernel.json"), "w", encoding="utf-8") as handle:
        json.dump(spec, handle)
    os.environ["JUPYTER_PATH"] = folder


def main(argv: list[str]) -> int:
    _private()
    with open(argv[1], encoding="utf-8") as handle:
        job = json.load(handle)
    os.set_inheritable(int(job["job_fd"]), False)
    with os.fdopen(int(job["job_fd"]), "rb") as pipe:
        secret = json.loads(pipe.read().decode("utf-8"))
    log = Log(int(job["results_fd"]))
    try:
        shutil.copytree(job["submission"], job["work"], symlinks=True)
    except OSError as exc:
        log.write(event="no_copy", message=str(exc)[:500])
    os.makedirs(job["cwd"], exist_ok=True)
    os.chdir(job["cwd"])
    # the kernel (started with this environment) imports the student's exercise_code from the copy, after
    # site-packages: a submitted IPython/, ipykernel/ or zmq/ folder cannot replace the kernel's own
    os.environ["PYTHONPATH"] = os.pathsep.join([*job["site"], job["work"]])
    install_kernelspec(os.path.join(os.path.dirname(job["work"]), ".kernelspec"))
    asyncio.run(run(job, secret, log))
    log.write(event="done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
