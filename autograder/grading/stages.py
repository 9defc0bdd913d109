"""Wall and CPU time of each grading stage (intake, suites, examples, notebooks), kept in
`SubmissionResult.stages` as `{"at": epoch seconds, "wall_s", "cpu_s"}`.

CPU is this process's and that of the children it has reaped (sandboxed workers, kernels): a lower
bound, as processes a sandbox kills are not counted; `bench/grading.py` samples the whole process tree.
"""

from __future__ import annotations

import contextlib
import resource
import time
from collections.abc import Iterator


def cpu_seconds() -> float:
    """CPU time of this process and every child it has waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@contextlib.contextmanager
def stage(stages: dict[str, dict[str, float]], name: str) -> Iterator[None]:
    """Time the block into `stages[name]`."""
    at, wall, cpu = time.time(), time.monotonic(), cpu_seconds()
    try:
        yield
    finally:
        stages[name] = {
            "at": round(at, 3),
            "wall_s": round(time.monotonic() - wall, 3),
            "cpu_s": round(cpu_seconds() - cpu, 3),
        }
