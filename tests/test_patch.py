"""Patch extraction, the patch classifier, and its exact fully convolutional twin."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from exercise_code.models import (
    DenseMaxPool2d,
    PatchClassifier,
    extract_patches,
    fully_convolutional,
    segment_by_patches,
)


def test_patches_are_centred_row_major_with_reflect_padding():
    x = torch.arange(2 * 1 * 4 * 5, dtype=torch.float64).view(2, 1, 4, 5)
    patches = extract_patches(x, 3)
    assert patches.shape == (2 * 4 * 5, 1, 3, 3)
    padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
    for n, i, j in [(0, 0, 0), (0, 2, 3), (1, 3, 4), (1, 1, 0)]:
        torch.testing.assert_close(patches[n * 20 + i * 5 + j, 0], padded[n, 0, i : i + 3, j : j + 3])
        assert patches[n * 20 + i * 5 + j, 0, 1, 1] == x[n, 0, i, j]  # centre pixel


def test_zero_padding_or_column_major_would_be_caught():
    x = torch.rand(1, 1, 5, 5) + 1
    patches = extract_patches(x, 3)
    assert (patches[0] != 0).all()  # a zero-padded corner patch would contain zeros
    assert patches[1, 0, 1, 1] == x[0, 0, 0, 1]  # second patch is one step right, not down


@pytest.mark.parametrize("patch_size", [11, 15, 21])
@pytest.mark.parametrize("size", [(13, 17), (16, 16)])
def test_dense_twin_equals_patchwise_classification(patch_size, size):
    torch.manual_seed(patch_size)
    model = PatchClassifier(3, 11, patch_size).double().eval()
    x = torch.rand(2, 3, *size, dtype=torch.float64)
    per_patch = model(extract_patches(x, patch_size)).view(2, *size, 11).permute(0, 3, 1, 2)
    dense = fully_convolutional(model)
    out = dense(x)
    assert out.shape == (2, 11, *size)
    torch.testing.assert_close(out, per_patch, atol=1e-10, rtol=0)
    labels = segment_by_patches(model, x, batch_size=50)
    assert torch.equal(labels, per_patch.argmax(1))


def test_twin_in_float32_within_1e_4_and_shares_no_weights():
    torch.manual_seed(0)
    model = PatchClassifier(3, 5, 15).eval()
    x = torch.rand(1, 3, 20, 20)
    dense = fully_convolutional(model)
    per_patch = model(extract_patches(x, 15)).view(1, 20, 20, 5).permute(0, 3, 1, 2)
    assert (dense(x) - per_patch).abs().max() < 1e-4
    before = dense(x).clone()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    torch.testing.assert_close(dense(x), before)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: extract_patches(torch.rand(1, 1, 5, 5), 4), "positive odd int"),
        (lambda: extract_patches(torch.rand(1, 5, 5), 3), r"Tensor\[N, C, H, W\]"),
        (lambda: extract_patches(torch.rand(1, 1, 3, 3), 7), "too large for reflect padding"),
        (lambda: PatchClassifier(3, 2, 9), "at least 11"),
        (lambda: segment_by_patches(PatchClassifier(1, 2, 11), torch.rand(1, 1, 12, 12), 0), "batch_size"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(("patch_size", "side"), [(11, 1), (15, 2), (21, 3)])
def test_twin_follows_the_classifier_geometry(patch_size, side):
    """Convolutions keep their kernels on a grid dilated by the strides of the pools before them (1, then
    2, then 4); the first Linear becomes a side x side convolution over the last map, the second a 1x1."""
    torch.manual_seed(0)
    model = PatchClassifier(3, 5, patch_size, width=4, hidden=8)
    body = fully_convolutional(model).body
    kinds = [type(m).__name__ for m in body]
    assert kinds == [
        "Conv2d",
        "ReLU",
        "DenseMaxPool2d",
        "Conv2d",
        "ReLU",
        "DenseMaxPool2d",
        "Conv2d",
        "ReLU",
        "Conv2d",
    ]
    convs = [m for m in body if isinstance(m, torch.nn.Conv2d)]
    assert [(c.kernel_size, c.dilation) for c in convs[:3]] == [
        ((3, 3), (1, 1)),
        ((3, 3), (2, 2)),
        ((side, side), (4, 4)),
    ]
    assert convs[3].kernel_size == (1, 1)  # (its dilation does not matter)
    assert [m.dilation for m in body if isinstance(m, DenseMaxPool2d)] == [1, 2]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(3, 4), (4, 8), (8, 8), (8, 5)]


def test_fully_convolutional_rejects_other_models():
    with pytest.raises(TypeError, match="PatchClassifier"):
        fully_convolutional(torch.nn.Linear(2, 2))


@pytest.mark.parametrize(("kernel", "dilation"), [(2, 1), (2, 2), (3, 4), ((2, 3), 2), (1, 3)])
def test_dense_max_pool_equals_torch_stride_one_pool(kernel, dilation):
    x = torch.randn(2, 3, 17, 14, dtype=torch.float64, requires_grad=True)
    got = DenseMaxPool2d(kernel, dilation)(x)
    want = F.max_pool2d(x, kernel, stride=1, dilation=dilation)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    g = torch.randn_like(want)
    (grad_got,) = torch.autograd.grad(got, x, g)
    (grad_want,) = torch.autograd.grad(want, x, g)
    torch.testing.assert_close(grad_got, grad_want)


def test_dense_max_pool_rejects_a_window_larger_than_the_input():
    with pytest.raises(ValueError, match="smaller than the dilated pooling window"):
        DenseMaxPool2d(3, 4)(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="positive"):
        DenseMaxPool2d(0)
