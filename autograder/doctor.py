"""`autograder doctor`: which isolation grading will use here, and why (bwrap, userns, cgroups, rlimits)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.sandbox import (
    CappedLog,
    IsolationChoice,
    IsolationKind,
    SandboxLimits,
    WorkerProcess,
    detect_cgroups,
    detect_isolation,
)
from autograder.sandbox.bwrap import SETPRIV
from autograder.sandbox.detect import bwrap_version, try_bubblewrap
from autograder.sandbox.pyenv import python_env
from autograder.worker import protocol

_SYSCTLS = (
    "/proc/sys/user/max_user_namespaces",
    "/proc/sys/kernel/unprivileged_userns_clone",
    "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
)


@dataclass
class DoctorReport:
    """Findings as (label, value) rows; `sandboxed` is False when grading would fall back."""

    rows: list[tuple[str, str]] = field(default_factory=list)
    sandboxed: bool = False

    def add(self, label: str, value: object) -> None:
        self.rows.append((label, str(value)))

    def lines(self) -> list[str]:
        width = max((len(label) for label, _ in self.rows), default=0)
        return [f"{label:<{width}}  {value}" for label, value in self.rows]


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return "absent"


def diagnose(choice: IsolationChoice = IsolationChoice.AUTO, *, start_worker: bool = True) -> DoctorReport:
    """Probe this machine; with `start_worker`, also start a real worker (imports torch in the sandbox)."""
    report = DoctorReport()
    isolation = detect_isolation(choice)
    report.sandboxed = isolation.kind is IsolationKind.BUBBLEWRAP
    report.add("isolation", isolation.summary())
    report.add("why", isolation.reason)
    bwrap = shutil.which("bwrap")
    report.add("bwrap", f"{bwrap} (version {bwrap_version(bwrap)})" if bwrap else "not installed")
    report.add(
        "running as", f"uid {os.geteuid()}" + (" (root: privileged mode)" if os.geteuid() == 0 else "")
    )
    report.add("setpriv", SETPRIV if Path(SETPRIV).exists() else "missing")
    for path in _SYSCTLS:
        report.add(Path(path).name, _read(path))
    if bwrap:
        for mode in ("privileged", "userns") if os.geteuid() == 0 else ("userns",):
            problem = try_bubblewrap(bwrap, mode)
            report.add(f"bwrap trial ({mode})", "works" if problem is None else problem)
    cg = detect_cgroups()
    report.add("cgroups", f"{cg.version or 'not usable'}: {cg.reason}")
    if cg.usable:
        report.add("cgroup parents", f"memory {cg.memory_parent}, pids {cg.pids_parent}")
    limits = SandboxLimits()
    rlimits = limits.rlimits(pids_cgroup=cg.usable)
    report.add("rlimits", ", ".join(f"{k}={v}" for k, v in rlimits.items()))
    report.add("address space", f"torch's mapping + {limits.memory_mb} MiB (RLIMIT_AS, set after import)")
    env = python_env()
    report.add("python", f"{env.executable} (prefix {env.prefix})")
    report.add("site-packages", ", ".join(map(str, env.site_packages)))
    report.add("masked in sandbox", ", ".join(p.name for p in env.masked) or "nothing")
    if start_worker:
        report.add("worker start", _worker_start(isolation, limits))
    return report


def _worker_start(isolation, limits: SandboxLimits) -> str:
    with tempfile.TemporaryDirectory(prefix="autograder-doctor-") as tmp:
        os.chmod(tmp, 0o755)
        start = time.monotonic()
        worker = None
        logs = CappedLog()
        try:
            worker = WorkerProcess(isolation, Path(tmp), limits, {}, logs)
            reply, _ = worker.request({"op": "ping", "id": 1, "payload": None}, [], time.monotonic() + 30)
            seconds = time.monotonic() - start
            info = protocol.unpack(reply.get("value"), [])
            return f"ok in {seconds:.1f} s (torch {info.get('torch', '?')} imported inside)"
        except Exception as exc:
            return f"FAILED: {type(exc).__name__}: {exc} {logs.text(500)}".strip()
        finally:
            if worker is not None:
                worker.close()
