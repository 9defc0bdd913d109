"""Runs INSIDE the sandbox: execute a submission's notebooks one after another, cell by cell, each in a
fresh kernel on a fresh private copy of the submission.

Standalone on purpose (standard library, nbformat, nbclient only): the trusted kit is not importable in
the sandbox. Usage: `python runner.py JOB.json`. The notebooks and the planted checks arrive on the job
pipe, one JSON line per code cell and per check goes to the results pipe (fds the kernel does not
inherit) as soon as it ends, each tagged with its notebook (`nb`), so a killed run keeps what it
finished. The runner makes itself non-dumpable first, so the kernel (same uid) cannot read its memory or
fds through /proc.

Kernels come warm from zygote.py, started before the job pipe is read (nothing secret in it to inherit):
each is a new process forked after torch and matplotlib were imported, adopted by this process (a child
subreaper) so jupyter_client can signal, poll and reap it as if it had started it. Where the zygote
cannot serve, a kernel starts cold. Between notebooks every process the last kernel left is killed
(inside bubblewrap's pid namespace: everything but this runner and the zygote) and the scratch folder is
emptied, so a notebook sees nothing an earlier one left behind. Each notebook may use a fair share of the
time left (what is left divided by the notebooks still to run): one that hangs fails its own cells only.
Nothing here is trusted: the grader re-checks every line.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time

sys.modules.setdefault("rfc3987_syntax", None)  # see autograder/grading/_lean.py: 1.5 CPU-s saved

MAX_TEXT = 20_000
"""Characters kept of one output's text."""
KEPT_MIMETYPE = "text/plain"
"""The one representation kept of a displayed object (`_outputs`). The kernel computes only this one
(`DisplayFormatter.active_types`), so a figure is never drawn to a PNG that would be thrown away (the
inline backend drew each one: 1 to 2 CPU-s of a reference submission's four notebooks)."""


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
            record = {"output_type": kind, "data": {KEPT_MIMETYPE: _text(data.get(KEPT_MIMETYPE, ""))}}
            kept.append(record)
    return kept


class Log:
    """Writes one flushed JSON line per event to the results pipe, tagged with the notebook running."""

    def __init__(self, fd: int) -> None:
        os.set_inheritable(fd, False)  # the kernel and anything it starts do not get the channel
        self.handle = os.fdopen(fd, "w", encoding="utf-8")
        self.nb: int | None = None
        self.muted = False
        """Set once a notebook is stopped at its budget: what its dying kernel reports is not recorded."""

    def write(self, **record: object) -> None:
        if self.muted:
            return
        self.handle.write(json.dumps({**record, "nb": self.nb}) + "\n")
        self.handle.flush()


