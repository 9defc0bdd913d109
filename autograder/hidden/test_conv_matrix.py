"""Hidden tests: convolution as a matrix (1-D and 2-D), against F.conv1d / F.conv2d of the identity basis."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from autograder.hidden.references import (
    assert_matches,
    conv1d_matrix_reference,
    conv2d_matrix_reference,
    describe,
)

LAYERS = "exercise_code.layers"


@pytest.mark.parametrize("case", range(6))
def test_conv1d_as_matrix(submission, rng, gen, case):
    K = rng.randint(2, 5)
    if case < 2:  # stride 1, "same" length: M is square, so only its values can tell M from M.T
        K = rng.choice([3, 5])
        stride, padding = 1, K // 2
    else:
        stride, padding = rng.randint(1, 3), rng.randint(0 if case < 4 else 1, K - 1)
    length = rng.randint(K + 1, 12)
    kernel = torch.randn(K, generator=gen)
    weight = kernel if case % 2 == 0 else kernel.reshape(1, 1, K)
    expected = conv1d_matrix_reference(kernel, length, stride, padding)
    got = submission.call(f"{LAYERS}.conv1d_as_matrix", weight, length, stride=stride, padding=padding)
    what = f"conv1d_as_matrix(weight of shape {tuple(weight.shape)}, {describe(input_length=length)}, " + (
        describe(stride=stride, padding=padding) + ")"
    )
    assert_matches(got, expected, what=what, rtol=1e-5, atol=1e-5)
    x = torch.randn(length, generator=gen)  # the matrix must act like the convolution
    conv = F.conv1d(x.view(1, 1, -1), kernel.view(1, 1, -1), stride=stride, padding=padding).flatten()
    assert_matches(got @ x, conv, what=f"{what} @ x versus F.conv1d(x)")


@pytest.mark.parametrize("case", range(6))
def test_conv2d_as_matrix(submission, rng, gen, case):
    kH, kW = rng.randint(1, 3), rng.randint(2, 3)
    H, W = rng.randint(kH + 1, 7), rng.randint(kW + 1, 7)
    while H == W:  # a non-square image: row-major vs column-major flattening differ in shape too
        W = rng.randint(kW + 1, 7)
    stride = (rng.randint(1, 2), rng.randint(1, 3)) if case >= 2 else rng.randint(1, 2)
    padding = (rng.randint(0, kH - 1), rng.randint(1, kW - 1)) if case % 2 == 1 else 0
    kernel = torch.randn(kH, kW, generator=gen)
    weight = kernel if case % 3 else kernel.reshape(1, 1, kH, kW)
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    expected = conv2d_matrix_reference(kernel, (H, W), pair(stride), pair(padding))
    got = submission.call(f"{LAYERS}.conv2d_as_matrix", weight, (H, W), stride=stride, padding=padding)
    what = f"conv2d_as_matrix(weight of shape {tuple(weight.shape)}, input_shape={(H, W)}, " + (
        describe(stride=stride, padding=padding) + ")"
    )
    assert_matches(got, expected, what=what, rtol=1e-5, atol=1e-5)
