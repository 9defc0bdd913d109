"""Per-worker cgroups (v1 or v2) for memory and process-count limits, where this process may write them.

Detection creates and removes a probe group; when it fails the sandbox falls back to rlimits and says so.
Groups are named `autograder-<owner pid>-<n>` so a batch can remove those of a grader that was killed.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
PREFIX = "autograder-"
_counter = itertools.count(1)


@dataclass(frozen=True)
class CgroupSupport:
    """Which cgroup interface is writable here, and where new groups go."""

    version: str | None
    """'v1', 'v2' or None (not writable: rlimits only)."""
    memory_parent: Path | None
    pids_parent: Path | None
    reason: str
    """Why this version was chosen, or why none is usable."""

    @property
    def usable(self) -> bool:
        return self.version is not None


def _own_paths() -> dict[str, str]:
    """Controller -> this process's cgroup path, from /proc/self/cgroup ('' key for v2)."""
    paths = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
    return paths


def _probe(parents: list[Path], files: dict[str, str]) -> str | None:
    """Create a probe group under each parent and write `files`; None on success, else the error."""
    made = []
    try:
        for parent in parents:
            probe = parent / f"{PREFIX}probe-{os.getpid()}"
            probe.mkdir(exist_ok=True)
            made.append(probe)
            for name, value in files.items():
                if (probe / name).exists():
                    (probe / name).write_text(value)
        return None
    except OSError as exc:
        return f"{exc.strerror or exc} ({exc.filename})"
    finally:
        for probe in made:
            with contextlib.suppress(OSError):
                probe.rmdir()


@cache
def detect_cgroups() -> CgroupSupport:
    """The writable cgroup interface, probed once per process."""
    own = _own_paths()
    v1_memory, v1_pids = CGROUP_ROOT / "memory", CGROUP_ROOT / "pids"
    if (v1_memory / "memory.limit_in_bytes").exists() and (v1_pids / "cgroup.procs").exists():
        parents = [v1_memory / own.get("memory", "/").lstrip("/"), v1_pids / own.get("pids", "/").lstrip("/")]
        error = _probe(parents, {"memory.limit_in_bytes": str(2**30), "pids.max": "64"})
        if error is None:
            return CgroupSupport(
                "v1", parents[0], parents[1], "cgroup v1 memory and pids controllers writable"
            )
        v1_error = f"cgroup v1 not writable: {error}"
    else:
        v1_error = "no cgroup v1 memory+pids hierarchy"
    if (CGROUP_ROOT / "cgroup.controllers").exists() and "" in own:
        parent = CGROUP_ROOT / own[""].lstrip("/")
        enabled = (parent / "cgroup.subtree_control").read_text().split() if parent.exists() else []
        if {"memory", "pids"} <= set(enabled):
            error = _probe([parent], {"memory.max": str(2**30), "pids.max": "64"})
            if error is None:
                return CgroupSupport("v2", parent, parent, "cgroup v2 memory and pids delegated")
            return CgroupSupport(None, None, None, f"{v1_error}; cgroup v2 not writable: {error}")
        return CgroupSupport(None, None, None, f"{v1_error}; cgroup v2 memory/pids not delegated to {parent}")
    return CgroupSupport(None, None, None, v1_error)


class WorkerCgroup:
    """The memory + pids group(s) of one worker; `procs_files` are what the launcher writes its pid to."""

    def __init__(self, support: CgroupSupport, memory_bytes: int, max_pids: int) -> None:
        if not support.usable:
            raise ValueError(f"cgroups are not usable here: {support.reason}")
        self.support = support
        name = f"{PREFIX}{os.getpid()}-{next(_counter)}"
        assert support.memory_parent is not None and support.pids_parent is not None
        self.dirs = list(dict.fromkeys([support.memory_parent / name, support.pids_parent / name]))
        for path in self.dirs:
            path.mkdir()
        if support.version == "v1":
            (self.dirs[0] / "memory.limit_in_bytes").write_text(str(memory_bytes))
            with contextlib.suppress(OSError):  # absent without swap accounting
                (self.dirs[0] / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
            (self.dirs[-1] / "pids.max").write_text(str(max_pids))
        else:
            (self.dirs[0] / "memory.max").write_text(str(memory_bytes))
            with contextlib.suppress(OSError):
                (self.dirs[0] / "memory.swap.max").write_text("0")
            (self.dirs[0] / "pids.max").write_text(str(max_pids))

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def oom_kills(self) -> int:
        """How many processes the kernel OOM-killed in this group so far."""
        memory = self.dirs[0]
        name = "memory.oom_control" if self.support.version == "v1" else "memory.events"
        with contextlib.suppress(OSError, ValueError):
            for line in (memory / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def oom_killed(self) -> bool:
        """True when the kernel OOM-killed something in this group."""
        return self.oom_kills() > 0

    def kill_all(self) -> None:
        kill_group_dirs(self.dirs)

    def remove(self) -> None:
        self.kill_all()
        remove_dirs(self.dirs)


def _pids(path: Path) -> list[int]:
    with contextlib.suppress(OSError, ValueError):
        return [int(p) for p in (path / "cgroup.procs").read_text().split()]
    return []


def kill_group_dirs(dirs: list[Path]) -> None:
    """SIGKILL every process in the groups, repeating while new ones appear (a fork loop)."""
    for _ in range(50):
        pids = {pid for d in dirs for pid in _pids(d)}
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


def remove_dirs(dirs: list[Path]) -> None:
    for path in dirs:
        for _ in range(100):
            try:
                path.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:  # still busy: processes are being reaped
                kill_group_dirs([path])
                time.sleep(0.02)
        else:
            log.warning("could not remove cgroup %s", path)


def remove_owned_by(owner_pid: int | None = None) -> int:
    """Remove the groups of grader `owner_pid` (default: every grader that is no longer running)."""
    support = detect_cgroups()
    removed = 0
    for parent in {p for p in (support.memory_parent, support.pids_parent) if p is not None}:
        for path in parent.glob(f"{PREFIX}*-*"):
            owner = path.name[len(PREFIX) :].split("-")[0]
            if not owner.isdigit() or path.name.startswith(f"{PREFIX}probe"):
                continue
            if owner_pid is not None and int(owner) != owner_pid:
                continue
            if owner_pid is None and Path(f"/proc/{owner}").exists():
                continue
            kill_group_dirs([path])
            remove_dirs([path])
            removed += 1
    return removed


_ATTACH = 'while [ "$1" != "--" ]; do echo $$ > "$1" || exit 97; shift; done; shift; exec "$@"'
"""Shell prologue: put this process into the cgroups named before `--`, then exec the rest."""


def in_cgroup(cgroup: WorkerCgroup | None, cmd: list[str]) -> list[str]:
    """`cmd` started inside `cgroup` (the one hook for every sandboxed process: the grading worker and
    the notebook runner), so everything it starts is limited too; `cmd` itself when there is none."""
    if cgroup is None:
        return cmd
    return ["/bin/sh", "-c", _ATTACH, "autograder-attach", *cgroup.procs_files, "--", *cmd]
