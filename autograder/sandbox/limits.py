"""Resource limits of one sandboxed worker: rlimits it applies to itself, cgroup sizes, scratch size."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from autograder.worker.protocol import DEFAULT_CAPS, Caps
from exercise_code.config import CONFIG

MIB = 2**20


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one worker process tree (every number a student can hit is named here or in CONFIG)."""

    memory_mb: int = field(default_factory=lambda: CONFIG.memory_mb)
    """The cgroup memory limit, and the address space (RLIMIT_AS) allowed on top of what importing
    torch maps (a CUDA build of torch maps ~3 GiB of address space without using it)."""
    cpu_s: int = field(default_factory=lambda: math.ceil(CONFIG.time.submission_s))
    """CPU seconds over a worker's whole life (RLIMIT_CPU); wall-clock limits are enforced outside."""
    open_files: int = 256
    """RLIMIT_NOFILE."""
    file_size_mb: int = 64
    """Largest file the worker may write (RLIMIT_FSIZE)."""
    processes: int = 64
    """Processes and threads: the cgroup `pids.max`, and RLIMIT_NPROC when no pids cgroup is writable."""
    scratch_mb: int = 256
    """Size of the tmpfs mounted at /tmp (bubblewrap only)."""
    max_message_mb: int = 256
    """Largest message either side of the worker protocol accepts (in practice: the tensor blob)."""
    max_header_kb: int = DEFAULT_CAPS.header_bytes // 1024
    """Largest JSON header of a reply (its value tree), and largest pickled part of its tensor blob;
    checked from the stated length before anything is parsed."""
    max_elements: int = DEFAULT_CAPS.elements
    """Most tensor elements in one reply, all tensors together (counted from their shapes)."""
    threads: int = 1
    """torch intra-op threads (and OMP/MKL threads) inside the worker."""

    def __post_init__(self) -> None:
        if self.memory_mb < 1024:
            raise ValueError(
                f"memory_mb must be at least 1024 (torch fails below ~1 GiB), got {self.memory_mb}"
            )
        positive = ("cpu_s", "open_files", "file_size_mb", "processes", "scratch_mb", "max_message_mb")
        for name in (*positive, "max_header_kb", "max_elements"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    def caps(self) -> Caps:
        """The caps the grader applies to every reply of the worker (see `autograder.worker.protocol`)."""
        return Caps(header_bytes=self.max_header_kb * 1024, elements=self.max_elements)

    def rlimits(self, *, pids_cgroup: bool) -> dict[str, int]:
        """The rlimits the worker sets on itself before importing torch (names as in `worker.main`);
        RLIMIT_AS is set after the import, to the mapped size plus `memory_mb`.

        RLIMIT_NPROC counts every process of the uid machine-wide, so with a pids cgroup it is only a
        loose backstop (8 x `processes`) and parallel workers cannot starve each other.
        """
        return {
            "cpu": self.cpu_s,
            "nofile": self.open_files,
            "fsize": self.file_size_mb * MIB,
            "nproc": self.processes * (8 if pids_cgroup else 1),
            "core": 0,
        }
