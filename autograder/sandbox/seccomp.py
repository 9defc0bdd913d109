"""The sandbox's seccomp filter (bubblewrap `--seccomp FD`): calls that could carry state past a process
fail with EPERM.

- The kernel keyring (`add_key`, `keyctl`, `request_key`): keys are in no namespace bubblewrap unshares.
  In privileged mode every sandbox runs as host uid 65534, and all of them share that uid's user keyring
  (about 20 KB of keys by default), so a worker could leave a key for the next to read: an encoder
  stashing the hidden digits it saw for the fresh decoder that should see the codes alone, or one
  student's code leaving data for another's.
- System V IPC objects and POSIX message queues (`shmget`, `semget`, `msgget`, `mq_open`): they outlive
  the process that made them, within the sandbox's IPC namespace, which the workers a factory forks one
  after another share (`autograder.worker.zygote`).

Nothing the kit runs uses them; every other call is allowed (the rest of the sandbox is namespaces, uid
65534, no capabilities and `no_new_privs`). The program is built with libseccomp (through `pyseccomp`),
which writes the architecture checks; where libseccomp is missing, `problem()` says so and the sandbox
runs without the filter (the isolation summary in every report says which).
"""

from __future__ import annotations

import errno
import os
import tempfile
from functools import cache

KEYRING_CALLS = ("add_key", "keyctl", "request_key")
IPC_CALLS = ("shmget", "semget", "msgget", "mq_open")
REFUSED = KEYRING_CALLS + IPC_CALLS
"""Refused with EPERM inside the sandbox."""


@cache
def _build() -> tuple[bytes | None, str | None]:
    try:
        import pyseccomp
    except (ImportError, OSError, RuntimeError) as exc:  # RuntimeError: pyseccomp found no libseccomp
        return None, f"libseccomp is not available ({exc}); apt-get install libseccomp2"
    try:
        rules = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
        for name in REFUSED:
            rules.add_rule(pyseccomp.ERRNO(errno.EPERM), name)
        with tempfile.TemporaryFile() as out:
            rules.export_bpf(out)
            out.seek(0)
            return out.read(), None
    except (OSError, ValueError) as exc:
        return None, f"the seccomp filter could not be built ({exc})"


_refused: str | None = None
"""Set by `refused`: why bubblewrap could not use the filter here."""


def program() -> bytes | None:
    """The compiled BPF program (None where there is none: see `problem`)."""
    return None if _refused else _build()[0]


def problem() -> str | None:
    """Why there is no filter, or None when there is one."""
    return _refused or _build()[1]


def refused(reason: str) -> None:
    """Bubblewrap ran here only without the filter (`reason`): sandbox without it from now on, and say so
    (a sandbox without the filter beats none at all)."""
    global _refused
    _refused = reason


def filter_fd() -> int | None:
    """A fresh file descriptor holding the program, for one bubblewrap start (the caller closes it after
    starting bwrap, which reads it to the end); None where there is no filter."""
    bpf = program()
    if bpf is None:
        return None
    fd = os.memfd_create("autograder-seccomp", os.MFD_CLOEXEC)
    try:
        os.write(fd, bpf)
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd
