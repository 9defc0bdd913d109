"""`make demo`: the main job, end to end on the embedded data, as a list of steps.

Now: release the kit to build/release, then run the public checks on the reference and on the
released skeleton and print both summaries.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from autograder.cli import repo_root

BUILD = repo_root() / "build"


def _checks_in(path: Path | None) -> str:
    """Run the public checks in a fresh interpreter with `path` (a release) first on sys.path."""
    env = dict(os.environ)
    if path is not None:
        env["PYTHONPATH"] = str(path)
    result = subprocess.run(
        [sys.executable, "-m", "exercise_code.checks"], cwd=BUILD, env=env, capture_output=True, text=True
    )
    return result.stdout + result.stderr


def step_release() -> str:
    from autograder.release import release

    report = release(source=repo_root(), out=BUILD / "release")
    return (
        f"released {len(report.files)} files to {report.out} "
        f"({report.total_regions} solution regions stripped; notebooks: "
        f"{len(report.notebooks.released) or report.notebooks.note}); leak check clean"
    )


def step_checks_reference() -> str:
    return "public checks on the reference solution:\n" + _checks_in(None)


def step_checks_skeleton() -> str:
    return "public checks on the released skeleton:\n" + _checks_in(BUILD / "release")


STEPS: list[tuple[str, Callable[[], str]]] = [
    ("release the student version", step_release),
    ("public checks: reference", step_checks_reference),
    ("public checks: released skeleton", step_checks_skeleton),
]


def main() -> int:
    BUILD.mkdir(exist_ok=True)
    start = time.perf_counter()
    for number, (title, step) in enumerate(STEPS, start=1):
        t0 = time.perf_counter()
        print(f"== {number}/{len(STEPS)} {title}", flush=True)
        print(step().rstrip(), flush=True)
        print(f"   ({time.perf_counter() - t0:.1f} s)\n", flush=True)
    print(f"demo finished in {time.perf_counter() - start:.1f} s; outputs under {BUILD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