class Adopted:
    """A kernel the zygote forked and this process adopted: what jupyter_client's LocalProvisioner uses of
    the subprocess.Popen it would have made."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere (a sweep): gone
                self.returncode = -signal.SIGKILL
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.01)
        return self.returncode or 0

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class Zygote:
    """zygote.py, running: forks warm kernels on request (see its docstring)."""

    REPLY_S = 10.0
    """How long a fork may take before the zygote is given up (a kernel may have stopped or killed it)."""

    def __init__(self, script: str, ready_s: float) -> None:
        requests, self._requests = os.pipe()
        self._replies, replies = os.pipe()
        for fd in (self._requests, self._replies):
            os.set_inheritable(fd, False)
        self.ready_s = ready_s
        self.ready = False
        self.process: subprocess.Popen | None = subprocess.Popen(
            [sys.executable, "-S", "-P", script, str(requests), str(replies)],
            stdin=subprocess.DEVNULL,
            pass_fds=(requests, replies),
        )
        os.close(requests)
        os.close(replies)
        self._buffer = b""

    def _line(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                return None
            chunk = os.read(self._replies, 4096)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def launch(self, argv: list[str], env: dict[str, str], cwd: str) -> Adopted | None:
        """A warm kernel started as `argv` would have been, or None (the caller starts one cold)."""
        if self.process is None or self.process.poll() is not None:
            return None
        if not self.ready and self._line(self.ready_s) != b"ready":
            self.stop()
            return None
        self.ready = True
        request = {"argv": argv, "env": env, "cwd": cwd, "parent": os.getpid()}
        try:
            os.write(self._requests, json.dumps(request).encode() + b"\n")
        except OSError:
            self.stop()
            return None
        reply = self._line(self.REPLY_S)
        if reply is None or not reply.isdigit() or int(reply) <= 0:
            self.stop()
            return None
        return Adopted(int(reply))


def _use_zygote(zygote: Zygote | None) -> None:
    """jupyter_client starts kernels through the zygote when it can, cold otherwise."""
    from jupyter_client.provisioning import local_provisioner

    cold = local_provisioner.launch_kernel

    def launch(cmd: list[str], env: dict | None = None, cwd: str | None = None, **kw: object) -> object:
        if zygote is not None and "ipykernel_launcher" in cmd:
            warm_env = dict(os.environ if env is None else env, JPY_PARENT_PID=str(os.getpid()))
            kernel = zygote.launch(list(cmd), warm_env, str(cwd or os.getcwd()))
            if kernel is not None:
                return kernel
        return cold(cmd, env=env, cwd=cwd, **kw)

    local_provisioner.launch_kernel = launch


IOPUB_QUIET_S = 0.2
"""How long IOPub may stay silent after a kernel_info reply before it counts as not yet connected (and the
request is sent again), as in jupyter_client."""
IOPUB_DROPPED = 1000
"""At most this many messages queued behind the handshake are dropped (a kernel that floods IOPub from the
start cannot hold the runner here; its cells ignore the rest anyway)."""


async def _wait_for_ready(self, timeout: float | None = None) -> None:
    """`AsyncKernelClient.wait_for_ready` without its closing wait. jupyter_client ends a kernel's start by
    reading IOPub until it has been silent for 0.2 s, so every kernel start idles for 0.2 s (0.8 s per
    submission). A kernel publishes `busy`, answers kernel_info, then publishes `idle` for that
    request: once that `idle` is in, IOPub is connected and caught up with the handshake, and what is queued
    is dropped without waiting. The first request's statuses usually go out before IOPub is subscribed; the
    kernel's `iopub_welcome` says it is now, so the request is sent again at once rather than after 0.2 s of
    silence. Anything a kernel publishes later under no request of ours is ignored anyway: nbclient keeps
    only the messages whose parent is the cell's own request."""
    from queue import Empty

    deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
    asked: set[str] = set()
    while True:
        asked.add(self.kernel_info())
        try:
            reply = await self.shell_channel.get_msg(timeout=1)
        except Empty:
            reply = None
        if reply is not None and reply["msg_type"] == "kernel_info_reply":
            while time.monotonic() < deadline:  # IOPub up to the idle of a kernel_info of ours
                try:
                    msg = await self.iopub_channel.get_msg(timeout=IOPUB_QUIET_S)
                except Empty:
                    break  # silence: not subscribed yet, ask again
                if msg.get("msg_type") == "iopub_welcome":
                    break  # subscribed now: ask again at once
                content, parent = msg.get("content", {}), msg.get("parent_header", {})
                if content.get("execution_state") == "idle" and parent.get("msg_id") in asked:
                    self._handle_kernel_info_reply(reply)
                    for _ in range(IOPUB_DROPPED):
                        if not await self.iopub_channel.msg_ready():
                            break
                        await self.iopub_channel.get_msg(timeout=0)
                    return
        if not await self._async_is_alive():
            raise RuntimeError("Kernel died before replying to kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")


def _prompt_ready() -> None:
    """Kernel clients stop waiting once the kernel's start is acknowledged (`_wait_for_ready`)."""
    from jupyter_client.asynchronous.client import AsyncKernelClient

    AsyncKernelClient.wait_for_ready = _wait_for_ready


def _sweep(keep: set[int]) -> None:
    """Kill every process in this pid namespace but `keep`, and reap those that were (or became) ours."""
    for _ in range(50):
        others = [int(n) for n in os.listdir("/proc") if n.isdigit() and int(n) not in keep]
        if not others:
            return
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue
        for pid in others:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not ours (yet): its parent reaps it, or it is ours next pass
                pass
        time.sleep(0.02)


def _wipe(folder: str) -> None:
    """Empty `folder` (the scratch): what one notebook wrote is not there for the next."""
    os.chdir(folder)
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


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


def _prctl(option: int, value: int) -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: no /proc to hide the checks from, no kernels to adopt
        pass


def _private() -> None:
    """PR_SET_DUMPABLE 0: /proc/<this pid>/{mem,maps,environ,fd} become unreadable to the kernel;
    PR_SET_CHILD_SUBREAPER 1: the kernels the zygote forks become this process's children."""
    _prctl(4, 0)
    _prctl(36, 1)


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


