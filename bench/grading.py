"""Batch-grading benchmark: 40 submissions through the real hidden suites, --workers 1 then --workers 2.

The mix (cycled to --n): the reference, the released skeleton, every wrong solution of `tests/corpus`
applied to the full package, and adversarial submissions (the demo's malicious package: escape attempts
at import, a forbidden call, a memory bomb, a crash). Every submission carries the reference models trained
with the tiny verify budget (cached under build/reference_models/), so the model-quality tests run but
their scores mean nothing. Notebooks are not part of this bench (`grade_batch` runs the hidden pytest
suites only; nbgrader grading is timed by the demo).

Prints, per worker count, the wall time of the batch, the median seconds per submission (as measured
inside its grading child) and the wall seconds per submission, then the speed-up.

    .venv/bin/python bench/grading.py [--n 40] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder.demo.submissions import (  # noqa: E402
    MALLORY_BILINEAR,
    MALLORY_CONV,
    MALLORY_INIT,
    MALLORY_MAX_UNPOOL,
    _patch,
)
from autograder.grading import HIDDEN_DIR, GradeSettings, grade_batch  # noqa: E402
from autograder.release import release  # noqa: E402
from autograder.verify.corpus import load_corpus  # noqa: E402
from autograder.verify.reference_models import TINY_BUDGET, reference_models  # noqa: E402
from autograder.verify.run import _submission  # noqa: E402


def build(root: Path, n: int) -> list[Path]:
    """Write `n` submissions under `root`: reference, skeleton, corpus bugs and adversarial, interleaved."""
    if root.exists():
        shutil.rmtree(root)
    models = reference_models(source=REPO, budget=TINY_BUDGET)
    release(source=REPO, out=root / "release", notebooks=False)
    bugs = [e for e in load_corpus(REPO / "tests" / "corpus") if e.kind == "bug"]
    subs: list[Path] = []
    kinds = ["reference", "skeleton", "bug", "bug", "bug", "adversarial"]
    bug_index = 0
    for i in range(n):
        kind = kinds[i % len(kinds)]
        if kind == "reference":
            subs.append(_submission(REPO, models, root / "subs" / f"{i:02d}_reference"))
        elif kind == "skeleton":
            subs.append(_submission(root / "release", models, root / "subs" / f"{i:02d}_skeleton"))
        elif kind == "bug":
            entry = bugs[bug_index % len(bugs)]
            bug_index += 1
            subs.append(_submission(REPO, models, root / "subs" / f"{i:02d}_bug-{entry.name}", entry))
        else:
            sub = _submission(REPO, models, root / "subs" / f"{i:02d}_adversarial")
            init = MALLORY_INIT.replace("{marker}", "bench-escaped")
            (sub / "exercise_code" / "__init__.py").write_text(init)
            _patch(sub, "layers/transpose_conv.py", "conv_transpose2d", MALLORY_CONV)
            _patch(sub, "layers/unpooling.py", "max_unpool2d", MALLORY_MAX_UNPOOL)
            _patch(sub, "layers/bilinear.py", "bilinear_kernel", MALLORY_BILINEAR)
            subs.append(sub)
    return subs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bench" / "grading")
    args = parser.parse_args(argv)
    start = time.monotonic()
    subs = build(args.out / "input", args.n)
    print(f"built {len(subs)} submissions in {time.monotonic() - start:.0f} s ({os.cpu_count()} cores)")
    rows = []
    for workers in args.workers:
        out = args.out / f"workers{workers}"
        shutil.rmtree(out, ignore_errors=True)
        start = time.monotonic()
        settings = GradeSettings()
        summary = grade_batch(subs, out=out, workers=workers, seed=0, suites=HIDDEN_DIR, settings=settings)
        wall = time.monotonic() - start
        results = list(summary.results.values())
        by_kind: dict[str, list[float]] = {}
        for result in results:
            kind = result.student.split("_", 1)[1].split("-", 1)[0]
            by_kind.setdefault(kind, []).append(result.score)
        statuses = sorted({r.status for r in results})
        rows.append((workers, wall, statistics.median(r.seconds for r in results), wall / len(subs), by_kind))
        print(f"workers {workers}: {wall:.0f} s, statuses {statuses}", flush=True)
    print(f"\n{'workers':>7} {'wall s':>8} {'median s/sub (child)':>21} {'wall s/sub':>11}")
    for workers, wall, median, per, _ in rows:
        print(f"{workers:>7} {wall:>8.0f} {median:>21.1f} {per:>11.1f}")
    if len(rows) >= 2:
        print(f"speed-up (workers {rows[-1][0]} vs {rows[0][0]}): {rows[0][1] / rows[-1][1]:.2f}x wall")
    means = {k: round(statistics.mean(v), 1) for k, v in rows[-1][4].items()}
    print(f"mean score by kind (tiny reference models, so quality points are low): {means}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
