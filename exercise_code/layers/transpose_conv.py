"""Transposed convolution: by its definition (loops), and vectorised (zero insertion, one ordinary conv2d).

Every input value scales a copy of the kernel; copies are placed `stride` apart in the output and
overlapping copies add up. This is the adjoint of `conv2d` with the same arguments.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._validate import accepts_unbatched, check_4d, non_negative_pair, positive_pair


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


@accepts_unbatched()
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
    An unbatched x (Tensor[C_in, H, W]) gives Tensor[C_out, H_out, W_out] (the body receives 4-D input).
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


@accepts_unbatched()
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
    An unbatched x (Tensor[C_in, H, W]) gives Tensor[C_out, H_out, W_out] (`accepts_unbatched`: the body
    below always receives 4-D input).
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
    # Zero insertion: stride - 1 zeros between input pixels; the stamps then lie 1 apart, as in a conv2d.
    up = x.new_zeros(N, C_in, (H - 1) * sH + 1, (W - 1) * sW + 1)
    up[:, :, ::sH, ::sW] = x  # (N, C_in, (H - 1) * sH + 1, (W - 1) * sW + 1)
    # Pad by the dilated kernel's reach so that border pixels get their partial stamps; `padding` takes
    # that much back (a negative pad crops) and output_padding adds rows and columns at the bottom/right.
    eH, eW = dH * (kH - 1) - pH, dW * (kW - 1) - pW
    up = F.pad(up, (eW, eW + oW, eH, eH + oH))  # (N, C_in, H_out + dH * (kH - 1), W_out + dW * (kW - 1))
    # A stamp gives output o the term up[i] * w[o - i]; conv2d gives it up[o + t] * w'[t]: w' is w flipped.
    # And conv2d's weight is (C_out / g, C_in / g) per group: the transpose of ours.
    w = weight.reshape(g, C_in // g, C_out_g, kH, kW).transpose(1, 2)  # (g, C_out / g, C_in / g, kH, kW)
    w = w.reshape(g * C_out_g, C_in // g, kH, kW).flip(2, 3)  # (C_out, C_in / g, kH, kW)
    return F.conv2d(up, w, bias, dilation=(dH, dW), groups=g)  # (N, C_out, H_out, W_out)
    # END SOLUTION
