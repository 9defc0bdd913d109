"""Transpose convolution (loops and vectorised) against F.conv_transpose2d: values and gradients."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from exercise_code.layers import conv_transpose2d, conv_transpose2d_loops, transpose_output_size

SEEDS = range(240)


def _pair(rng: random.Random, lo: int, hi: int) -> int | tuple[int, int]:
    return rng.randint(lo, hi) if rng.random() < 0.4 else (rng.randint(lo, hi), rng.randint(lo, hi))


def _both(v: int | tuple[int, int]) -> tuple[int, int]:
    return v if isinstance(v, tuple) else (v, v)


def random_config(seed: int) -> dict:
    """A valid argument combination of F.conv_transpose2d (batch 1, odd sizes, non-square kernels, groups)."""
    rng = random.Random(seed)
    while True:
        groups = rng.choice([1, 1, 1, 2, 3])
        stride, dilation = _pair(rng, 1, 4), _pair(rng, 1, 3)
        kernel = (rng.randint(1, 5), rng.randint(1, 5))
        padding = _pair(rng, 0, 3)
        s, d = _both(stride), _both(dilation)
        op = tuple(rng.randint(0, max(s[i], d[i]) - 1) for i in range(2))
        output_padding = op if rng.random() < 0.5 else (op[0] if op[0] == op[1] else op)
        cfg = dict(
            N=rng.choice([1, 2, 3]),
            C_in=groups * rng.randint(1, 3),
            C_out=groups * rng.randint(1, 3),
            H=rng.randint(1, 7),
            W=rng.randint(1, 7),
            kernel=kernel,
            stride=stride,
            padding=padding,
            output_padding=output_padding,
            dilation=dilation,
            groups=groups,
            bias=rng.random() < 0.7,
        )
        p = _both(padding)
        if all(
            transpose_output_size(cfg[dim], kernel[i], s[i], p[i], _both(output_padding)[i], d[i]) >= 1
            for i, dim in enumerate(("H", "W"))
        ):
            return cfg


def _tensors(cfg: dict, seed: int, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(cfg["N"], cfg["C_in"], cfg["H"], cfg["W"], generator=g, dtype=dtype)
    w = torch.randn(cfg["C_in"], cfg["C_out"] // cfg["groups"], *cfg["kernel"], generator=g, dtype=dtype)
    b = torch.randn(cfg["C_out"], generator=g, dtype=dtype) if cfg["bias"] else None
    return x, w, b


def _kwargs(cfg: dict) -> dict:
    return {k: cfg[k] for k in ("stride", "padding", "output_padding", "dilation", "groups")}


@pytest.mark.parametrize("seed", SEEDS)
def test_vectorised_matches_torch_values_and_grads(seed):
    cfg = random_config(seed)
    x, w, b = _tensors(cfg, seed)
    leaves = [t.requires_grad_(True) for t in (x, w, b) if t is not None]
    ours = conv_transpose2d(x, w, b, **_kwargs(cfg))
    theirs = F.conv_transpose2d(x, w, b, **_kwargs(cfg))
    torch.testing.assert_close(ours, theirs, msg=lambda m: f"{m}\nconfig: {cfg}")
    upstream = torch.randn_like(theirs)
    got = torch.autograd.grad(ours, leaves, upstream)
    want = torch.autograd.grad(theirs, leaves, upstream)
    for name, a, e in zip(("x", "weight", "bias"), got, want, strict=False):
        torch.testing.assert_close(a, e, msg=lambda m, name=name: f"grad of {name}: {m}\nconfig: {cfg}")


@pytest.mark.parametrize("seed", range(200))
def test_loops_match_torch(seed):
    rng = random.Random(10_000 + seed)
    cfg = dict(
        N=rng.randint(1, 2),
        C_in=rng.randint(1, 3),
        C_out=rng.randint(1, 3),
        H=rng.randint(1, 5),
        W=rng.randint(1, 5),
        kernel=(rng.randint(1, 4), rng.randint(1, 4)),
        groups=1,
        bias=rng.random() < 0.5,
    )
    stride, padding = _pair(rng, 1, 3), _pair(rng, 0, 2)
    s, p = _both(stride), _both(padding)
    if (
        transpose_output_size(cfg["H"], cfg["kernel"][0], s[0], p[0]) < 1
        or transpose_output_size(cfg["W"], cfg["kernel"][1], s[1], p[1]) < 1
    ):
        padding = 0
    x, w, b = _tensors(cfg, seed)
    ours = conv_transpose2d_loops(x, w, b, stride, padding)
    torch.testing.assert_close(
        ours, F.conv_transpose2d(x, w, b, stride, padding), msg=lambda m: f"{m}\n{cfg}"
    )


@pytest.mark.parametrize("seed", [0, 3, 7, 11, 19])
def test_gradcheck_float64(seed):
    cfg = random_config(seed)
    x, w, b = _tensors(cfg, seed)
    inputs = tuple(t.requires_grad_(True) for t in (x, w) + ((b,) if b is not None else ()))

    def f(*args):
        return conv_transpose2d(*args[:2], args[2] if len(args) > 2 else None, **_kwargs(cfg))

    assert torch.autograd.gradcheck(f, inputs)
    x2, w2 = x[:1, :, :3, :3].detach().requires_grad_(True), w.detach().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda a, c: conv_transpose2d_loops(a, c[:, :, :2, :2], None, 2, 0), (x2, w2[:, :1])
    )


def test_lecture_example_counts_overlaps():
    """All-ones 2x2 input, all-ones 3x3 kernel, stride 2: overlaps add up to 2 and 4."""
    out = conv_transpose2d(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 3, 3), stride=2)
    expected = torch.tensor(
        [[1, 1, 2, 1, 1], [1, 1, 2, 1, 1], [2, 2, 4, 2, 2], [1, 1, 2, 1, 1], [1, 1, 2, 1, 1]],
        dtype=torch.float32,
    )
    torch.testing.assert_close(out[0, 0], expected)


def test_unflipped_or_flipped_twice_kernel_is_caught():
    """A transposed conv written as conv2d with the kernel NOT flipped differs from the real one."""
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(1, 1, 4, 4, generator=g), torch.randn(1, 1, 3, 3, generator=g)
    zero_inserted = torch.zeros(1, 1, 7, 7)
    zero_inserted[:, :, ::2, ::2] = x
    wrong = F.conv2d(F.pad(zero_inserted, (2, 2, 2, 2)), w)  # kernel not flipped
    right = F.conv2d(F.pad(zero_inserted, (2, 2, 2, 2)), w.flip(-1, -2))
    torch.testing.assert_close(conv_transpose2d(x, w, stride=2), right)
    assert not torch.allclose(conv_transpose2d(x, w, stride=2), wrong, atol=1e-3)


def test_output_size_formula():
    for H, k, s, p, op, d in [
        (4, 4, 2, 1, 0, 1),
        (5, 3, 2, 1, 1, 1),
        (7, 64, 32, 16, 0, 1),
        (3, 3, 1, 0, 1, 2),
    ]:
        x = torch.zeros(1, 1, H, H)
        out = F.conv_transpose2d(x, torch.zeros(1, 1, k, k), None, s, p, op, 1, d)
        assert out.shape[-1] == transpose_output_size(H, k, s, p, op, d)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(stride=0), "stride must be positive"),
        (dict(stride=(1, 2, 3)), "stride must be an int or a pair"),
        (dict(padding=-1), "padding must be non-negative"),
        (dict(dilation=0), "dilation must be positive"),
        (dict(output_padding=2, stride=2), r"output_padding .* must be smaller than stride"),
        (dict(groups=0), "groups must be a positive int"),
        (dict(groups=3), "in_channels 4 must be divisible by groups 3"),
        (dict(padding=10), "crops the whole output"),
        (dict(bias=torch.zeros(5)), r"bias must have shape \(3,\)"),
    ],
)
def test_errors(kwargs, match):
    x, w = torch.randn(1, 4, 3, 3), torch.randn(4, 3, 2, 2)
    with pytest.raises(ValueError, match=match):
        conv_transpose2d(x, w, **kwargs)


def test_weight_shape_errors():
    with pytest.raises(ValueError, match=r"weight must have shape \(C_in=4"):
        conv_transpose2d(torch.randn(1, 4, 3, 3), torch.randn(3, 3, 2, 2))
    with pytest.raises(ValueError, match=r"x must have shape \(N, C, H, W\)"):
        conv_transpose2d_loops(torch.randn(4, 3, 3), torch.randn(4, 3, 2, 2))
    with pytest.raises(TypeError, match="weight must be a torch.Tensor"):
        conv_transpose2d_loops(torch.randn(1, 4, 3, 3), [[1.0]])
