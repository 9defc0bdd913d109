"""Transpose convolution (loops and vectorised) against F.conv_transpose2d: values and gradients, batched
and unbatched, on random configurations and on PyTorch's own sample inputs (its OpInfo database)."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from exercise_code.layers import conv_transpose2d, conv_transpose2d_loops, transpose_output_size
from exercise_code.layers._validate import accepts_unbatched

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
    for x in (torch.randn(4, 3), torch.randn(1, 1, 4, 3, 3)):
        for fn in (conv_transpose2d, conv_transpose2d_loops):
            with pytest.raises(ValueError, match=r"x must have shape \(N, C, H, W\) or \(C, H, W\), got"):
                fn(x, torch.randn(4, 3, 2, 2))
    with pytest.raises(TypeError, match="weight must be a torch.Tensor"):
        conv_transpose2d_loops(torch.randn(1, 4, 3, 3), [[1.0]])


@pytest.mark.parametrize("seed", range(60))
def test_unbatched_matches_torch_values_and_grads(seed):
    """x of shape (C_in, H, W), as torch takes it: Tensor[C_out, H_out, W_out], equal values and gradients."""
    cfg = random_config(seed)
    x, w, b = _tensors(cfg, seed)
    x = x[0].clone()  # (C_in, H, W)
    leaves = [t.requires_grad_(True) for t in (x, w, b) if t is not None]
    theirs = F.conv_transpose2d(x, w, b, **_kwargs(cfg))
    ours = conv_transpose2d(x, w, b, **_kwargs(cfg))
    assert ours.shape == theirs.shape and ours.dim() == 3, f"{tuple(ours.shape)} vs {tuple(theirs.shape)}"
    torch.testing.assert_close(ours, theirs, msg=lambda m: f"{m}\nconfig: {cfg}")
    upstream = torch.randn_like(theirs)
    got = torch.autograd.grad(ours, leaves, upstream)
    want = torch.autograd.grad(theirs, leaves, upstream)
    for name, a, e in zip(("x", "weight", "bias"), got, want, strict=False):
        torch.testing.assert_close(a, e, msg=lambda m, name=name: f"grad of {name}: {m}\nconfig: {cfg}")
    args = (x.detach(), w.detach(), None if b is None else b.detach(), cfg["stride"], cfg["padding"])
    s, p = _both(cfg["stride"]), _both(cfg["padding"])
    sizes = [transpose_output_size(cfg[d], cfg["kernel"][i], s[i], p[i]) for i, d in enumerate("HW")]
    if cfg["groups"] == 1 and cfg["dilation"] in (1, (1, 1)) and min(sizes) >= 1:  # what the loops take
        loops = conv_transpose2d_loops(*args)
        torch.testing.assert_close(loops, F.conv_transpose2d(*args), msg=lambda m: f"{m}\nconfig: {cfg}")


@pytest.mark.parametrize("shape", [(3, 4, 5), (1, 2, 2), (2, 7, 3)])
@pytest.mark.parametrize(("stride", "padding"), [(1, 0), (2, 1), ((3, 2), (0, 1))])
def test_unbatched_loops_match_torch(shape, stride, padding):
    g = torch.Generator().manual_seed(sum(shape))
    x = torch.randn(*shape, generator=g, dtype=torch.float64)
    w = torch.randn(shape[0], 2, 3, 2, generator=g, dtype=torch.float64)
    b = torch.randn(2, generator=g, dtype=torch.float64)
    want = F.conv_transpose2d(x, w, b, stride, padding)
    torch.testing.assert_close(conv_transpose2d_loops(x, w, b, stride, padding), want)
    torch.testing.assert_close(conv_transpose2d(x, w, b, stride, padding), want)


def _opinfo_samples(requires_grad: bool) -> list:
    """PyTorch's own sample inputs of F.conv_transpose2d (CPU, float32), or a skip without its test tools."""
    try:
        from torch.testing._internal.common_methods_invocations import op_db
    except Exception as exc:  # an internal module: absent, or missing its test-only dependencies (expecttest)
        pytest.skip(f"torch.testing._internal is unavailable: {type(exc).__name__}: {exc}")
    ops = [op for op in op_db if op.name == "nn.functional.conv_transpose2d"]
    if not ops:
        pytest.skip("this torch has no OpInfo for nn.functional.conv_transpose2d")
    return [s for op in ops for s in op.sample_inputs("cpu", torch.float32, requires_grad=requires_grad)]


def _describe(sample) -> str:
    args = [tuple(a.shape) if isinstance(a, torch.Tensor) else a for a in sample.args]
    return f"input {tuple(sample.input.shape)}, args {args}, kwargs {sample.kwargs}"


def test_torch_opinfo_samples_are_accepted_and_match():
    """Every sample PyTorch's OpInfo tests F.conv_transpose2d with (batched and unbatched inputs, groups,
    dilation, output_padding, with and without bias) is accepted and gives torch's values and gradients."""
    samples = _opinfo_samples(requires_grad=True)
    assert any(s.input.dim() == 3 for s in samples), "no unbatched sample: the test would prove less"
    for sample in samples:
        what = _describe(sample)
        ours = conv_transpose2d(sample.input, *sample.args, **sample.kwargs)
        theirs = F.conv_transpose2d(sample.input, *sample.args, **sample.kwargs)
        torch.testing.assert_close(ours, theirs, msg=lambda m, what=what: f"{m}\n{what}")
        leaves = [t for t in (sample.input, *sample.args) if isinstance(t, torch.Tensor) and t.requires_grad]
        upstream = torch.randn_like(theirs)
        for a, e in zip(
            torch.autograd.grad(ours, leaves, upstream),
            torch.autograd.grad(theirs, leaves, upstream),
            strict=True,
        ):
            torch.testing.assert_close(a, e, msg=lambda m, what=what: f"gradient: {m}\n{what}")


def test_unbatched_input_reaches_the_body_batched():
    """`accepts_unbatched` hands the function 4-D tensors (x and the arguments it names) and removes the
    batch dimension from the result, so a skeleton written for (N, C, H, W) works unbatched unchanged."""
    seen = []

    @accepts_unbatched("indices")
    def f(x, scale=1, indices=None):
        seen.append((x.dim(), None if indices is None else indices.dim(), scale))
        return x * scale

    out = f(torch.ones(2, 3, 4), indices=torch.zeros(2, 3, 4), scale=2)
    assert out.shape == (2, 3, 4) and bool((out == 2).all())
    assert f(torch.ones(1, 2, 3, 4)).shape == (1, 2, 3, 4)  # batched input passes through untouched
    assert seen == [(4, 4, 2), (4, None, 1)]
    assert f.__name__ == "f"
    with pytest.raises(ValueError, match=r"x must have shape \(N, C, H, W\) or \(C, H, W\), got \(3, 4\)"):
        f(torch.ones(3, 4))
