"""Hidden tests: unpooling, transpose convolution (loops, vectorised, module) and bilinear kernels.

Every case draws its shapes and hyper-parameters from the grading seed; references are PyTorch's own ops.
"""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autograder.hidden.references import assert_matches, bilinear_reference, describe, tie_free

LAYERS = "exercise_code.layers"


def _maybe_pair(rng: random.Random, a: int, b: int) -> int | tuple[int, int]:
    return a if a == b and rng.random() < 0.5 else (a, b)


# --- unpooling -----------------------------------------------------------------------------------------


def _scale(rng: random.Random, case: int) -> tuple[int, int]:
    if case % 2 == 0:  # different factors per axis (catches swapped ones)
        sh, sw = rng.sample(range(1, 5), 2)
    else:
        sh = sw = rng.randint(2, 4)
    return sh, sw


@pytest.mark.parametrize("case", range(6))
def test_nearest_unpool2d(submission, rng, gen, case):
    N, C, H, W = rng.randint(1, 3), rng.randint(1, 4), rng.randint(1, 6), rng.randint(1, 6)
    sh, sw = _scale(rng, case)
    scale = sh if sh == sw else (sh, sw)
    x = torch.randn(N, C, H, W, generator=gen)
    expected = F.interpolate(x, size=(H * sh, W * sw), mode="nearest")
    got = submission.call(f"{LAYERS}.nearest_unpool2d", x, scale)
    assert_matches(got, expected, what=f"nearest_unpool2d(x of shape {tuple(x.shape)}, scale={scale})")


@pytest.mark.parametrize("case", range(6))
def test_bed_of_nails_unpool2d(submission, rng, gen, case):
    N, C, H, W = rng.randint(1, 3), rng.randint(1, 4), rng.randint(1, 6), rng.randint(1, 6)
    sh, sw = _scale(rng, case)
    scale = sh if sh == sw else (sh, sw)
    x = torch.randn(N, C, H, W, generator=gen)
    expected = torch.zeros(N, C, H * sh, W * sw)
    expected[:, :, ::sh, ::sw] = x  # top-left corner of each block
    got = submission.call(f"{LAYERS}.bed_of_nails_unpool2d", x, scale)
    assert_matches(got, expected, what=f"bed_of_nails_unpool2d(x of shape {tuple(x.shape)}, scale={scale})")


