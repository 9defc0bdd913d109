"""Trusted reference values for the hidden suites, computed with PyTorch's own ops (never exercise code).

Everything here runs in the grader's process: seeds derived from the grading seed, tie-free inputs,
convolution matrices from `F.conv1d`/`F.conv2d` applied to identity bases, patches by `F.unfold`.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from exercise_code.testing import TOLERANCE, Tolerance, mismatch
from exercise_code.testing import tie_free as tie_free  # the suites' tie-free inputs (float32)


def derived_seed(grading_seed: int, key: str) -> int:
    """A non-negative 31-bit seed for `key` (a test case name), fixed by the grading seed."""
    digest = hashlib.sha256(f"{grading_seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def hidden_scene_seed(grading_seed: int) -> int:
    """The seed of a grading run's hidden digit scenes (`DigitScenes("test", ..., seed=...)`)."""
    return derived_seed(grading_seed, "hidden scenes")


def assert_matches(
    got: Any, expected: Tensor, *, what: str, rtol: float = TOLERANCE.rtol, atol: float = TOLERANCE.atol
) -> None:
    """Fail with a student-facing message unless `got` is a tensor of `expected`'s shape and values.

    The comparison and its message are `exercise_code.testing.mismatch`, the one the public checks use.
    """
    problem = mismatch(got, expected, Tolerance(atol=atol, rtol=rtol))
    if problem is not None:
        raise AssertionError(f"{what}: {problem}")


def describe(**params: Any) -> str:
    """`stride=2, padding=(1, 0)` for messages."""
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


# --- layers -------------------------------------------------------------------------------------------


def bilinear_reference(in_channels: int, out_channels: int, k: int) -> Tensor:
    """FCN's bilinear upsampling kernel (Long et al. 2015, `upsample_filt`): Tensor[in, out, k, k].

    Tent filter 1 - |i - centre| / f with f = ceil(k / 2) and centre = f - 1 (odd k) or f - 0.5 (even k),
    on the channel diagonal only (the first min(in, out) channels).
    """
    f = math.ceil(k / 2)
    centre = f - 1 if k % 2 == 1 else f - 0.5
    grid = torch.arange(k, dtype=torch.float64)
    taps = 1 - (grid - centre).abs() / f
    weight = torch.zeros(in_channels, out_channels, k, k, dtype=torch.float64)
    for c in range(min(in_channels, out_channels)):
        weight[c, c] = torch.outer(taps, taps)
    return weight.float()


def conv1d_matrix_reference(kernel: Tensor, length: int, stride: int, padding: int) -> Tensor:
    """M (Tensor[L_out, L]) with M @ x == F.conv1d(x, kernel): F.conv1d applied to the identity basis."""
    basis = torch.eye(length, dtype=torch.float64).reshape(length, 1, length)  # one unit vector per row
    columns = F.conv1d(basis, kernel.double().reshape(1, 1, -1), stride=stride, padding=padding)
    return columns.reshape(length, -1).T.float()  # column j = the response to unit vector j


def conv2d_matrix_reference(
    kernel: Tensor, shape: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]
) -> Tensor:
    """M (Tensor[H_out * W_out, H * W]) of a single-channel conv2d on row-major flattened images."""
    H, W = shape
    basis = torch.eye(H * W, dtype=torch.float64).reshape(H * W, 1, H, W)
    kH, kW = kernel.shape[-2:]
    columns = F.conv2d(basis, kernel.double().reshape(1, 1, kH, kW), stride=stride, padding=padding)
    return columns.reshape(H * W, -1).T.float()


# --- patches and models -------------------------------------------------------------------------------


def patches_reference(images: Tensor, patch_size: int) -> Tensor:
    """Tensor[N * H * W, C, P, P]: the reflect-padded patch centred on each pixel, row-major per image."""
    N, C, H, W = images.shape
    r = patch_size // 2
    padded = F.pad(images, (r, r, r, r), mode="reflect") if r else images
    cols = F.unfold(padded, patch_size)  # (N, C * P * P, H * W)
    return cols.transpose(1, 2).reshape(N * H * W, C, patch_size, patch_size)


def principal_angles_reference(a: Tensor, b: Tensor) -> Tensor:
    """Principal angles (radians, ascending) between the column spaces of a and b, in float64."""
    qa, _ = torch.linalg.qr(a.double())
    qb, _ = torch.linalg.qr(b.double())
    return torch.arccos(torch.linalg.svdvals(qa.T @ qb).clamp(-1.0, 1.0))


def labels_from_output(output: Any, shape: tuple[int, ...], num_classes: int, what: str) -> Tensor:
    """Predicted labels from a model's output: logits Tensor[N, K, ...] or labels Tensor[N, ...]."""
    if not isinstance(output, Tensor):
        raise AssertionError(f"{what} must return a tensor, got {type(output).__name__}")
    if tuple(output.shape) == (shape[0], num_classes, *shape[1:]):
        if not torch.isfinite(output).all():
            raise AssertionError(f"{what} returned NaN or inf logits")
        return output.argmax(1)
    if tuple(output.shape) == tuple(shape) and not output.is_floating_point():
        labels = output.long()
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
            raise AssertionError(f"{what} returned labels outside [0, {num_classes})")
        return labels
    raise AssertionError(
        f"{what} must return logits of shape {(shape[0], num_classes, *shape[1:])} or integer labels "
        f"of shape {tuple(shape)}, got {tuple(output.shape)} ({output.dtype})"
    )
