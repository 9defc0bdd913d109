"""Bilinear upsampling kernels: the initialisation FCN gives its learnable upsampling layers.

Long, Shelhamer and Darrell (2015) start every transposed convolution as bilinear interpolation.
"""

from __future__ import annotations

import torch


def bilinear_kernel(in_channels: int, out_channels: int, kernel_size: int) -> torch.Tensor:
    """Weights for a transposed convolution that upsamples each channel bilinearly.

    Returns Tensor[in_channels, out_channels, k, k]: channel c maps to channel c with the separable
    tent filter f(i) = 1 - |i - centre| / factor, factor = (k + 1) // 2, centre = factor - 1 for odd k
    and factor - 0.5 for even k; other channel pairs are zero (if in != out, the first
    min(in, out) channels are paired). With stride s, kernel 2s and padding s / 2 this reproduces
    `F.interpolate(mode="bilinear", align_corners=False)` away from the border.
    """
    for name, value in (
        ("in_channels", in_channels),
        ("out_channels", out_channels),
        ("kernel_size", kernel_size),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    # BEGIN SOLUTION
    factor = (kernel_size + 1) // 2
    centre = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    taps = 1 - (torch.arange(kernel_size, dtype=torch.float32) - centre).abs() / factor  # (k,)
    tent = taps[:, None] * taps[None, :]  # (k, k), separable
    weight = torch.zeros(in_channels, out_channels, kernel_size, kernel_size)
    channels = torch.arange(min(in_channels, out_channels))
    weight[channels, channels] = tent
    return weight
    # END SOLUTION
