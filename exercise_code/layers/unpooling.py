"""Unpooling: nearest-neighbour, bed of nails, and max unpooling (the inverse of max pooling)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ._validate import accepts_unbatched, check_4d, non_negative_pair, positive_pair


@accepts_unbatched()
def nearest_unpool2d(x: torch.Tensor, scale: int | tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour unpooling: copy every value into an sh x sw block.

    x (Tensor[N, C, H, W]), scale (int or (sh, sw))
    Returns Tensor[N, C, H * sh, W * sw] with out[..., i, j] = x[..., i // sh, j // sw];
    equals `F.interpolate(x, scale_factor=scale, mode="nearest")`. An unbatched x (Tensor[C, H, W]) gives
    Tensor[C, H * sh, W * sw] (F.interpolate would read a 3-D input as a 1-D signal (N, C, L)).
    """
    check_4d(x)
    sh, sw = positive_pair(scale, "scale")
    # BEGIN SOLUTION
    return x.repeat_interleave(sh, dim=2).repeat_interleave(sw, dim=3)
    # END SOLUTION


@accepts_unbatched()
def bed_of_nails_unpool2d(x: torch.Tensor, scale: int | tuple[int, int]) -> torch.Tensor:
    """Bed-of-nails unpooling: each value at the top-left of its sh x sw block, zeros elsewhere.

    x (Tensor[N, C, H, W]), scale (int or (sh, sw))
    Returns Tensor[N, C, H * sh, W * sw] with out[..., i * sh, j * sw] = x[..., i, j].
    An unbatched x (Tensor[C, H, W]) gives Tensor[C, H * sh, W * sw].
    """
    check_4d(x)
    sh, sw = positive_pair(scale, "scale")
    # BEGIN SOLUTION
    N, C, H, W = x.shape
    out = x.new_zeros(N, C, H * sh, W * sw)
    out[:, :, ::sh, ::sw] = x
    return out
    # END SOLUTION


def max_unpool_output_size(
    input_size: tuple[int, int],
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    output_size: Sequence[int] | None,
) -> tuple[int, int]:
    """The (H_out, W_out) of max unpooling: (H - 1) * stride - 2 * padding + kernel, unless given."""
    default = tuple(
        (size - 1) * s - 2 * p + k
        for size, k, s, p in zip(input_size, kernel_size, stride, padding, strict=True)
    )
    if output_size is None:
        return default  # type: ignore[return-value]
    size = tuple(int(v) for v in output_size)[-2:]
    if len(size) != 2:
        raise ValueError(f"output_size must end with (H_out, W_out), got {tuple(output_size)!r}")
    for got, base, s in zip(size, default, stride, strict=True):
        if not base - s < got < base + s:
            raise ValueError(
                f"output_size {size} is invalid: each side must lie strictly between "
                f"{tuple(b - st for b, st in zip(default, stride, strict=True))} and "
                f"{tuple(b + st for b, st in zip(default, stride, strict=True))}"
            )
    return size  # type: ignore[return-value]


@accepts_unbatched("indices")
def max_unpool2d(
    x: torch.Tensor,
    indices: torch.Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    output_size: Sequence[int] | None = None,
) -> torch.Tensor:
    """Max unpooling: put each value back where max pooling found it, zeros elsewhere.

    x (Tensor[N, C, H, W]), indices (int64 Tensor[N, C, H, W]) as returned by
    `F.max_pool2d(..., return_indices=True)`: flat positions inside each (n, c) plane of the output.
    Returns Tensor[N, C, H_out, W_out] with H_out = (H - 1) * stride - 2 * padding + kernel_size
    unless `output_size` says otherwise; equals `F.max_unpool2d`. An unbatched x and indices
    (Tensor[C, H, W]) give Tensor[C, H_out, W_out], as in PyTorch.
    """
    check_4d(x)
    check_4d(indices, "indices")
    if indices.shape != x.shape:
        raise ValueError(f"indices must have the shape of x {tuple(x.shape)}, got {tuple(indices.shape)}")
    if indices.dtype != torch.int64:
        raise ValueError(f"indices must be int64, got {indices.dtype}")
    kernel = positive_pair(kernel_size, "kernel_size")
    strides = kernel if stride is None else positive_pair(stride, "stride")
    pads = non_negative_pair(padding, "padding")
    H_out, W_out = max_unpool_output_size(x.shape[-2:], kernel, strides, pads, output_size)
    if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= H_out * W_out):
        raise ValueError(
            f"indices must lie in [0, {H_out * W_out}) for an output of {H_out}x{W_out}, "
            f"got values in [{int(indices.min())}, {int(indices.max())}]"
        )
    # BEGIN SOLUTION
    N, C, H, W = x.shape
    out = x.new_zeros(N, C, H_out * W_out)
    out = out.scatter(2, indices.reshape(N, C, H * W), x.reshape(N, C, H * W))  # per (n, c) plane
    return out.reshape(N, C, H_out, W_out)
    # END SOLUTION
