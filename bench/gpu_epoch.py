"""Benchmark: one epoch of the notebooks' GPU training settings, on CUDA and on the CPU, side by side.

    python bench/gpu_epoch.py            # needs a CUDA device; --cpu-batches N caps the CPU run (default 20)

Notebook 3 on a GPU trains FCN-8s (width 24) on 3,000 digit scenes of 64x64 in batches of 64 for 60 epochs
(then FCN-32s and FCN-8s again for the comparison); notebook 4 trains convolutional autoencoders on the
digits in batches of 128 for 60 epochs each. This prints the seconds of one such epoch through `fit` (AMP and
channels_last on CUDA, as the notebooks run), the same batches' time on the CPU (all its cores, float32,
measured on the first `--cpu-batches` batches and scaled), the ratio, and what the notebook's epochs
cost at that rate. Data generation is not timed (the notebooks cache their scenes).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader

from exercise_code.data import NUM_SCENE_CLASSES, Digits, DigitScenes
from exercise_code.models import FCN, ConvAutoencoder
from exercise_code.training import Task, TrainConfig, fit, make_loader


def epoch_seconds(
    make: Callable[[], nn.Module], loader: DataLoader, task: Task, device: str, batches: int | None
) -> float:
    """Seconds of one epoch of `make()` on `device` (the first `batches` batches, scaled to the epoch)."""
    torch.manual_seed(0)
    model = make()
    steps = min(batches, len(loader)) if batches else len(loader)
    config = TrainConfig(task=task, epochs=1, max_steps=steps, device=device, progress=False)
    fit(model, loader, None, TrainConfig(task=task, epochs=1, max_steps=2, device=device, progress=False))
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fit(model, loader, None, config)
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) * len(loader) / steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-batches", type=int, default=20)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this bench compares a GPU epoch with a CPU epoch")
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    started = time.perf_counter()
    scenes = DigitScenes("train", 3000, image_size=64, seed=0, cache=False)
    digits = Digits("train")
    print(f"data: {len(scenes)} scenes, {len(digits)} digits in {time.perf_counter() - started:.0f} s")
    cases = [
        ("FCN-8s, 3000 scenes, batch 64", lambda: FCN(NUM_SCENE_CLASSES, variant="8s", width=24),
         make_loader(scenes, batch_size=64, shuffle=True), Task.SEGMENTATION, 60 * 3),
        ("ConvAutoencoder k=20, batch 128", lambda: ConvAutoencoder(latent_dim=20),
         make_loader(digits, batch_size=128, shuffle=True), Task.RECONSTRUCTION,
         60 * 5),
    ]  # fmt: skip
    print(f"\n{'model':<34} {'GPU s/epoch':>12} {'CPU s/epoch':>12} {'CPU/GPU':>8}  notebook epochs on GPU")
    for name, make, loader, task, epochs in cases:
        gpu = epoch_seconds(make, loader, task, "cuda", None)
        cpu = epoch_seconds(make, loader, task, "cpu", args.cpu_batches)
        total = f"{epochs} x {gpu:.2f} s = {epochs * gpu:.0f} s"
        print(f"{name:<34} {gpu:>12.2f} {cpu:>12.2f} {cpu / gpu:>7.0f}x  {total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
