"""Worker entry point: apply limits, import torch, install the guard, answer requests until EOF.

Started as `python -I -S -B -c BOOTSTRAP CONFIG_JSON`; CONFIG_JSON holds the protocol fds, the
submission root, site-packages paths, rlimits and forbidden names (see `autograder.sandbox.launch`).
With `ctl_fd` instead of the protocol fds, the process is a worker factory (`zygote`) and each worker it
forks goes on from the import of torch with the fds it was handed.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
from typing import Any

BOOTSTRAP = "import sys; sys.path.insert(0, {parent!r}); from {package}.main import main; main(sys.argv[1])"
"""Source of the `-c` argument: `parent` is the folder holding the worker package named `package`."""

_RLIMITS = {
    "as": resource.RLIMIT_AS,
    "cpu": resource.RLIMIT_CPU,
    "nofile": resource.RLIMIT_NOFILE,
    "fsize": resource.RLIMIT_FSIZE,
    "nproc": resource.RLIMIT_NPROC,
    "core": resource.RLIMIT_CORE,
}


def _apply_rlimits(limits: dict[str, int]) -> None:
    for name, value in limits.items():
        soft, hard = resource.getrlimit(_RLIMITS[name])
        new = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(_RLIMITS[name], (new, new))


def _address_space() -> int:
    """Current virtual memory size of this process in bytes (VmSize)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _die_with_parent(parent_pid: int) -> None:
    """Ask the kernel for SIGKILL when the grader dies (process mode; bwrap does this itself)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:
        os._exit(70)


def main(config_json: str) -> None:
    """Run the request loop; exit code 0 on a clean EOF."""
    config: dict[str, Any] = json.loads(config_json)
    if config.get("parent_pid"):
        _die_with_parent(int(config["parent_pid"]))
    os.umask(0o077)
    _apply_rlimits({k: int(v) for k, v in config.get("rlimits", {}).items()})
    sys.path.extend(config.get("site", []))

    import torch  # before RLIMIT_AS: a CUDA build of torch maps ~3 GiB of address space at import

    torch.set_num_threads(int(config.get("threads", 1)))
    if "ctl_fd" in config:  # a worker factory: from here on, this is a worker forked by it
        from . import guard, ops, protocol, zygote  # noqa: F401 - imported once, for every worker

        os.set_inheritable(int(config["ctl_fd"]), False)
        in_fd, out_fd = zygote.serve(int(config["ctl_fd"]))
    else:
        in_fd, out_fd = int(config["in_fd"]), int(config["out_fd"])
    for fd in (in_fd, out_fd):
        os.set_inheritable(fd, False)  # student subprocesses do not get the channel
    if config.get("as_extra"):  # the student's allowance comes on top of what torch mapped
        _apply_rlimits({"as": _address_space() + int(config["as_extra"])})

    from .guard import Guard
    from .ops import Worker
    from .protocol import ChannelClosed, ProtocolError, encode, receive, send, write_frame

    forbidden: dict[str, list[str]] = config.get("forbidden", {})
    guard = Guard(name for names in forbidden.values() for name in names)
    sys.path.append(config["root"])  # the student's exercise_code, after stdlib and site-packages
    worker = Worker(config["root"], guard, forbidden)
    max_bytes = int(config.get("max_bytes", 256 * 2**20))
    send(out_fd, {"ok": True, "ready": True, "pid": os.getpid(), "unresolved": guard.unresolved})
    while True:
        try:
            request, tensors = receive(in_fd, max_bytes)
        except ChannelClosed:
            break
        except ProtocolError as exc:
            send(out_fd, {"ok": False, "kind": "protocol", "message": str(exc)})
            continue
        if request.get("op") == "shutdown":
            break
        reply, out = worker.handle(request, tensors)
        reply["id"] = request.get("id")
        try:
            payload = encode(reply, out)
        except Exception as exc:
            payload = encode(
                {
                    "ok": False,
                    "kind": "error",
                    "type": type(exc).__name__,
                    "id": reply["id"],
                    "message": f"the result could not be serialised: {exc}"[:2000],
                }
            )
        if len(payload) > max_bytes:
            payload = encode(
                {
                    "ok": False,
                    "kind": "error",
                    "type": "ValueError",
                    "id": reply["id"],
                    "message": f"the result is {len(payload)} bytes; the cap is {max_bytes}",
                }
            )
        write_frame(out_fd, payload)
    os._exit(0)  # skip interpreter teardown: student atexit hooks and threads do not run
