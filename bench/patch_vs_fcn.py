"""Benchmark: segmenting by patches (one forward pass per pixel) vs the fully convolutional twin (one pass).

Both run on the same 8 digit scenes of 64x64 with the same (untrained or briefly trained) weights; prints
whether the labels are identical and the speed ratio, both measured in this run.
"""

from __future__ import annotations

import argparse
import time

import torch

from exercise_code.data import DigitScenes
from exercise_code.models import PatchClassifier, fully_convolutional, segment_by_patches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patch-size", type=int, default=25)
    parser.add_argument("--scenes", type=int, default=8)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images = DigitScenes("test", args.scenes, seed=0).tensors()[0]
    model = PatchClassifier(3, 11, args.patch_size).eval()

    t0 = time.perf_counter()
    slow = segment_by_patches(model, images, batch_size=4096)
    t_patch = time.perf_counter() - t0

    dense = fully_convolutional(model).eval()
    with torch.no_grad():
        dense(images[:1])  # warm-up
        t0 = time.perf_counter()
        fast = dense(images).argmax(1)
        t_dense = time.perf_counter() - t0
    same = torch.equal(slow, fast)
    pixels = images.shape[0] * images.shape[2] * images.shape[3]
    print(
        f"{args.scenes} scenes of {images.shape[2]}x{images.shape[3]}, patch {args.patch_size}, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"patch by patch : {t_patch:8.3f} s  ({pixels} forward passes of one patch)")
    print(f"fully conv twin: {t_dense:8.3f} s  (one pass)")
    print(f"identical labels: {same}; speed-up {t_patch / t_dense:.0f}x")


if __name__ == "__main__":
    main()
