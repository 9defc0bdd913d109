"""Hidden data for the model-quality tests, made on the trusted side only from the run's secret key.

Nothing here can be recomputed inside the sandbox: the key is drawn from the OS for each grading run (or
read from the TA's secret file), never sent to the worker, and the worker cannot read the digit files
(see `autograder.sandbox.pyenv.hidden_data_dirs`). Hidden digits are test-pool digits moved by a small
random affine map, so an exact copy of the public digits (a lookup table smuggled into the weights) does
not match them; hidden scenes are test-pool scenes arranged by a 63-bit seed derived from the key.
"""

from __future__ import annotations

import hashlib
import math

import torch
import torch.nn.functional as F
from torch import Tensor

from exercise_code.data import Digits, DigitScenes

KEY_BITS = 63
HIDDEN_DIGITS = 500
"""Test-pool digits drawn (by the key) for the reconstruction and few-label tests."""
MAX_ROTATION_DEG = 5.0
MAX_SHIFT_PX = 0.75
SCALE_RANGE = (0.96, 1.04)
"""The affine map of each hidden digit: small enough to keep a digit's class and look, large enough
that no pixel grid of the public digits matches it."""
EXAMPLE_PURPOSE = "feedback examples"
"""Scenes drawn for the feedback page: the same distribution as the scored scenes, never the same ones."""


def hidden_seed(key: int, purpose: str) -> int:
    """A 63-bit seed for `purpose` ("hidden scenes", "hidden digits", ...) fixed by the secret `key`."""
    digest = hashlib.sha256(f"{key}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - KEY_BITS)


def hidden_scenes(key: int, num_scenes: int, image_size: int, purpose: str = "hidden scenes") -> DigitScenes:
    """Test-pool digit scenes arranged by the key (never cached on disk)."""
    return DigitScenes("test", num_scenes, image_size=image_size, seed=hidden_seed(key, purpose))


def _affine(images: Tensor, gen: torch.Generator) -> Tensor:
    """Each image of float Tensor[N, 1, 28, 28] rotated, scaled and shifted by its own random amounts."""
    N = images.shape[0]
    angle = (torch.rand(N, generator=gen, dtype=torch.float64) * 2 - 1) * math.radians(MAX_ROTATION_DEG)
    low, high = SCALE_RANGE
    scale = low + torch.rand(N, generator=gen, dtype=torch.float64) * (high - low)
    shift = (torch.rand(N, 2, generator=gen, dtype=torch.float64) * 2 - 1) * MAX_SHIFT_PX
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(  # (N, 2, 3): output grid -> input grid, in normalised [-1, 1] coordinates
        [
            torch.stack([cos, -sin, shift[:, 0] * 2 / 28], 1),
            torch.stack([sin, cos, shift[:, 1] * 2 / 28], 1),
        ],
        1,
    ).float()
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False).clamp(0, 1)


def hidden_digits(key: int, count: int = HIDDEN_DIGITS) -> tuple[Tensor, Tensor]:
    """`count` test-pool digits picked and moved by the key: images float Tensor[count, 1, 28, 28] in
    [0, 1] and labels int64 Tensor[count]."""
    images, labels = Digits("test").tensors()
    gen = torch.Generator().manual_seed(hidden_seed(key, "hidden digits"))
    pick = torch.randperm(len(images), generator=gen)[:count]
    return _affine(images[pick], gen), labels[pick].clone()
