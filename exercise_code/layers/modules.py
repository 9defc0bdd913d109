"""`ConvTranspose2d` and `MaxUnpool2d` modules built on this kit's functions.

Same constructor arguments, parameter names, shapes and default initialisation as their `torch.nn`
namesakes, so a `state_dict` loads into either.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from exercise_code.utils import as_pair

from .transpose_conv import conv_transpose2d, transpose_output_size
from .unpooling import max_unpool2d


class ConvTranspose2d(nn.Module):
    """Transposed convolution layer; weight Tensor[C_in, C_out / groups, kH, kW], bias Tensor[C_out].

    forward(x (Tensor[N, C_in, H, W] or unbatched Tensor[C_in, H, W]), output_size=None) ->
    Tensor[N, C_out, H_out, W_out] (or Tensor[C_out, H_out, W_out]), sizes as in `conv_transpose2d`;
    `output_size` (ending with (H_out, W_out)) picks the output_padding, as in `torch.nn.ConvTranspose2d`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, int] = 1,
    ) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"in_channels {in_channels} and out_channels {out_channels} "
                f"must be divisible by groups {groups}"
            )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = as_pair(kernel_size, "kernel_size")
        self.stride = as_pair(stride, "stride")
        self.padding = as_pair(padding, "padding")
        self.output_padding = as_pair(output_padding, "output_padding")
        self.dilation = as_pair(dilation, "dilation")
        self.weight = nn.Parameter(torch.empty(in_channels, out_channels // groups, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch.nn's default: Kaiming-uniform weights (a = sqrt(5)), uniform bias in +-1/sqrt(fan_in)."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = nn.init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            nn.init.uniform_(self.bias, -bound, bound)

    def _output_padding(self, x: torch.Tensor, output_size: Sequence[int] | None) -> tuple[int, int]:
        if output_size is None:
            return self.output_padding
        wanted = tuple(int(v) for v in output_size)[-2:]
        base = [
            transpose_output_size(
                x.shape[-2 + d], self.kernel_size[d], self.stride[d], self.padding[d], 0, self.dilation[d]
            )
            for d in range(2)
        ]
        extra = (wanted[0] - base[0], wanted[1] - base[1])
        if min(extra) < 0 or any(
            e >= max(s, d) for e, s, d in zip(extra, self.stride, self.dilation, strict=True)
        ):
            raise ValueError(f"output_size {wanted} cannot be reached from input {tuple(x.shape[-2:])}")
        return extra

    def forward(self, x: torch.Tensor, output_size: Sequence[int] | None = None) -> torch.Tensor:
        return conv_transpose2d(
            x,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self._output_padding(x, output_size),
            self.dilation,
            self.groups,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, output_padding={self.output_padding}"
        )


class MaxUnpool2d(nn.Module):
    """Max unpooling layer; forward(x, indices, output_size=None) as `torch.nn.MaxUnpool2d`.

    x and indices (Tensor[N, C, H, W], or unbatched Tensor[C, H, W]) -> Tensor[N, C, H_out, W_out]
    (or Tensor[C, H_out, W_out]), sizes as in `max_unpool2d`.
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.kernel_size = as_pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else as_pair(stride, "stride")
        self.padding = as_pair(padding, "padding")

    def forward(
        self, x: torch.Tensor, indices: torch.Tensor, output_size: Sequence[int] | None = None
    ) -> torch.Tensor:
        return max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding, output_size)
