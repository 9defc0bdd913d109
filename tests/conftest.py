"""Shared test helpers: random configurations and tie-free inputs."""

from __future__ import annotations

import os

import matplotlib
import torch

matplotlib.use("Agg")
os.environ.setdefault("KIT_FAST", "1")
torch.set_num_threads(1)


def tie_free(*shape: int, generator: torch.Generator, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Distinct values in random order (no ties for any max), scaled to about [-1, 1]."""
    n = 1
    for s in shape:
        n *= s
    values = torch.randperm(n, generator=generator).to(dtype)
    return (values / max(n, 1) * 2 - 1).reshape(shape)
