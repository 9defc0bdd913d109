"""Benchmark: segmenting by patches (one forward pass per pixel) vs the fully convolutional twin (one pass).

Both run on the same 8 digit scenes of 64x64 with the same (untrained) weights; prints whether the labels
are identical and the speed ratio, both measured in this run, for each patch size given (the work the
patch method repeats grows with the patch area, so the ratio does too).

    .venv/bin/python bench/patch_vs_fcn.py --patch-size 15 25 35
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from exercise_code.data import DigitScenes
from exercise_code.models import PatchClassifier, fully_convolutional, segment_by_patches


def timed(run: Callable[[], torch.Tensor], repeats: int) -> tuple[torch.Tensor, float]:
    """The result of `run` and the median of `repeats` wall-clock timings."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patch-size", type=int, nargs="+", default=[15, 25, 35])
    parser.add_argument("--scenes", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each method; the median is kept")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images = DigitScenes("test", args.scenes, seed=0).tensors()[0]
    pixels = images.shape[0] * images.shape[2] * images.shape[3]
    print(f"{args.scenes} scenes of {images.shape[2]}x{images.shape[3]}, {torch.get_num_threads()} threads")
    print(f"{'patch':>5} {'patch by patch s':>17} {'fully conv s':>13} {'identical':>9} {'speed-up':>9}")
    for patch_size in args.patch_size:
        torch.manual_seed(0)
        model = PatchClassifier(3, 11, patch_size).eval()
        dense = fully_convolutional(model).eval()
        slow, t_patch = timed(lambda m=model: segment_by_patches(m, images, batch_size=4096), args.repeats)
        with torch.no_grad():
            dense(images[:1])  # warm-up
            fast, t_dense = timed(lambda d=dense: d(images).argmax(1), args.repeats)
        same = torch.equal(slow, fast)
        print(f"{patch_size:>5} {t_patch:>17.3f} {t_dense:>13.4f} {str(same):>9} {t_patch / t_dense:>8.0f}x")
    print(f"({pixels} patches per method run)")


if __name__ == "__main__":
    main()
