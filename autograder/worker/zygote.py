"""Runs INSIDE the worker sandbox (bubblewrap only): a worker factory, so that a fresh worker does not pay
for importing torch again (about 1.8 CPU-seconds per start; a submission starts at least three).

`main` imports torch and the worker's modules, runs no student code, then answers the grader on a Unix
SEQPACKET socket (`ctl`), one JSON message per request:

- `{"op": "fork"}` with three file descriptors (the request pipe, the reply pipe, the log): first the
  sandbox is swept (below), then the factory forks and the child becomes a worker on those pipes; the reply
  is the child's pid (in the sandbox's pid namespace);
- `{"op": "sweep"}`: the sweep alone (the grader retires a worker);
- `{"op": "status", "pid": N}`: how that worker ended (`signal` or `code`), once it has.

The sweep makes the next worker as fresh as a new sandbox: `kill(-1, SIGKILL)` ends every process in the
pid namespace but the factory and bubblewrap's init (student processes included, whatever session or group
they made; the kernel lets no fork slip past it), repeated until `/proc` lists none, then `/tmp` (the only
writable place) is put back to what it held before any worker ran (empty, or the folders bubblewrap made
for its binds where Python lives under /tmp). What else could carry state from one worker to the next is
refused to all by the sandbox's seccomp filter (the kernel keyring, System V and POSIX message-queue IPC).
The factory is not dumpable, so a worker cannot ptrace it or write its memory; a worker that kills or
stops it only makes the grader start a new sandbox.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import signal
import socket
import stat
import time
from collections.abc import Callable

SCRATCH = "/tmp"
SWEEP_S = 10.0
"""How long a sweep may try before it reports the sandbox unclean (the grader then replaces it)."""


def _prctl(option: int, value: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _reap(ended: dict[int, int]) -> None:
    """Collect the factory's ended children (their wait statuses, for `status`)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        ended[pid] = status


def _others() -> list[int]:
    me = os.getpid()
    return [int(name) for name in os.listdir("/proc") if name.isdigit() and int(name) not in (1, me)]


def _remove(top: str) -> None:
    """Remove the folder `top` and everything in it, giving each folder back to its owner first (a worker
    may have made one unreadable); without recursion, so depth cannot exhaust the stack."""
    stack = [top]
    while stack:
        folder = stack[-1]
        os.chmod(folder, stat.S_IRWXU)
        below = []
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            if stat.S_ISDIR(os.lstat(path).st_mode):
                below.append(path)
            else:
                os.unlink(path)
        if below:
            stack.extend(below)
        else:
            os.rmdir(folder)
            stack.pop()


def _walk(top: str, visit: Callable[[str, os.stat_result, bool], bool]) -> None:
    """Call `visit(path, info, same_filesystem)` for everything under `top`, without recursion; a folder is
    entered when `visit` says so (and only on `top`'s filesystem: a mount point is never entered)."""
    device = os.lstat(top).st_dev
    stack = [top]
    while stack:
        folder = stack.pop()
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            info = os.lstat(path)
            same = info.st_dev == device
            if visit(path, info, same) and stat.S_ISDIR(info.st_mode) and same:
                stack.append(path)


def snapshot(top: str) -> dict[str, int]:
    """Every path under `top` on its filesystem -> its mode; a mount point is listed, not entered. Taken
    before any worker runs, it is what the sandbox itself put in the scratch: the folders bubblewrap made
    for the binds of a Python installed under /tmp (which cannot be removed, and hold nothing)."""
    found: dict[str, int] = {}

    def record(path: str, info: os.stat_result, _same: bool) -> bool:
        found[path] = info.st_mode
        return True

    _walk(top, record)
    return found


def wipe(top: str, baseline: dict[str, int]) -> bool:
    """Remove whatever under `top` is not in `baseline` and give its folders their modes back; True when
    the scratch is exactly `baseline` again."""

    def restore(path: str, info: os.stat_result, same: bool) -> bool:
        if path not in baseline:
            if stat.S_ISDIR(info.st_mode):
                _remove(path)
            else:
                os.unlink(path)
            return False
        if stat.S_ISDIR(info.st_mode) and same and info.st_mode != baseline[path]:
            os.chmod(path, stat.S_IMODE(baseline[path]))
        return True

    _walk(top, restore)
    return snapshot(top) == baseline


def sweep(ended: dict[int, int], baseline: dict[str, int]) -> bool:
    """Kill every other process in the sandbox and put the scratch back to `baseline`; True when both
    are done."""
    deadline = time.monotonic() + SWEEP_S
    while True:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        _reap(ended)
        if not _others():
            break
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    try:
        return wipe(SCRATCH, baseline)
    except (OSError, ValueError):  # a name too long or too deep, anything odd: a new sandbox instead
        return False


def _status(pid: int, ended: dict[int, int], wait_s: float) -> dict[str, int | bool]:
    deadline = time.monotonic() + wait_s
    while pid not in ended:
        _reap(ended)
        if pid in ended or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    status = ended.get(pid)
    if status is None:
        return {"running": True}
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"code": os.waitstatus_to_exitcode(status)}


def serve(ctl: int) -> tuple[int, int]:
    """Answer the grader until it asks for a worker; returns (request fd, reply fd) in that worker, the
    forked child. Exits the process when the grader closes the socket."""
    _prctl(4, 0)  # PR_SET_DUMPABLE 0: no ptrace and no /proc/PID/mem for the workers
    channel = socket.socket(fileno=ctl)
    gc.freeze()  # the workers' collections skip what was imported here (and leave its pages shared)
    ended: dict[int, int] = {}
    baseline = snapshot(SCRATCH)
    channel.send(json.dumps({"ready": True, "pid": os.getpid()}).encode())
    while True:
        try:
            message, fds, _flags, _address = socket.recv_fds(channel, 1 << 16, 3)
        except OSError:
            os._exit(0)
        if not message:
            os._exit(0)  # the grader is gone
        request = json.loads(message)
        op = request.get("op")
        if op == "fork" and len(fds) == 3:
            clean = sweep(ended, baseline)
            if clean:
                pid = os.fork()
                if pid == 0:
                    channel.close()
                    log = fds[2]
                    os.dup2(log, 1)
                    os.dup2(log, 2)
                    os.close(log)
                    with contextlib.suppress(OSError):  # the worker, not the factory, for the OOM killer
                        with open("/proc/self/oom_score_adj", "w") as adj:
                            adj.write("1000")
                    return fds[0], fds[1]
            for fd in fds:
                os.close(fd)
            reply = {"pid": pid, "clean": True} if clean else {"clean": False}
        elif op == "sweep":
            for fd in fds:
                os.close(fd)
            reply = {"clean": sweep(ended, baseline)}
        elif op == "status":
            for fd in fds:
                os.close(fd)
            reply = _status(int(request.get("pid", 0)), ended, min(float(request.get("wait_s", 3)), 10.0))
        else:
            for fd in fds:
                os.close(fd)
            reply = {"error": f"unknown request {str(op)[:50]!r}"}
        channel.send(json.dumps(reply).encode())
