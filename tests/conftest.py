"""Shared test helpers: random configurations and tie-free inputs."""

from __future__ import annotations

import os

import matplotlib
import torch

from exercise_code import testing

matplotlib.use("Agg")
os.environ.setdefault("KIT_FAST", "1")
torch.set_num_threads(1)


def tie_free(*shape: int, generator: torch.Generator, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """`exercise_code.testing.tie_free`, in float64 by default (gradient checks): distinct values, about
    [-1, 1]."""
    return testing.tie_free(*shape, generator=generator, dtype=dtype)
