"""Public checks of `exercise_code.layers` against PyTorch's own operators (a few fixed configurations)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from exercise_code import layers

from .runner import CheckFailed, check, compare


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@check("layers", "nearest_unpool2d")
def _nearest() -> None:
    x = _randn(2, 3, 3, 5, seed=0)
    for scale in (2, (2, 3), (1, 4)):
        expected = F.interpolate(x, scale_factor=scale, mode="nearest")
        compare(layers.nearest_unpool2d(x, scale), expected, "nearest_unpool2d", f"scale={scale}")


@check("layers", "bed_of_nails_unpool2d")
def _bed_of_nails() -> None:
    x = _randn(1, 2, 2, 3, seed=1)
    for sh, sw in ((2, 2), (3, 2)):
        expected = torch.zeros(1, 2, 2 * sh, 3 * sw)
        expected[:, :, ::sh, ::sw] = x  # top-left corner of each block
        compare(
            layers.bed_of_nails_unpool2d(x, (sh, sw)), expected, "bed_of_nails_unpool2d", f"scale={(sh, sw)}"
        )


@check("layers", "max_unpool2d")
def _max_unpool() -> None:
    x = torch.randperm(2 * 3 * 6 * 7, generator=torch.Generator().manual_seed(2)).float().view(2, 3, 6, 7)
    for k, s, p in ((2, 2, 0), (3, 2, 1), ((2, 3), (2, 1), 0)):
        pooled, idx = F.max_pool2d(x, k, s, p, return_indices=True)
        expected = F.max_unpool2d(pooled, idx, k, s, p, output_size=x.shape[-2:])
        got = layers.max_unpool2d(pooled, idx, k, s, p, output_size=x.shape[-2:])
        compare(got, expected, "max_unpool2d", f"kernel={k}, stride={s}, padding={p}")


@check("layers", "conv1d_as_matrix (lecture example)")
def _conv1d_lecture() -> None:
    M = layers.conv1d_as_matrix(torch.tensor([1.0, 2.0, 3.0]), 4, stride=2, padding=1)
    compare(
        M,
        torch.tensor([[2.0, 3.0, 0.0, 0.0], [0.0, 1.0, 2.0, 3.0]]),
        "conv1d_as_matrix",
        "kernel [x, y, z] = [1, 2, 3], stride 2, padding 1, length 4",
    )


@check("layers", "conv1d_as_matrix and its transpose")
def _conv1d_matrix() -> None:
    w, x = _randn(3, seed=3), _randn(9, seed=4)
    for s, p in ((1, 0), (2, 1), (3, 2)):
        M = layers.conv1d_as_matrix(w, 9, stride=s, padding=p)
        conv = F.conv1d(x.view(1, 1, 9), w.view(1, 1, 3), stride=s, padding=p).flatten()
        compare(M @ x if isinstance(M, torch.Tensor) else M, conv, "M @ x", f"stride={s}, padding={p}")
        y = _randn(conv.numel(), seed=5)
        op = 9 - ((conv.numel() - 1) * s - 2 * p + 3)
        up = F.conv_transpose1d(y.view(1, 1, -1), w.view(1, 1, 3), stride=s, padding=p, output_padding=op)
        compare(M.T @ y, up.flatten(), "M.T @ y vs conv_transpose1d", f"stride={s}, padding={p}")


@check("layers", "conv2d_as_matrix and its transpose")
def _conv2d_matrix() -> None:
    w, x = _randn(3, 2, seed=6), _randn(5, 6, seed=7)
    for s, p in ((1, 0), (2, 1), ((2, 1), (0, 1))):
        M = layers.conv2d_as_matrix(w, (5, 6), stride=s, padding=p)
        conv = F.conv2d(x.view(1, 1, 5, 6), w.view(1, 1, 3, 2), stride=s, padding=p)
        compare(
            M @ x.flatten() if isinstance(M, torch.Tensor) else M,
            conv.flatten(),
            "M @ x",
            f"stride={s}, padding={p}",
        )


def _transpose_cases() -> list[dict]:
    return [
        dict(stride=2, padding=1),
        dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2)),
        dict(stride=1, padding=2, dilation=2),
        dict(stride=2, padding=1, output_padding=1, groups=2),
    ]


@check("layers", "conv_transpose2d_loops")
def _loops() -> None:
    x, w, b = _randn(2, 4, 3, 5, seed=8), _randn(4, 3, 4, 3, seed=9), _randn(3, seed=10)
    for s, p in ((1, 0), (2, 1), ((3, 2), (1, 0))):
        expected = F.conv_transpose2d(x, w, b, s, p)
        compare(
            layers.conv_transpose2d_loops(x, w, b, s, p),
            expected,
            "conv_transpose2d_loops",
            f"stride={s}, padding={p}",
        )


@check("layers", "conv_transpose2d")
def _vectorised() -> None:
    x = _randn(2, 4, 5, 6, seed=11)
    for i, kwargs in enumerate(_transpose_cases()):
        w = _randn(4, 6 // kwargs.get("groups", 1), 3, 4, seed=20 + i)
        b = _randn(6, seed=30 + i)
        compare(
            layers.conv_transpose2d(x, w, b, **kwargs),
            F.conv_transpose2d(x, w, b, **kwargs),
            "conv_transpose2d",
            ", ".join(f"{k}={v}" for k, v in kwargs.items()),
        )


@check("layers", "conv_transpose2d gradients")
def _vectorised_grad() -> None:
    x = _randn(1, 2, 4, 4, seed=12).requires_grad_(True)
    w = _randn(2, 3, 3, 3, seed=13).requires_grad_(True)
    out = layers.conv_transpose2d(x, w, None, stride=2, padding=1)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        raise CheckFailed("conv_transpose2d: the output does not depend on x and weight through autograd")
    gx, gw = torch.autograd.grad(out.sum(), (x, w))
    ex, ew = torch.autograd.grad(F.conv_transpose2d(x, w, None, 2, 1).sum(), (x, w))
    compare(gx, ex, "gradient w.r.t. x")
    compare(gw, ew, "gradient w.r.t. weight")


@check("layers", "bilinear_kernel")
def _bilinear() -> None:
    x = _randn(1, 2, 6, 6, seed=14)
    for s in (2, 4):
        w = layers.bilinear_kernel(2, 2, 2 * s)
        if not isinstance(w, torch.Tensor) or w.shape != (2, 2, 2 * s, 2 * s):
            raise CheckFailed(f"bilinear_kernel(2, 2, {2 * s}): expected shape (2, 2, {2 * s}, {2 * s})")
        up = F.conv_transpose2d(x, w, stride=s, padding=s // 2)
        ref = F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)
        compare(
            up[..., s:-s, s:-s], ref[..., s:-s, s:-s], "bilinear upsampling, interior pixels", f"stride {s}"
        )


@check("layers", "ConvTranspose2d module")
def _module() -> None:
    theirs = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1)
    ours = layers.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1)
    try:
        ours.load_state_dict(theirs.state_dict())
    except RuntimeError as exc:
        raise CheckFailed(
            f"ConvTranspose2d cannot load torch.nn.ConvTranspose2d's state_dict: {exc}"
        ) from None
    x = _randn(2, 4, 5, 5, seed=15)
    compare(ours(x), theirs(x), "ConvTranspose2d forward")
