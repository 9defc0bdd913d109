"""Transposed convolution: by its definition (loops), and vectorised (as interleaved ordinary convolutions).

Every input value scales a copy of the kernel; copies are placed `stride` apart in the output and
overlapping copies add up. This is the adjoint of `conv2d` with the same arguments.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._validate import check_4d, non_negative_pair, positive_pair


def transpose_output_size(
    size: int, kernel: int, stride: int, padding: int, output_padding: int = 0, dilation: int = 1
) -> int:
    """H_out = (H - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def _check_weight_bias(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, groups: int) -> None:
    check_4d(weight, "weight")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    C_in = x.shape[1]
    if C_in % groups:
        raise ValueError(f"in_channels {C_in} must be divisible by groups {groups}")
    if weight.shape[0] != C_in:
        raise ValueError(
            f"weight must have shape (C_in={C_in}, C_out / groups, kH, kW), got {tuple(weight.shape)}"
        )
    C_out = weight.shape[1] * groups
    if bias is not None and tuple(bias.shape) != (C_out,):
        raise ValueError(f"bias must have shape ({C_out},), got {tuple(bias.shape)}")


def conv_transpose2d_loops(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """Transposed 2-D convolution written as its definition, with loops over input positions (slow).

    x (Tensor[N, C_in, H, W]), weight (Tensor[C_in, C_out, kH, kW]), bias (Tensor[C_out] or None)
    Returns Tensor[N, C_out, H_out, W_out] with H_out = (H - 1) * stride - 2 * padding + kH.
    """
    check_4d(x)
    _check_weight_bias(x, weight, bias, 1)
    sH, sW = positive_pair(stride, "stride")
    pH, pW = non_negative_pair(padding, "padding")
    N, C_in, H, W = x.shape
    _, C_out, kH, kW = weight.shape
    if min(transpose_output_size(H, kH, sH, pH), transpose_output_size(W, kW, sW, pW)) < 1:
        raise ValueError(f"padding {(pH, pW)} crops the whole output")
    # BEGIN SOLUTION
    full = x.new_zeros(N, C_out, (H - 1) * sH + kH, (W - 1) * sW + kW)
    for i in range(H):
        for j in range(W):
            # every input pixel scales the kernel: (N, C_in) x (C_in, C_out, kH, kW) -> (N, C_out, kH, kW)
            stamp = torch.einsum("nc,cokl->nokl", x[:, :, i, j], weight)
            full[:, :, i * sH : i * sH + kH, j * sW : j * sW + kW] += stamp  # overlaps add up
    out = full[:, :, pH : full.shape[2] - pH, pW : full.shape[3] - pW]  # padding crops the border
    if bias is not None:
        out = out + bias.view(1, C_out, 1, 1)
    return out
    # END SOLUTION


def conv_transpose2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> torch.Tensor:
    """Transposed 2-D convolution (the adjoint of conv2d), vectorised; equals `F.conv_transpose2d`.

    x (Tensor[N, C_in, H, W]), weight (Tensor[C_in, C_out / groups, kH, kW]), bias (Tensor[C_out])
    Returns Tensor[N, C_out, H_out, W_out] with
    H_out = (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1.
    output_padding adds rows and columns on the bottom and right; it must be smaller than stride
    or dilation (otherwise the output size would not determine the input size).
    """
    check_4d(x)
    _check_weight_bias(x, weight, bias, groups)
    sH, sW = positive_pair(stride, "stride")
    pH, pW = non_negative_pair(padding, "padding")
    oH, oW = non_negative_pair(output_padding, "output_padding")
    dH, dW = positive_pair(dilation, "dilation")
    if not (oH < sH or oH < dH) or not (oW < sW or oW < dW):
        raise ValueError(
            f"output_padding {(oH, oW)} must be smaller than stride {(sH, sW)} or dilation {(dH, dW)}"
        )
    N, C_in, H, W = x.shape
    _, C_out_g, kH, kW = weight.shape
    H_out = transpose_output_size(H, kH, sH, pH, oH, dH)
    W_out = transpose_output_size(W, kW, sW, pW, oW, dW)
    if min(H_out, W_out) < 1:
        raise ValueError(f"padding {(pH, pW)} crops the whole output (size {H_out}x{W_out})")
    # BEGIN SOLUTION
    g = groups
    if (dH, dW) != (1, 1):  # a dilated kernel is an ordinary kernel with zeros between its taps
        dilated = weight.new_zeros(C_in, C_out_g, dH * (kH - 1) + 1, dW * (kW - 1) + 1)
        dilated[:, :, ::dH, ::dW] = weight
        weight, kH, kW = dilated, dilated.shape[2], dilated.shape[3]
    # Output row q * s + r (its phase r) gathers kernel taps r, r + s, r + 2s, ... from input rows q, q - 1,
    # q - 2, ...: each of the s * s phases is an ordinary convolution with its own sub-kernel, and the
    # phases interleave. (With k = 3, s = 2 one phase has two taps and the other one: the checkerboard.)
    mH, mW = -(-kH // sH), -(-kW // sW)  # taps per phase
    w = F.pad(weight, (0, mW * sW - kW, 0, mH * sH - kH))  # (C_in, C_out/g, mH*sH, mW*sW), zero taps added
    w = w.reshape(g, C_in // g, C_out_g, mH, sH, mW, sW).flip(3, 5)  # rows q - m: a flipped kernel
    w = w.permute(0, 2, 4, 6, 1, 3, 5).reshape(g * C_out_g * sH * sW, C_in // g, mH, mW)
    x = F.pad(x, (mW - 1, mW - 1, mH - 1, mH - 1))  # every stamp that reaches the output, also at borders
    phases = F.conv2d(x, w, groups=g)  # (N, C_out * sH * sW, Hq, Wq), Hq = H + mH - 1
    Hq, Wq = phases.shape[-2:]
    phases = phases.reshape(N, g * C_out_g, sH, sW, Hq, Wq)
    full = phases.permute(0, 1, 4, 2, 5, 3).reshape(N, g * C_out_g, Hq * sH, Wq * sW)  # interleave
    # crop `padding` on top/left; bottom/right rows past the last stamp (output_padding) are zeros
    out = F.pad(full, (-pW, W_out + pW - Wq * sW, -pH, H_out + pH - Hq * sH))
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out
    # END SOLUTION
