"""Argument checks shared by the layer functions, and unbatched input support (not an exercise)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TypeVar

import torch

from exercise_code.utils import as_pair

Fn = TypeVar("Fn", bound=Callable[..., torch.Tensor])


def check_4d(x: torch.Tensor, name: str = "x") -> None:
    """Raise TypeError/ValueError unless `x` is a 4-D tensor `(N, C, H, W)`."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W), got {tuple(x.shape)}")


def accepts_unbatched(*also: str) -> Callable[[Fn], Fn]:
    """Decorator: a layer function written for `x (Tensor[N, C, H, W])` also takes `x (Tensor[C, H, W])`.

    As in PyTorch, a 3-D `x` is one unbatched image: it runs as a batch of one (and so does each 3-D
    tensor argument named in `also`, e.g. max unpooling's `indices`), and the batch dimension is removed
    from the result: Tensor[C, H, W] -> Tensor[C', H', W']. The decorated function itself only ever sees
    4-D input, so its body (and its checks) stay as they are.
    """

    def decorate(fn: Fn) -> Fn:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: object, **kwargs: object) -> torch.Tensor:
            bound = signature.bind(*args, **kwargs)
            x = bound.arguments.get("x")
            if not isinstance(x, torch.Tensor) or x.dim() == 4:
                return fn(*args, **kwargs)  # the function's own checks name a wrong type
            if x.dim() != 3:
                raise ValueError(f"x must have shape (N, C, H, W) or (C, H, W), got {tuple(x.shape)}")
            for name in ("x", *also):
                value = bound.arguments.get(name)
                if isinstance(value, torch.Tensor) and value.dim() == 3:
                    bound.arguments[name] = value.unsqueeze(0)  # (C, H, W) -> (1, C, H, W)
            out = fn(*bound.args, **bound.kwargs)
            return out.squeeze(0) if isinstance(out, torch.Tensor) and out.dim() == 4 else out  # (C', H', W')

        return wrapper  # type: ignore[return-value]

    return decorate


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