async def run(job: dict, secret: dict, log: Log, running: dict | None = None) -> None:
    """Execute one notebook (`secret`: its `notebook`, `checks` and `preamble`); `running["client"]` is
    its NotebookClient while it runs."""
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
        # killed once its last check is recorded: a graceful shutdown first tears torch and matplotlib down
        # in the kernel (0.8 CPU-s for a cold one; little for a forked one) and lets a student's exit hook
        # hold the notebook for seconds; what the kernel started is swept before the next notebook
        shutdown_kernel="immediate",
        resources={"metadata": {"path": os.getcwd()}},
    )
    replies: dict[int, dict] = {}

    def on_executed(cell, cell_index, execute_reply) -> None:
        content = (execute_reply or {}).get("content", {})
        replies[cell_index] = {k: _text(content.get(k, "")) for k in ("status", "ename", "evalue")}

    client.on_cell_executed = on_executed
    if running is not None:
        running["client"] = client
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
    put first on sys.path, so a submitted `ipykernel_launcher.py` cannot stand in for the kernel; and
    only KEPT_MIMETYPE among IPython's display formatters. JUPYTER_PATH points at it."""
    spec_dir = os.path.join(folder, "kernels", "python3")
    os.makedirs(spec_dir, exist_ok=True)
    spec = {
        "argv": [
            *(sys.executable, "-S", "-P", "-m", "ipykernel_launcher", "-f", "{connection_file}"),
            f"--DisplayFormatter.active_types={KEPT_MIMETYPE}",
        ],
        "display_name": "Python 3 (sandboxed)",
        "language": "python",
    }
    with open(os.path.join(spec_dir, "kernel.json"), "w", encoding="utf-8") as handle:
        json.dump(spec, handle)
    os.environ["JUPYTER_PATH"] = folder


def _prepare(job: dict, cwd: str, log: Log) -> None:
    """A fresh private copy of the submission, the kernel's working folder, environment and kernelspec."""
    try:
        shutil.copytree(job["submission"], job["work"], symlinks=True)
    except OSError as exc:
        log.write(event="no_copy", message=str(exc)[:500])
    os.makedirs(cwd, exist_ok=True)
    os.chdir(cwd)
    # the kernel (started with this environment) imports the student's exercise_code from the copy, after
    # site-packages: a submitted IPython/, ipykernel/ or zmq/ folder cannot replace the kernel's own
    os.environ["PYTHONPATH"] = os.pathsep.join([*job["site"], job["work"]])
    install_kernelspec(os.path.join(os.path.dirname(job["work"]), ".kernelspec"))
    runtime = os.environ.get("JUPYTER_RUNTIME_DIR") or os.path.join(job["scratch"], ".jupyter-runtime")
    os.makedirs(runtime, exist_ok=True)


async def run_all(job: dict, notebooks: list[dict], log: Log, keep: set[int]) -> None:
    """Run `notebooks` in order, each in its share of the time left; between two, clean up."""
    started = time.monotonic()
    for position, secret in enumerate(notebooks):
        log.nb = int(secret["nb"])
        share = (job["budget_s"] - (time.monotonic() - started)) / (len(notebooks) - position)
        if share <= 1:
            log.write(event="skipped")
            continue
        if position:
            if job.get("sweep"):
                _sweep(keep)
            _wipe(job["scratch"])
        log.write(event="notebook")
        begun = time.monotonic()
        _prepare(job, secret["cwd"], log)
        running: dict = {}
        task = asyncio.ensure_future(run(job, secret, log, running))
        done, _ = await asyncio.wait({task}, timeout=share)
        if not done:  # the cell running has no record: it was stopped by the budget, not by its kernel
            log.write(event="budget", seconds=round(share, 3))
            log.muted = True
            pid = _kernel_pid(running["client"]) if "client" in running else None
            if pid:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
            done, _ = await asyncio.wait({task}, timeout=10)
            if not done:  # what it left is swept before the next notebook
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            log.muted = False
            continue
        if task.exception() is not None:
            log.write(event="no_kernel", message=repr(task.exception())[:500])
        log.write(event="finished", seconds=round(time.monotonic() - begun, 3))


def main(argv: list[str]) -> int:
    _private()
    with open(argv[1], encoding="utf-8") as handle:
        job = json.load(handle)
    os.set_inheritable(int(job["job_fd"]), False)
    log = Log(int(job["results_fd"]))
    zygote = None
    if job.get("zygote"):  # before the job pipe is read: the zygote has nothing secret to inherit
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zygote.py")
        zygote = Zygote(script, job["startup_timeout_s"])
    with os.fdopen(int(job["job_fd"]), "rb") as pipe:
        notebooks = json.loads(pipe.read().decode("utf-8"))["notebooks"]
    _use_zygote(zygote)
    _prompt_ready()
    keep = {1, os.getpid()} | ({zygote.process.pid} if zygote and zygote.process else set())
    try:
        asyncio.run(run_all(job, notebooks, log, keep))
    finally:
        if zygote is not None:
            zygote.stop()
    log.nb = None
    log.write(event="done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
