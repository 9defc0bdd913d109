"""The kit's modules load torch.nn state_dicts (and back) and compute the same thing, batched or not."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import tie_free
from torch import nn

from exercise_code.layers import ConvTranspose2d, MaxUnpool2d


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, output_padding=1),
        dict(
            in_channels=4, out_channels=6, kernel_size=(2, 5), stride=(1, 3), groups=2, bias=False, dilation=2
        ),
    ],
)
def test_state_dict_both_ways(kwargs):
    torch.manual_seed(0)
    ours, theirs = ConvTranspose2d(**kwargs), nn.ConvTranspose2d(**kwargs)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()
    }
    x = torch.randn(2, 4, 5, 6)
    ours.load_state_dict(theirs.state_dict())
    torch.testing.assert_close(ours(x), theirs(x))
    theirs.load_state_dict(ConvTranspose2d(**kwargs).state_dict())
    ours.load_state_dict(theirs.state_dict())
    torch.testing.assert_close(ours(x), theirs(x))


def test_default_init_matches_torch_statistics():
    torch.manual_seed(1)
    ours = ConvTranspose2d(64, 32, 4)
    torch.manual_seed(1)
    theirs = nn.ConvTranspose2d(64, 32, 4)
    torch.testing.assert_close(ours.weight, theirs.weight)
    torch.testing.assert_close(ours.bias, theirs.bias)


def test_output_size_argument():
    torch.manual_seed(2)
    ours = ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    theirs = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(1, 2, 4, 4)
    torch.testing.assert_close(ours(x, output_size=(8, 8)), theirs(x, output_size=(8, 8)))
    with pytest.raises(ValueError, match="output_size"):
        ours(x, output_size=(12, 12))


def test_groups_error():
    with pytest.raises(ValueError, match="divisible by groups 4"):
        ConvTranspose2d(6, 4, 3, groups=4)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(in_channels=3, out_channels=2, kernel_size=3),
        dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, output_padding=1),
        dict(
            in_channels=4, out_channels=6, kernel_size=(2, 5), stride=(1, 3), groups=2, bias=False, dilation=2
        ),
        dict(in_channels=2, out_channels=2, kernel_size=4, stride=2, padding=1),
        dict(in_channels=6, out_channels=3, kernel_size=(3, 1), stride=(3, 2), padding=(1, 0), groups=3),
    ],
)
@pytest.mark.parametrize(("H", "W"), [(5, 6), (1, 1), (4, 3)])
def test_conv_transpose_unbatched_matches_torch(kwargs, H, W):
    """Unbatched x (C_in, H, W) gives (C_out, H_out, W_out) as in nn.ConvTranspose2d: values and grads."""
    torch.manual_seed(H * W)
    ours, theirs = ConvTranspose2d(**kwargs).double(), nn.ConvTranspose2d(**kwargs).double()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(kwargs["in_channels"], H, W, dtype=torch.float64, requires_grad=True)
    got, want = ours(x), theirs(x)
    assert got.shape == want.shape and got.dim() == 3
    torch.testing.assert_close(got, want)
    upstream = torch.randn_like(want)
    for a, e in zip(
        torch.autograd.grad(got, [x, *ours.parameters()], upstream),
        torch.autograd.grad(want, [x, *theirs.parameters()], upstream),
        strict=True,
    ):
        torch.testing.assert_close(a, e)


def test_conv_transpose_unbatched_output_size():
    torch.manual_seed(3)
    ours = ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    theirs = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 4, 5)
    for size in ((7, 9), (8, 10), (3, 8, 10)):
        torch.testing.assert_close(ours(x, output_size=size), theirs(x, output_size=size))


@pytest.mark.parametrize(("kernel", "stride", "padding"), [(2, None, 0), (3, 2, 1), ((2, 3), (2, 1), (1, 0))])
def test_max_unpool_module_unbatched_matches_torch(kernel, stride, padding):
    g = torch.Generator().manual_seed(4)
    x = tie_free(3, 8, 7, generator=g)  # (C, H, W)
    pooled, idx = F.max_pool2d(x, kernel, stride, padding, return_indices=True)
    ours, theirs = MaxUnpool2d(kernel, stride, padding), nn.MaxUnpool2d(kernel, stride, padding)
    want = theirs(pooled, idx, output_size=x.shape[-2:])
    got = ours(pooled, idx, output_size=x.shape[-2:])
    assert got.shape == want.shape == x.shape
    torch.testing.assert_close(got, want)


def test_torch_module_info_samples_match():
    """PyTorch's own ModuleInfo inputs of nn.ConvTranspose2d (batched and unbatched) give the same output."""
    try:
        from torch.testing._internal.common_modules import module_db
    except Exception as exc:  # an internal module: absent, or missing its test-only dependencies (expecttest)
        pytest.skip(f"torch.testing._internal is unavailable: {type(exc).__name__}: {exc}")
    infos = [m for m in module_db if m.module_cls is nn.ConvTranspose2d]
    if not infos:
        pytest.skip("this torch has no ModuleInfo for nn.ConvTranspose2d")
    checked = 0
    for info in infos:
        for sample in info.module_inputs_func(
            info, device="cpu", dtype=torch.float32, requires_grad=False, training=False
        ):
            torch.manual_seed(checked)
            args, kwargs = sample.constructor_input.args, sample.constructor_input.kwargs
            ours, theirs = ConvTranspose2d(*args, **kwargs), nn.ConvTranspose2d(*args, **kwargs)
            theirs.load_state_dict(ours.state_dict())
            inputs = sample.forward_input
            torch.testing.assert_close(
                ours(*inputs.args, **inputs.kwargs), theirs(*inputs.args, **inputs.kwargs)
            )
            checked += 1
    assert checked