def _pool_case(rng: random.Random, gen: torch.Generator, with_output_size: bool):
    """Tie-free input, its max-pool and indices; with_output_size picks a size the default formula misses."""
    k = rng.randint(2, 3)
    s = k if with_output_size else rng.choice([1, k - 1, k])
    p = rng.randint(0, k // 2)
    N, C = rng.randint(1, 2), rng.randint(2, 4)  # C > 1: indices are per (n, c) plane
    sizes = []
    for _ in range(2):
        size = rng.randint(k + 1, 9)
        # the default output size is size - (size + 2p - k) % s: it misses rows unless the remainder is 0
        while ((size + 2 * p - k) % s == 0) == with_output_size:
            size += 1
        sizes.append(size)
    x = tie_free(N, C, *sizes, generator=gen)
    pooled, indices = F.max_pool2d(x, k, s, p, return_indices=True)
    return x, pooled, indices, k, s, p


@pytest.mark.parametrize("case", range(8))
def test_max_unpool2d(submission, rng, gen, case):
    with_output_size = case % 2 == 1
    x, pooled, indices, k, s, p = _pool_case(rng, gen, with_output_size)
    kwargs: dict = {"stride": s, "padding": p} if s != k or rng.random() < 0.5 else {"padding": p}
    if with_output_size:
        kwargs["output_size"] = list(x.shape[-2:]) if rng.random() < 0.5 else list(x.shape)
    expected = F.max_unpool2d(pooled, indices, k, s, p, output_size=kwargs.get("output_size"))
    got = submission.call(f"{LAYERS}.max_unpool2d", pooled, indices, k, **kwargs)
    what = f"max_unpool2d(x of shape {tuple(pooled.shape)}, kernel_size={k}, {describe(**kwargs)})"
    assert_matches(got, expected, what=what, rtol=0, atol=0)


@pytest.mark.parametrize("case", range(3))
def test_max_unpool2d_module(submission, rng, gen, case):
    x, pooled, indices, k, s, p = _pool_case(rng, gen, with_output_size=case == 2)
    stride = None if s == k and case == 0 else s
    module = submission.call(f"{LAYERS}.MaxUnpool2d", k, stride=stride, padding=p)
    assert module.state_dict() == {}, "MaxUnpool2d has no parameters or buffers"
    output_size = list(x.shape[-2:]) if case == 2 else None
    expected = nn.MaxUnpool2d(k, stride, p)(pooled, indices, output_size=output_size)
    got = module.call("forward", pooled, indices, output_size=output_size)
    what = f"MaxUnpool2d({describe(kernel_size=k, stride=stride, padding=p)}) with output_size={output_size}"
    assert_matches(got, expected, what=what, rtol=0, atol=0)


# --- transpose convolution -----------------------------------------------------------------------------


def _transpose_case(rng: random.Random, feature: str, general: bool) -> dict:
    """Hyper-parameters of one case; `feature` is the one that must be exercised."""
    rand_all = feature == "all"
    g = rng.randint(2, 3) if feature == "groups" or (rand_all and general and rng.random() < 0.6) else 1
    d = [1, 1]
    if general and (feature == "dilation" or (rand_all and rng.random() < 0.6)):
        d = [rng.randint(2, 3), rng.randint(1, 3) if rand_all else 2]
    k = [rng.randint(2, 4), rng.randint(2, 4)] if feature != "plain" else [rng.randint(1, 4)] * 2
    s = [1, 1]
    if feature in ("stride", "output_padding", "bias") or rand_all or feature == "pairs":
        s = [rng.randint(2, 3), rng.randint(2, 3)]
    if feature in ("pairs", "all"):
        s = [rng.randint(1, 3), rng.randint(1, 3)]
        while s[0] == s[1] and feature == "pairs":
            s[1] = rng.randint(1, 3)
    p = [0, 0]
    if feature in ("padding", "pairs", "all", "output_padding"):
        p = [rng.randint(1 if feature == "padding" else 0, d[i] * (k[i] - 1)) for i in range(2)]
    op = [0, 0]
    if general and feature in ("output_padding", "all", "pairs"):
        op = [rng.randint(0, max(s[i], d[i]) - 1) for i in range(2)]
        if feature == "output_padding" and op == [0, 0]:
            op = [max(s[0], d[0]) - 1, 0]
    H, W = rng.randint(2, 6), rng.randint(2, 6)
    for i, size in enumerate((H, W)):
        while (size - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1 < 1:
            p[i] -= 1
    c_in, c_out_g = g * rng.randint(1, 2), rng.randint(1, 3)
    return {
        "N": rng.randint(1, 2),
        "H": H,
        "W": W,
        "c_in": c_in,
        "c_out": c_out_g * g,
        "k": tuple(k),
        "stride": _maybe_pair(rng, *s) if feature != "pairs" else tuple(s),
        "padding": _maybe_pair(rng, *p),
        "output_padding": _maybe_pair(rng, *op),
        "dilation": _maybe_pair(rng, *d),
        "groups": g,
        "bias": feature == "bias" or (feature in ("all", "pairs") and rng.random() < 0.5),
    }


def _tensors(case: dict, gen: torch.Generator):
    x = torch.randn(case["N"], case["c_in"], case["H"], case["W"], generator=gen)
    weight = torch.randn(case["c_in"], case["c_out"] // case["groups"], *case["k"], generator=gen)
    bias = torch.randn(case["c_out"], generator=gen) if case["bias"] else None
    return x, weight, bias


LOOP_FEATURES = ("plain", "stride", "padding", "pairs", "bias", "all")
FEATURES = ("stride", "padding", "output_padding", "dilation", "groups", "bias", "pairs", "all", "all", "all")


@pytest.mark.parametrize("case", range(len(LOOP_FEATURES)))
def test_conv_transpose2d_loops(submission, rng, gen, case):
    c = _transpose_case(rng, LOOP_FEATURES[case], general=False)
    x, weight, bias = _tensors(c, gen)
    expected = F.conv_transpose2d(x, weight, bias, c["stride"], c["padding"])
    got = submission.call(
        f"{LAYERS}.conv_transpose2d_loops", x, weight, bias, stride=c["stride"], padding=c["padding"]
    )
    what = (
        f"conv_transpose2d_loops(x {tuple(x.shape)}, weight {tuple(weight.shape)}, "
        f"bias={'yes' if bias is not None else None}, {describe(stride=c['stride'], padding=c['padding'])})"
    )
    assert_matches(got, expected, what=what)


@pytest.mark.parametrize("case", range(len(FEATURES)))
def test_conv_transpose2d(submission, rng, gen, case):
    c = _transpose_case(rng, FEATURES[case], general=True)
    x, weight, bias = _tensors(c, gen)
    params = {k: c[k] for k in ("stride", "padding", "output_padding", "dilation", "groups")}
    expected = F.conv_transpose2d(x, weight, bias, **params)
    got = submission.call(f"{LAYERS}.conv_transpose2d", x, weight, bias, **params)
    what = (
        f"conv_transpose2d(x {tuple(x.shape)}, weight {tuple(weight.shape)}, "
        f"bias={'yes' if bias is not None else None}, {describe(**params)})"
    )
    assert_matches(got, expected, what=what)


@pytest.mark.parametrize("case", range(3))
def test_conv_transpose2d_module(submission, rng, gen, case):
    c = _transpose_case(rng, ("bias", "all", "stride")[case], general=True)
    args = (c["c_in"], c["c_out"], c["k"])
    kwargs = {k: c[k] for k in ("stride", "padding", "output_padding", "groups", "bias", "dilation")}
    if case == 2:  # output_size instead of output_padding
        kwargs["output_padding"] = 0
    reference = nn.ConvTranspose2d(*args, **kwargs)
    module = submission.call(f"{LAYERS}.ConvTranspose2d", *args, **kwargs)
    what = f"ConvTranspose2d{args} with {describe(**kwargs)}"
    state = module.state_dict()
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    wanted = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert shapes == wanted, (
        f"{what}: state_dict must hold {wanted} as torch.nn.ConvTranspose2d, got {shapes}"
    )
    torch.nn.init.normal_(reference.weight, generator=gen)
    module.call("load_state_dict", reference.state_dict())
    x = torch.randn(c["N"], c["c_in"], c["H"], c["W"], generator=gen)
    if case == 2:
        s = reference.stride
        size = [reference(x).shape[2 + i] + rng.randint(0, s[i] - 1) for i in range(2)]
        with torch.no_grad():
            expected = reference(x, output_size=size)
        got = module.call("forward", x, output_size=size)
        what += f", forward(x, output_size={size})"
    else:
        with torch.no_grad():
            expected = reference(x)
        got = module(x)
    assert_matches(got, expected, what=what)


# --- bilinear kernels ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", range(6))
def test_bilinear_kernel(submission, rng, case):
    k = rng.choice([2, 4, 6, 8]) if case % 2 == 0 else rng.choice([1, 3, 5, 7])
    c_in = rng.randint(1, 4)
    c_out = c_in if case < 2 else rng.choice([c for c in range(1, 5) if c != c_in])
    expected = bilinear_reference(c_in, c_out, k)
    got = submission.call(f"{LAYERS}.bilinear_kernel", c_in, c_out, k)
    assert_matches(got, expected, what=f"bilinear_kernel({c_in}, {c_out}, {k})", rtol=1e-5, atol=1e-6)
