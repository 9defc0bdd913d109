"""Settings of notebook grading: per-cell timeout, whole-notebook budget, limits of the sandboxed kernel."""

from __future__ import annotations

from dataclasses import dataclass

from exercise_code.config import CONFIG


@dataclass(frozen=True)
class NotebookGradingSettings:
    """How one submitted notebook is executed and scored."""

    cell_timeout_s: float = CONFIG.time.notebook_cell_s
    """CPU seconds the kernel may use on one cell; then it is interrupted and the cell scores 0
    (`timeout`). CPU time, so a loaded machine slows a cell down but does not fail it."""
    wall_factor: float = CONFIG.time.wall_factor
    """A cell is also interrupted after `cell_timeout_s * wall_factor` wall-clock seconds (a cell that
    waits or sleeps uses no CPU): the guard, not the verdict."""
    readonly_timeout_s: float = CONFIG.time.notebook_cell_s
    """Limit of the instructor's read-only cells (the setup cell) in place of `cell_timeout_s` when larger:
    their first imports start torch and the student's package in a fresh kernel, which a loaded machine or
    a cold disk cache slows far beyond any later cell; one interrupted halfway leaves its names undefined."""
    budget_s: float = CONFIG.time.submission_s
    """Wall-clock limit of the whole notebook run (kernel start included); later cells get `timeout`."""
    startup_timeout_s: float = 60.0
    """How long the kernel may take to start."""
    interrupt_grace_s: float = 10.0
    """After a timed-out cell, how long the kernel has to answer again before the rest is abandoned."""
    memory_mb: int = CONFIG.memory_mb
    """Memory of the runner and kernel together (cgroup limit, where cgroups are writable)."""
    address_space_mb: int = 8192
    """RLIMIT_AS of each process: virtual memory, not RAM (a CUDA build of torch maps ~3.3 GiB at import)."""
    processes: int = 256
    """Processes and threads (cgroup `pids.max`; RLIMIT_NPROC when no pids cgroup is writable)."""
    scratch_mb: int = 512
    """Size of the private tmpfs holding the copy of the submission and everything the notebook writes."""
    file_size_mb: int = 256
    """Largest file the notebook may write (RLIMIT_FSIZE)."""
    max_notebook_mb: float = 20.0
    """Submitted notebooks larger than this are not read."""
    max_message_chars: int = 300
    """Longest error or stderr text quoted in a test's message."""
    warm_kernels: bool = True
    """Fork each kernel from a process that imported torch and matplotlib once per submission (zygote.py)
    instead of starting every kernel cold; each is still a fresh process on a fresh copy."""
    require_sandbox: bool = False
    """Raise SandboxUnavailable when bubblewrap cannot be used, instead of falling back to a process."""

    def __post_init__(self) -> None:
        positive = ("cell_timeout_s", "readonly_timeout_s", "wall_factor", "budget_s", "startup_timeout_s")
        for name in (*positive, "interrupt_grace_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.memory_mb < 1024:
            raise ValueError(f"memory_mb must be at least 1024 (torch needs ~1 GiB), got {self.memory_mb}")
        for name in ("address_space_mb", "processes", "scratch_mb", "file_size_mb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
