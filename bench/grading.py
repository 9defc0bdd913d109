"""Batch-grading benchmark: 40 synthetic submissions with --workers 1 and --workers 2.

The submissions copy the kit's reference `exercise_code/layers` and patch functions into skeleton,
buggy and adversarial variants; a small layer suite (written under build/bench/) grades them.
Prints the median seconds per submission, the wall time per batch and the speed-up.

    .venv/bin/python bench/grading.py [--n 40] [--workers 1 2] [--call-timeout 5]
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

from autograder.grading import GradeSettings, grade_batch  # noqa: E402

SUITE = """
import random
import pytest
import torch
import torch.nn.functional as F

L = "exercise_code.layers"


@pytest.mark.parametrize("case", range(4))
def test_conv_transpose2d(submission, grading_seed, case):
    rng, g = random.Random(grading_seed + case), torch.Generator().manual_seed(grading_seed + case)
    cin, cout, h, w, k, s = (rng.randint(1, 4), rng.randint(1, 4), rng.randint(3, 8), rng.randint(3, 8),
                             rng.randint(1, 3), rng.randint(1, 3))
    x = torch.randn(2, cin, h, w, generator=g, dtype=torch.float64)
    weight = torch.randn(cin, cout, k, k, generator=g, dtype=torch.float64)
    got = submission.call(f"{L}.conv_transpose2d", x, weight, stride=s)
    torch.testing.assert_close(got, F.conv_transpose2d(x, weight, stride=s))


@pytest.mark.parametrize("case", range(3))
def test_max_unpool2d(submission, grading_seed, case):
    g = torch.Generator().manual_seed(grading_seed + 100 + case)
    x = torch.randperm(2 * 3 * 8 * 8, generator=g).double().reshape(2, 3, 8, 8)
    pooled, indices = F.max_pool2d(x, 2, return_indices=True)
    got = submission.call(f"{L}.max_unpool2d", pooled, indices, 2)
    torch.testing.assert_close(got, F.max_unpool2d(pooled, indices, 2))


@pytest.mark.parametrize("scale", [2, 3])
def test_nearest_unpool2d(submission, scale):
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float64).reshape(2, 3, 4, 5)
    got = submission.call(f"{L}.nearest_unpool2d", x, scale)
    torch.testing.assert_close(got, F.interpolate(x, scale_factor=scale, mode="nearest"))
"""
RUBRIC = """
["test_layers.py::test_conv_transpose2d"]
points = 6
part = "layers"
concept = "transpose convolution"
["test_layers.py::test_max_unpool2d"]
points = 3
part = "layers"
concept = "max unpooling"
["test_layers.py::test_nearest_unpool2d"]
points = 1
part = "layers"
concept = "nearest unpooling"
"""
FORBIDDEN = (
    '"exercise_code.layers.conv_transpose2d" = '
    '["torch.nn.functional.conv_transpose2d", "torch.conv_transpose2d"]\n'
)

PATCHES = {
    "reference": "",
    "skeleton": (
        "def conv_transpose2d(*args, **kwargs):\n"
        "    raise NotImplementedError('conv_transpose2d: not implemented yet')\n"
        "def max_unpool2d(*args, **kwargs):\n"
        "    raise NotImplementedError('max_unpool2d: not implemented yet')\n"
        "def nearest_unpool2d(*args, **kwargs):\n"
        "    raise NotImplementedError('nearest_unpool2d: not implemented yet')\n"
    ),
    "buggy": (
        "import torch as _t\n_ct = conv_transpose2d\n"
        "def conv_transpose2d(x, weight, *args, **kwargs):\n"
        "    return _ct(x, _t.flip(weight, (2, 3)), *args, **kwargs)\n"
        "def nearest_unpool2d(x, scale):\n    return x.repeat(1, 1, scale, scale)\n"
    ),
    "loop": "def max_unpool2d(*args, **kwargs):\n    while True:\n        pass\n",
    "memory": (
        "import torch as _t\ndef nearest_unpool2d(x, scale):\n"
        "    return _t.empty(60 * 2**30, dtype=_t.uint8)\n"
    ),
    "forbidden": (
        "import torch.nn.functional as _F\ndef conv_transpose2d(x, weight, **kw):\n"
        "    return _F.conv_transpose2d(x, weight, **kw)\n"
    ),
    "printer": "import sys as _s\n_nu = nearest_unpool2d\ndef nearest_unpool2d(x, scale):\n"
    "    _s.stdout.write('x' * 2**28)\n    return _nu(x, scale)\n",
}
MIX = ["reference"] * 16 + ["skeleton"] * 8 + ["buggy"] * 8 + ["loop", "memory", "forbidden", "printer"] * 2


def build(root: Path, n: int) -> tuple[Path, list[Path]]:
    """Write the suite and `n` submissions (the MIX, cycled) under `root`."""
    if root.exists():
        shutil.rmtree(root)
    suite = root / "suite"
    suite.mkdir(parents=True)
    (suite / "test_layers.py").write_text(SUITE)
    (suite / "rubric.toml").write_text(RUBRIC)
    (suite / "forbidden.toml").write_text(FORBIDDEN)
    subs = []
    for i in range(n):
        kind = MIX[i % len(MIX)]
        sub = root / "subs" / f"{i:02d}_{kind}"
        code = sub / "exercise_code"
        shutil.copytree(
            REPO / "exercise_code" / "layers", code / "layers", ignore=shutil.ignore_patterns("__pycache__")
        )
        for name in ("__init__.py", "utils.py", "config.py"):
            shutil.copy2(REPO / "exercise_code" / name, code / name)
        with open(code / "layers" / "__init__.py", "a") as handle:
            handle.write("\n" + PATCHES[kind])
        (sub / "notebooks").mkdir()
        (sub / "notebooks" / "01.ipynb").write_text("{}")
        subs.append(sub)
    return suite, subs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--call-timeout", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bench" / "grading")
    args = parser.parse_args(argv)
    suite, subs = build(args.out / "input", args.n)
    settings = GradeSettings(call_s=args.call_timeout, submission_s=120)
    rows = []
    for workers in args.workers:
        out = args.out / f"workers{workers}"
        shutil.rmtree(out, ignore_errors=True)
        load = os.getloadavg()[0]
        start = time.monotonic()
        summary = grade_batch(subs, out=out, workers=workers, seed=0, suites=suite, settings=settings)
        wall = time.monotonic() - start
        seconds = [r.seconds for r in summary.results.values()]
        statuses = {}
        for result in summary.results.values():
            kind = result.student.split("_", 1)[1]
            statuses.setdefault(kind, []).append(result.score)
        rows.append(
            (workers, wall, statistics.median(seconds), wall / len(subs), load, os.getloadavg()[0], statuses)
        )
    print(
        f"{'workers':>7} {'wall s':>8} {'median s/sub (in child)':>24} {'wall s/sub':>10} "
        f"{'load before/after':>18}"
    )
    for workers, wall, median, per, before, after, _ in rows:
        print(f"{workers:>7} {wall:>8.1f} {median:>24.2f} {per:>10.2f} {before:>8.2f} / {after:<8.2f}")
    if len(rows) >= 2:
        print(f"speed-up (workers {rows[-1][0]} vs {rows[0][0]}): {rows[0][1] / rows[-1][1]:.2f}x")
    print("mean score by kind (of 10):", {k: round(statistics.mean(v), 2) for k, v in rows[-1][6].items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
