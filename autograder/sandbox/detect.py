"""Which isolation this machine gives: bubblewrap (tried for real, not just found) or a plain process.

`detect_isolation()` runs the actual sandbox command once with a trivial Python program; anything that
fails makes the grader fall back to a separate process with rlimits, and the reason goes in every report.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path

from autograder.errors import SandboxUnavailable

from . import seccomp
from .bwrap import SANDBOX_UID, SETPRIV, WORKER_PARENT, BwrapPlan, bwrap_command
from .cgroups import CgroupSupport, detect_cgroups
from .pyenv import WORKER_SOURCE, python_env


class IsolationKind(StrEnum):
    BUBBLEWRAP = "bubblewrap"
    PROCESS = "process"


class IsolationChoice(StrEnum):
    AUTO = "auto"
    """bubblewrap when it works here, else a process with rlimits."""
    BUBBLEWRAP = "bubblewrap"
    """bubblewrap or fail (SandboxUnavailable)."""
    PROCESS = "process"
    """A separate process with rlimits only (weaker; for machines without bubblewrap)."""


@dataclass(frozen=True)
class Isolation:
    """The isolation in force, and why; `summary()` goes in every report."""

    kind: IsolationKind
    reason: str
    mode: str = ""
    """bubblewrap mode: 'privileged' (root + setpriv) or 'userns'; empty for a process."""
    bwrap: str | None = None
    bwrap_version: str = ""
    run_as_uid: int | None = None
    """uid the worker runs as on the host (None: the grader's own uid)."""
    cgroups: CgroupSupport = field(default_factory=detect_cgroups)

    @property
    def limits_note(self) -> str:
        if self.cgroups.usable:
            return f"cgroup {self.cgroups.version} memory+pids limits and rlimits"
        return f"rlimits only ({self.cgroups.reason})"

    def summary(self) -> str:
        if self.kind is IsolationKind.BUBBLEWRAP:
            missing = seccomp.problem()
            keyring = "no keyring" if missing is None else f"keyring NOT filtered: {missing}"
            detail = f"{self.mode}, uid {SANDBOX_UID}, no network, {keyring}"
            return f"bubblewrap {self.bwrap_version} ({detail}); {self.limits_note}"
        who = f"uid {self.run_as_uid}" if self.run_as_uid is not None else f"the grader's uid {os.geteuid()}"
        return (
            f"NOT SANDBOXED: separate process as {who} with {self.limits_note}; "
            f"student code can read files the grader can read ({self.reason})"
        )


def bwrap_version(path: str) -> str:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    return out.stdout.strip().removeprefix("bubblewrap ").strip() or "unknown"


def _mode() -> tuple[str, str | None]:
    """('privileged' | 'userns', problem or None)."""
    if os.geteuid() != 0:
        return "userns", None
    if not Path(SETPRIV).exists():
        return "userns", f"{SETPRIV} missing, so root cannot drop to uid {SANDBOX_UID} in privileged mode"
    return "privileged", None


def try_bubblewrap(bwrap: str, mode: str, timeout: float = 60.0, *, filtered: bool = True) -> str | None:
    """Run the real sandbox command with a probe program; None if it worked, else why not.

    The probe imports the worker package from its mount, sees torch in site-packages and runs as 65534,
    under the seccomp filter where there is one (`filtered`).
    """
    env = python_env()
    seccomp_fd = seccomp.filter_fd() if filtered else None
    filters = () if seccomp_fd is None else (seccomp_fd,)
    with tempfile.TemporaryDirectory(prefix="autograder-probe-") as tmp:
        os.chmod(tmp, 0o755)
        plan = BwrapPlan(bwrap, mode, env, tmp, str(WORKER_SOURCE), scratch_mb=16, seccomp_fd=seccomp_fd)
        probe = (
            f"import os, sys; sys.path.insert(0, {WORKER_PARENT!r}); import agworker; "
            f"assert agworker.__file__.startswith({WORKER_PARENT!r}); "
            f"assert any(os.path.exists(os.path.join(p, 'torch', '__init__.py')) "
            f"for p in {[str(p) for p in env.site_packages]!r}); assert os.getuid() == {SANDBOX_UID}"
        )
        argv = [str(env.executable), "-I", "-S", "-B", "-c", probe]
        try:
            out = subprocess.run(
                bwrap_command(plan, argv), capture_output=True, text=True, timeout=timeout, pass_fds=filters
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"running bwrap failed: {exc}"
        finally:
            for fd in filters:
                os.close(fd)
    if out.returncode != 0:
        detail = (out.stderr.strip().splitlines() or [f"exit code {out.returncode}"])[-1]
        return f"bwrap trial run failed: {detail}"
    return None


def _others_can_run(paths: list[Path]) -> bool:
    """True when uid 65534 could traverse to and read every path (mode bits of each ancestor)."""
    for path in paths:
        for part in [path, *path.parents]:
            try:
                mode = part.stat().st_mode
            except OSError:
                return False
            if not mode & stat.S_IXOTH if stat.S_ISDIR(mode) else not mode & stat.S_IROTH:
                return False
    return True


def _process_isolation(reason: str) -> Isolation:
    env = python_env()
    drop = (
        os.geteuid() == 0 and Path(SETPRIV).exists() and _others_can_run([env.executable, *env.site_packages])
    )
    if os.geteuid() == 0 and not drop:
        reason += f"; the worker runs as root because uid {SANDBOX_UID} cannot reach {env.prefix}"
    return Isolation(IsolationKind.PROCESS, reason, run_as_uid=SANDBOX_UID if drop else None)


@cache
def detect_isolation(choice: IsolationChoice = IsolationChoice.AUTO) -> Isolation:
    """The isolation the grader will use for `choice` (probed once per process)."""
    choice = IsolationChoice(choice)
    if choice is IsolationChoice.PROCESS:
        return _process_isolation("process isolation was requested")
    bwrap = shutil.which("bwrap")
    problem = None if bwrap else "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    mode = ""
    if bwrap:
        mode, problem = _mode()
        problem = problem or try_bubblewrap(bwrap, mode)
        if problem and seccomp.program() is not None and try_bubblewrap(bwrap, mode, filtered=False) is None:
            seccomp.refused(f"bubblewrap refused the seccomp filter: {problem}")
            problem = None
    if problem is None and bwrap:
        return Isolation(
            IsolationKind.BUBBLEWRAP,
            "bubblewrap trial run succeeded",
            mode,
            bwrap,
            bwrap_version(bwrap),
            SANDBOX_UID,
        )
    if choice is IsolationChoice.BUBBLEWRAP:
        raise SandboxUnavailable(f"bubblewrap was required but cannot be used: {problem}")
    return _process_isolation(problem or "bubblewrap unusable")
