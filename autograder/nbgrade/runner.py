"""Runs INSIDE the sandbox: copy the submission to private scratch, execute one notebook cell by cell.

Standalone on purpose (standard library, nbformat, nbclient only): the trusted kit is not importable in
the sandbox. Usage: `python runner.py JOB.json`. One JSON line per code cell goes to the results pipe
(an fd the kernel does not inherit) as soon as the cell ends, so a killed run keeps what it finished.
Nothing here is trusted: the grader re-checks every line.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time

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


async def run(job: dict, log: Log) -> None:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = nbformat.read(job["notebook"], as_version=4)
    client = NotebookClient(
        nb,
        timeout=job["cell_timeout_s"],
        startup_timeout=job["startup_timeout_s"],
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=False,
        resources={"metadata": {"path": os.getcwd()}},
    )
    replies: dict[int, dict] = {}

    def on_executed(cell, cell_index, execute_reply) -> None:  # noqa: ANN001 - nbclient hook
        content = (execute_reply or {}).get("content", {})
        replies[cell_index] = {k: _text(content.get(k, "")) for k in ("status", "ename", "evalue")}

    client.on_cell_executed = on_executed
    started = time.monotonic()
    try:
        async with client.async_setup_kernel():
            log.write(event="kernel", seconds=round(time.monotonic() - started, 3))
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                t0 = time.monotonic()
                try:
                    await client.async_execute_cell(cell, index)
                    status = "ok"
                except CellTimeoutError:
                    status = "timeout"
                except DeadKernelError:
                    status = "dead"
                log.write(
                    event="cell",
                    index=index,
                    status=status,
                    seconds=round(time.monotonic() - t0, 3),
                    outputs=_outputs(cell),
                    reply=replies.pop(index, {}),
                )
                if status == "dead":
                    return
                if status == "timeout":
                    await client.km.interrupt_kernel()
                    if not await _probe(client, job["interrupt_grace_s"]):
                        log.write(event="stuck", index=index)
                        return
    except DeadKernelError:
        log.write(event="dead_kernel")
    except RuntimeError as exc:  # kernel did not start
        log.write(event="no_kernel", message=str(exc)[:500])


def install_kernelspec(folder: str) -> None:
    """A `python3` kernelspec that starts the kernel with `-S`: no .pth hooks (an editable install of
    the trusted kit is one), site-packages come from PYTHONPATH only. JUPYTER_PATH points at it."""
    spec_dir = os.path.join(folder, "kernels", "python3")
    os.makedirs(spec_dir, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-S", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (sandboxed)",
        "language": "python",
    }
    with open(os.path.join(spec_dir, "kernel.json"), "w", encoding="utf-8") as handle:
        json.dump(spec, handle)
    os.environ["JUPYTER_PATH"] = folder


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as handle:
        job = json.load(handle)
    log = Log(int(job["results_fd"]))
    try:
        shutil.copytree(job["submission"], job["work"], symlinks=True)
    except OSError as exc:
        log.write(event="no_copy", message=str(exc)[:500])
    os.makedirs(job["cwd"], exist_ok=True)
    os.chdir(job["cwd"])
    # the kernel (started with this environment) imports the student's exercise_code from the copy
    os.environ["PYTHONPATH"] = os.pathsep.join([job["work"], *job["site"]])
    install_kernelspec(os.path.join(os.path.dirname(job["work"]), ".kernelspec"))
    asyncio.run(run(job, log))
    log.write(event="done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
