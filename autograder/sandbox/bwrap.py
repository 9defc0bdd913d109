"""The bubblewrap command line: no network, uid 65534, no capabilities or keyring, read-only binds, tmpfs.

Two modes. `privileged` (the grader runs as root): bwrap mounts as root without a user namespace and
`setpriv` drops to the real uid/gid 65534 with an empty bounding set and no_new_privs, so the worker is
a genuinely unprivileged host uid. `userns` (a normal user): an unprivileged user namespace with
`--uid 65534` (which maps to the grader's own uid outside) and further namespaces disabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from .pyenv import WORKER_PACKAGE, PythonEnv

SANDBOX_UID = 65534
SUBMISSION_DIR = "/submission"
WORKER_PARENT = "/opt/autograder"
"""The worker package is mounted at WORKER_PARENT/agworker."""
SETPRIV = "/usr/bin/setpriv"


@dataclass(frozen=True)
class BwrapPlan:
    """What to mount: host paths (read-only) and sizes."""

    bwrap: str
    mode: str
    """'privileged' or 'userns'."""
    env: PythonEnv
    submission: str
    """Host folder mounted read-only at /submission."""
    worker_source: str
    """Host folder of the worker package, mounted read-only at WORKER_PARENT/agworker."""
    scratch_mb: int
    threads: int = 1
    hide: tuple[str, ...] = ()
    """Folders under the bound site-packages that appear empty inside (an empty tmpfs over each)."""
    seccomp_fd: int | None = None
    """A file descriptor holding the seccomp program (`seccomp.filter_fd`), passed to bwrap with the
    command; None: no filter."""


def _mkdirs(paths: list[str]) -> list[str]:
    """`--perms 0755 --dir` for every ancestor of `paths` (bwrap would create them 0700)."""
    args: list[str] = []
    made: set[str] = {"/", "/tmp", "/usr", "/dev", "/proc"}
    for path in paths:
        for parent in reversed(PurePosixPath(path).parents):
            p = str(parent)
            if p not in made:
                made.add(p)
                args += ["--perms", "0755", "--dir", p]
    return args


def bwrap_command(plan: BwrapPlan, argv: list[str]) -> list[str]:
    """The full command: bwrap options, then (privileged mode) setpriv, then `argv`."""
    env = plan.env
    worker_dest = f"{WORKER_PARENT}/{WORKER_PACKAGE}"
    binds = [str(env.prefix), *map(str, env.site_packages), SUBMISSION_DIR, worker_dest]
    if not env.executable.is_relative_to(env.prefix):
        binds.append(str(env.executable))
    cmd = [plan.bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    cmd += ["--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    if plan.seccomp_fd is not None:
        cmd += ["--seccomp", str(plan.seccomp_fd)]
    if plan.mode == "userns":
        cmd += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--disable-userns"]
        cmd += ["--cap-drop", "ALL"]
    else:  # privileged: keep only what setpriv needs to drop to 65534, everything else goes
        cmd += ["--cap-drop", "ALL"]
        cmd += [arg for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP") for arg in ("--cap-add", cap)]
    cmd += ["--perms", "1777", "--size", str(plan.scratch_mb * 2**20), "--tmpfs", "/tmp"]
    cmd += ["--ro-bind", "/usr", "/usr"]
    cmd += [
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--symlink",
        "usr/bin",
        "/bin",
    ]
    cmd += ["--dev", "/dev", "--proc", "/proc"]
    cmd += _mkdirs(binds)
    cmd += ["--ro-bind", str(env.prefix), str(env.prefix)]
    if not env.executable.is_relative_to(env.prefix):
        cmd += ["--ro-bind", str(env.executable), str(env.executable)]
    for site in env.site_packages:
        cmd += ["--ro-bind", str(site), str(site)]
    for masked in env.masked:
        cmd += ["--ro-bind", "/dev/null", str(masked)]
    for folder in plan.hide:
        cmd += ["--tmpfs", folder]
    cmd += ["--ro-bind", plan.submission, SUBMISSION_DIR]
    cmd += ["--ro-bind", plan.worker_source, worker_dest]
    cmd += ["--remount-ro", "/", "--chdir", "/tmp", "--clearenv"]
    for key, value in sandbox_environment(plan.threads, "/tmp").items():
        cmd += ["--setenv", key, value]
    if plan.mode == "privileged":
        uid = str(SANDBOX_UID)
        cmd += [SETPRIV, "--reuid", uid, "--regid", uid, "--clear-groups"]
        cmd += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return [*cmd, *argv]


def sandbox_environment(threads: int, home: str) -> dict[str, str]:
    """The only environment variables student code sees."""
    n = str(threads)
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "CUDA_VISIBLE_DEVICES": "",
        "MPLBACKEND": "Agg",
    }
