"""One home for comparing tensors: the tolerance, tie-free inputs, the relative error and a mismatch message.

The public checks, the hidden suites and the project's own tests all use these; nothing else defines them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Tolerance:
    """A value passes where |got - expected| <= atol + rtol * |expected| (float32 results)."""

    atol: float = 1e-4
    """Absolute slack: float32 sums of a few hundred terms in another order differ by ~1e-6 to 1e-5."""
    rtol: float = 1e-4
    """Relative slack, for large values."""

    def __post_init__(self) -> None:
        if not (self.atol >= 0 and self.rtol >= 0):  # also refuses NaN
            raise ValueError(f"atol and rtol must be non-negative, got atol={self.atol}, rtol={self.rtol}")


TOLERANCE = Tolerance()
"""The tolerance of every numeric comparison: public checks, hidden suites and tests (unless a case says why
it needs another)."""


def tie_free(*shape: int, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> Tensor:
    """Tensor[*shape] of distinct values (no ties for any max) in random order, in about [-1, 1]."""
    if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in shape):
        raise ValueError(f"shape must be non-negative ints, got {shape}")
    n = math.prod(shape)
    values = torch.randperm(n, generator=generator).to(dtype)
    return (values / max(n, 1) * 2 - 1).reshape(shape)


def rel_error(x: Tensor, y: Tensor) -> float:
    """Largest relative error max|x - y| / max(1e-8, |x| + |y|), as a float."""
    x, y = torch.as_tensor(x).double(), torch.as_tensor(y).double()
    return float(((x - y).abs() / (x.abs() + y.abs()).clamp_min(1e-8)).max())


def _index(flat: int, shape: torch.Size) -> tuple[int, ...]:
    return tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), shape))


def mismatch(got: object, expected: Tensor, tol: Tolerance = TOLERANCE) -> str | None:
    """None when `got` is a tensor of `expected`'s shape and kind (float or integer) whose values match
    within `tol`; otherwise a student-facing description of the first problem found:

    `expected shape (2, 3), got (3, 2)`, or `4 of 6 values wrong, max abs error 0.5 at index (1, 2):
    expected 0, got 0.5 (relative error 1; allowed 0.0001 + 0.0001 * |expected|)`.
    """
    if not isinstance(got, Tensor):
        return f"expected a torch.Tensor, got {type(got).__name__}"
    if tuple(got.shape) != tuple(expected.shape):
        return f"expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
    if got.is_floating_point() != expected.is_floating_point():
        kind = "a floating-point" if expected.is_floating_point() else "an integer"
        return f"expected {kind} tensor (like {expected.dtype}), got {got.dtype}"
    g = got.detach().to("cpu", torch.float64)
    e = expected.detach().to("cpu", torch.float64)
    broken = ~torch.isfinite(g) & torch.isfinite(e)
    if broken.any():
        index = _index(int(broken.flatten().nonzero()[0]), e.shape)
        return (
            f"{int(broken.sum())} of {e.numel()} values are NaN or inf, the first at index {index} "
            f"(expected {float(e[index]):.4g}, got {float(g[index])})"
        )
    error = (g - e).abs().nan_to_num(nan=0.0)  # NaN or inf where the reference has them too: agreed
    wrong = error > tol.atol + tol.rtol * e.abs()
    if not wrong.any():
        return None
    index = _index(int(error.argmax()), e.shape)
    return (
        f"{int(wrong.sum())} of {e.numel()} values wrong, max abs error {float(error[index]):.3g} "
        f"at index {index}: expected {float(e[index]):.4g}, got {float(g[index]):.4g} "
        f"(relative error {rel_error(g, e):.2g}; allowed {tol.atol:g} + {tol.rtol:g} * |expected|)"
    )
