"""Argument checks shared by the layer functions (not an exercise)."""

from __future__ import annotations

import torch

from exercise_code.utils import as_pair


def check_4d(x: torch.Tensor, name: str = "x") -> None:
    """Raise TypeError/ValueError unless `x` is a 4-D tensor `(N, C, H, W)`."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W), got {tuple(x.shape)}")


def positive_pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    """`value` as a pair of positive ints, or a ValueError naming `name`."""
    pair = as_pair(value, name)
    if min(pair) < 1:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return pair


def non_negative_pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    """`value` as a pair of non-negative ints, or a ValueError naming `name`."""
    pair = as_pair(value, name)
    if min(pair) < 0:
        raise ValueError(f"{name} must be non-negative, got {value!r}")
    return pair
