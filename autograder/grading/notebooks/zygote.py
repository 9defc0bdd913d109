"""Runs INSIDE the sandbox: a warm kernel factory, so a submission's notebooks do not each pay for
importing torch, matplotlib and ipykernel (about 2.5 CPU-seconds per kernel on the CI machine).

Standalone on purpose (standard library only, plus what it warms up). Usage, by runner.py:
`python -S -P zygote.py REQUESTS_FD REPLIES_FD`, started before the runner reads any notebook or check, so
nothing secret is in this process to inherit. It imports WARM, says `ready`, then for each request line
(`{"argv", "env", "cwd", "parent"}`: what jupyter_client would have started) forks twice: the grandchild,
adopted by the runner (a child subreaper), becomes a fresh `ipykernel` process with the notebook's
environment, working folder and the submission on sys.path; the reply is its pid. The student's package is
never imported here: each kernel imports it from its own copy of the submission, as a cold kernel would.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import select
import sys
import time

WARM = (
    "ipykernel.kernelapp",
    "IPython.display",
    "numpy",
    "torch",
    "torch.nn.functional",
    "torch.utils.data",
    "matplotlib.pyplot",
    "matplotlib_inline.backend_inline",
    "tqdm.auto",
    "ipywidgets",
    "torch.utils._sympy.functions",
    "torch.distributed.tensor",
    "torch._dynamo",
)
"""What the notebooks' setup cells import, besides the student's package, then what torch imports the
first time a notebook calls `F.max_unpool2d` (sympy), `torch.testing.assert_close` and an optimizer's
`step` (dynamo): 0.2 to 0.7 CPU-s each, in every kernel that calls them, paid once here instead."""
ADOPTION_S = 5.0
"""How long a new kernel waits to be adopted by the runner before it starts anyway."""


def _prctl(option: int, value: int) -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux
        pass


def _kernel(request: dict, tell: int) -> None:
    """In the grandchild: become the kernel jupyter_client asked for (`ipykernel_launcher -f FILE`)."""
    os.setsid()  # its own process group (before its pid is told: jupyter_client signals the group)
    os.write(tell, str(os.getpid()).encode())
    os.close(tell)
    parent = int(request["parent"])
    deadline = time.monotonic() + ADOPTION_S
    while os.getppid() != parent and time.monotonic() < deadline:  # ipykernel watches its parent's pid
        time.sleep(0.001)
    _prctl(4, 1)  # PR_SET_DUMPABLE 1: an ordinary process again, like a kernel started cold
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    known = set(sys.path)  # PYTHONPATH's folders that the zygote did not have: the submission's copy
    sys.path.extend(p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p and p not in known)
    importlib.invalidate_caches()
    argv = request["argv"]
    sys.argv = ["ipykernel_launcher", *argv[argv.index("ipykernel_launcher") + 1 :]]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


def main(argv: list[str]) -> int:
    _prctl(4, 0)  # PR_SET_DUMPABLE 0: a notebook's kernel cannot ptrace the factory of the next ones
    requests, replies = int(argv[1]), int(argv[2])
    for name in WARM:
        with contextlib.suppress(Exception):  # a missing extra only means a colder kernel
            importlib.import_module(name)
    gc.freeze()  # kernels' collections skip what was imported here (and leave its pages shared)
    os.write(replies, b"ready\n")
    pending = b""
    while True:
        select.select([requests], [], [])
        chunk = os.read(requests, 1 << 16)
        if not chunk:
            return 0
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            read_pid, write_pid = os.pipe()
            child = os.fork()
            if child == 0:  # the intermediate: fork the kernel and exit, so that the runner adopts it
                os.close(read_pid)
                if os.fork() == 0:
                    os.close(requests)
                    os.close(replies)
                    code = 0
                    try:
                        _kernel(request, write_pid)
                    except SystemExit as exc:
                        code = exc.code if isinstance(exc.code, int) else 1
                    except BaseException:
                        import traceback

                        traceback.print_exc()
                        code = 1
                    with contextlib.suppress(Exception):
                        sys.stdout.flush()
                        sys.stderr.flush()
                    os._exit(code)
                os._exit(0)
            os.close(write_pid)
            os.waitpid(child, 0)  # the kernel is the runner's child from here on
            with os.fdopen(read_pid, "rb") as handle:
                pid = handle.read(32)  # written by the kernel once it leads its own session
            os.write(replies, (pid.decode() or "0").encode() + b"\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
