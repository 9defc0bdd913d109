"""Public checks of `exercise_code.layers` against PyTorch's own operators on a few seeded configurations.

The argument combinations live in `settings.LAYERS`; every check names the combination that failed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from exercise_code import layers

from .inputs import expect_tensor as _tensor
from .inputs import randn as _randn
from .inputs import tie_free
from .runner import CheckFailed, check, compare
from .settings import LAYERS
from .shortcuts import shortcut_check


@check("layers", "nearest_unpool2d")
def _nearest() -> None:
    x = _randn(2, 3, 3, 5, seed=0)
    for scale in LAYERS.nearest_scales:
        expected = F.interpolate(x, scale_factor=scale, mode="nearest")
        compare(
            layers.nearest_unpool2d(x, scale),
            expected,
            "nearest_unpool2d vs F.interpolate",
            f"scale={scale}",
        )


@check("layers", "bed_of_nails_unpool2d")
def _bed_of_nails() -> None:
    x = _randn(1, 2, 2, 3, seed=1)
    for sh, sw in LAYERS.bed_of_nails_scales:
        expected = torch.zeros(1, 2, 2 * sh, 3 * sw)
        expected[:, :, 0::sh, 0::sw] = x  # each value at the top-left corner (row 0, column 0) of its block
        got = layers.bed_of_nails_unpool2d(x, (sh, sw))
        compare(
            got,
            expected,
            "bed_of_nails_unpool2d (values at the top-left corners)",
            f"scale={(sh, sw)}",
        )


@check("layers", "max_unpool2d")
def _max_unpool() -> None:
    x = tie_free(2, 3, 6, 7, generator=torch.Generator().manual_seed(2))  # no ties for the max
    for k, s, p in LAYERS.max_unpool:
        pooled, idx = F.max_pool2d(x, k, s, p, return_indices=True)
        expected = F.max_unpool2d(pooled, idx, k, s, p, output_size=x.shape[-2:])
        got = layers.max_unpool2d(pooled, idx, k, s, p, output_size=x.shape[-2:])
        compare(
            got,
            expected,
            "max_unpool2d vs F.max_unpool2d",
            f"kernel_size={k}, stride={s}, padding={p}",
        )


def _conv_matrix_reference(conv, shape: tuple[int, ...]) -> torch.Tensor:
    """The matrix of the linear map `conv` on inputs of `shape`: column j is conv(e_j)."""
    n = 1
    for size in shape:
        n *= size
    basis = torch.eye(n).view(n, 1, *shape)  # (n, 1, *shape): one unit input per batch element
    return conv(basis).reshape(n, -1).T  # (outputs, n)


@check("layers", "conv1d_as_matrix (lecture example)")
def _conv1d_lecture() -> None:
    M = layers.conv1d_as_matrix(torch.tensor([1.0, 2.0, 3.0]), 4, stride=2, padding=1)
    expected = torch.tensor([[2.0, 3.0, 0.0, 0.0], [0.0, 1.0, 2.0, 3.0]])
    compare(
        M,
        expected,
        "conv1d_as_matrix",
        "kernel [x, y, z] = [1, 2, 3], input length 4, stride 2, padding 1",
    )


@check("layers", "conv1d_as_matrix vs F.conv1d and F.conv_transpose1d")
def _conv1d_matrix() -> None:
    w, length = _randn(3, seed=3), 9
    for s, p in LAYERS.conv1d:
        context = f"kernel size 3, input length {length}, stride={s}, padding={p}"
        expected = _conv_matrix_reference(
            lambda b, s=s, p=p: F.conv1d(b, w.view(1, 1, 3), stride=s, padding=p), (length,)
        )
        M = _tensor(layers.conv1d_as_matrix(w, length, stride=s, padding=p), "conv1d_as_matrix")
        compare(M, expected, "conv1d_as_matrix (column j = F.conv1d of the unit vector e_j)", context)
        y = _randn(M.shape[0], seed=4)
        extra = length - ((M.shape[0] - 1) * s - 2 * p + 3)  # output_padding that gives back `length`
        up = F.conv_transpose1d(y.view(1, 1, -1), w.view(1, 1, 3), stride=s, padding=p, output_padding=extra)
        compare(M.T @ y, up.flatten(), "M.T @ y vs F.conv_transpose1d", context)


@check("layers", "conv2d_as_matrix vs F.conv2d and F.conv_transpose2d")
def _conv2d_matrix() -> None:
    w, shape = _randn(3, 2, seed=6), (5, 6)
    for s, p in LAYERS.conv2d:
        context = f"kernel 3 x 2, input 5 x 6, stride={s}, padding={p}"
        expected = _conv_matrix_reference(
            lambda b, s=s, p=p: F.conv2d(b, w.view(1, 1, 3, 2), stride=s, padding=p), shape
        )
        M = _tensor(layers.conv2d_as_matrix(w, shape, stride=s, padding=p), "conv2d_as_matrix")
        compare(M, expected, "conv2d_as_matrix (column j = F.conv2d of the unit image e_j)", context)
        out_shape = F.conv2d(torch.zeros(1, 1, *shape), w.view(1, 1, 3, 2), stride=s, padding=p).shape
        y = _randn(*out_shape, seed=7)
        up = F.conv_transpose2d(y, w.view(1, 1, 3, 2), stride=s, padding=p)
        extra_h, extra_w = shape[0] - up.shape[-2], shape[1] - up.shape[-1]
        up = F.pad(up, (0, extra_w, 0, extra_h))  # rows/columns the stride skipped receive nothing
        compare(M.T @ y.flatten(), up.flatten(), "M.T @ y vs F.conv_transpose2d", context)


@check("layers", "conv_transpose2d_loops")
def _loops() -> None:
    x, w, b = _randn(2, 4, 3, 5, seed=8), _randn(4, 3, 4, 3, seed=9), _randn(3, seed=10)
    for case in LAYERS.transpose_loops:
        expected = F.conv_transpose2d(x, w, b, case.stride, case.padding)
        got = layers.conv_transpose2d_loops(x, w, b, case.stride, case.padding)
        compare(got, expected, "conv_transpose2d_loops vs F.conv_transpose2d", str(case))


@check("layers", "conv_transpose2d")
def _vectorised() -> None:
    x = _randn(2, 4, 5, 6, seed=11)
    for i, case in enumerate(LAYERS.transpose):
        w = _randn(4, 6 // case.groups, 3, 4, seed=20 + i)
        b = _randn(6, seed=30 + i)
        expected = F.conv_transpose2d(x, w, b, **case.kwargs())
        got = layers.conv_transpose2d(x, w, b, **case.kwargs())
        compare(got, expected, "conv_transpose2d vs F.conv_transpose2d", str(case))


@check("layers", "conv_transpose2d gradients")
def _vectorised_grad() -> None:
    x = _randn(1, 2, 4, 4, seed=12).requires_grad_(True)
    w = _randn(2, 3, 3, 3, seed=13).requires_grad_(True)
    out = _tensor(layers.conv_transpose2d(x, w, None, stride=2, padding=1), "conv_transpose2d")
    if not out.requires_grad:
        raise CheckFailed("conv_transpose2d: the output does not depend on x and weight through autograd")
    gx, gw = torch.autograd.grad(out.sum(), (x, w), allow_unused=True)
    ex, ew = torch.autograd.grad(F.conv_transpose2d(x, w, None, 2, 1).sum(), (x, w))
    for got, expected, what in ((gx, ex, "x"), (gw, ew, "weight")):
        if got is None:
            raise CheckFailed(f"conv_transpose2d: the output does not depend on {what} through autograd")
        compare(got, expected, f"gradient with respect to {what}", "stride=2, padding=1")


@check("layers", "bilinear_kernel vs F.interpolate")
def _bilinear() -> None:
    x = _randn(1, 2, 6, 6, seed=14)
    for s in LAYERS.bilinear_strides:
        w = _tensor(layers.bilinear_kernel(2, 2, 2 * s), f"bilinear_kernel(2, 2, {2 * s})")
        if tuple(w.shape) != (2, 2, 2 * s, 2 * s):
            raise CheckFailed(
                f"bilinear_kernel(2, 2, {2 * s}): expected shape {(2, 2, 2 * s, 2 * s)}, got {tuple(w.shape)}"
            )
        up = F.conv_transpose2d(x, w.float(), stride=s, padding=s // 2)
        ref = F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)
        context = f"kernel {2 * s}, stride {s}, padding {s // 2}, pixels at least {s} from the border"
        compare(up[..., s:-s, s:-s], ref[..., s:-s, s:-s], "upsampled with bilinear_kernel", context)


@check("layers", "ConvTranspose2d module")
def _conv_module() -> None:
    theirs = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1)
    ours = layers.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1)
    try:
        ours.load_state_dict(theirs.state_dict())
    except RuntimeError as exc:
        raise CheckFailed(
            f"ConvTranspose2d cannot load torch.nn.ConvTranspose2d's state_dict: {exc}"
        ) from None
    x = _randn(2, 4, 5, 5, seed=15)
    compare(
        ours(x),
        theirs(x),
        "ConvTranspose2d vs torch.nn.ConvTranspose2d",
        "4 -> 6 channels, kernel 3, stride 2",
    )


@check("layers", "MaxUnpool2d module")
def _unpool_module() -> None:
    x = tie_free(2, 3, 7, 7, generator=torch.Generator().manual_seed(16))
    pooled, idx = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    expected = torch.nn.MaxUnpool2d(3, 2, 1)(pooled, idx, output_size=x.shape)
    got = layers.MaxUnpool2d(3, 2, 1)(pooled, idx, output_size=x.shape)
    compare(
        got,
        expected,
        "MaxUnpool2d vs torch.nn.MaxUnpool2d",
        "kernel_size=3, stride=2, padding=1, output 7 x 7",
    )


shortcut_check("layers", "exercise_code.layers")
