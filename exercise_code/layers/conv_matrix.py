"""Convolution as a matrix product, and transpose convolution as multiplication by its transpose.

A convolution is linear in its input, so for a fixed kernel it is a matrix M: conv(x) = M @ x.
The transpose convolution (the adjoint) is then x_up = M.T @ y: that is all "transpose" means.
"""

from __future__ import annotations

import torch

from exercise_code.utils import as_pair

from ._validate import non_negative_pair, positive_pair


def _kernel(weight: torch.Tensor, dims: int) -> torch.Tensor:
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be a torch.Tensor, got {type(weight).__name__}")
    if weight.dim() == dims + 2 and weight.shape[0] == weight.shape[1] == 1:
        weight = weight.reshape(weight.shape[2:])
    if weight.dim() != dims:
        wanted = "(K,) or (1, 1, K)" if dims == 1 else "(kH, kW) or (1, 1, kH, kW)"
        raise ValueError(
            f"weight must be a single-channel kernel of shape {wanted}, got {tuple(weight.shape)}"
        )
    return weight


def conv1d_as_matrix(
    weight: torch.Tensor, input_length: int, stride: int = 1, padding: int = 0
) -> torch.Tensor:
    """The matrix M of a single-channel 1-D convolution (cross-correlation, as `F.conv1d`).

    weight (Tensor[K] or Tensor[1, 1, K]), input_length L
    Returns Tensor[L_out, L] with L_out = (L + 2 * padding - K) // stride + 1, such that
    M @ x == F.conv1d(x, weight, stride, padding) and M.T @ y == F.conv_transpose1d(y, weight,
    stride, padding, output_padding) for the output_padding that gives length L. Columns that
    would multiply the zero padding are dropped (they never see data).
    """
    k = _kernel(weight, 1)
    (stride, _), (padding, _) = positive_pair(stride, "stride"), non_negative_pair(padding, "padding")
    if isinstance(input_length, bool) or not isinstance(input_length, int) or input_length < 1:
        raise ValueError(f"input_length must be a positive int, got {input_length!r}")
    K = k.shape[0]
    L_out = (input_length + 2 * padding - K) // stride + 1
    if L_out < 1:
        raise ValueError(
            f"kernel of size {K} does not fit an input of length {input_length} with padding {padding}"
        )
    # BEGIN SOLUTION
    # Row o holds the kernel starting at padded position o * stride, i.e. input position o * stride - padding.
    M = k.new_zeros(L_out, input_length + 2 * padding)
    for o in range(L_out):
        M[o, o * stride : o * stride + K] = k
    return M[:, padding : padding + input_length]  # drop the padding columns
    # END SOLUTION


def conv2d_as_matrix(
    weight: torch.Tensor,
    input_shape: tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """The matrix M of a single-channel 2-D convolution acting on a row-major flattened image.

    weight (Tensor[kH, kW] or Tensor[1, 1, kH, kW]), input_shape (H, W)
    Returns Tensor[H_out * W_out, H * W] with H_out = (H + 2 * pH - kH) // sH + 1 (same for W),
    such that M @ x.flatten() == F.conv2d(x, weight, stride, padding).flatten() and
    M.T @ y.flatten() == F.conv_transpose2d(y, weight, stride, padding, output_padding).flatten().
    """
    k = _kernel(weight, 2)
    sH, sW = positive_pair(stride, "stride")
    pH, pW = non_negative_pair(padding, "padding")
    H, W = as_pair(tuple(input_shape) if isinstance(input_shape, list) else input_shape, "input_shape")
    if min(H, W) < 1:
        raise ValueError(f"input_shape must be positive, got {input_shape!r}")
    kH, kW = k.shape
    H_out, W_out = (H + 2 * pH - kH) // sH + 1, (W + 2 * pW - kW) // sW + 1
    if min(H_out, W_out) < 1:
        raise ValueError(f"kernel {tuple(k.shape)} does not fit input {H}x{W} with padding {(pH, pW)}")
    # BEGIN SOLUTION
    M = k.new_zeros(H_out, W_out, H + 2 * pH, W + 2 * pW)
    for i in range(H_out):
        for j in range(W_out):
            M[i, j, i * sH : i * sH + kH, j * sW : j * sW + kW] = k
    M = M[:, :, pH : pH + H, pW : pW + W]  # drop the padding
    return M.reshape(H_out * W_out, H * W)
    # END SOLUTION
