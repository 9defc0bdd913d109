"""Convolution as a matrix: M @ x is conv, M.T @ y is transpose conv (1-D and 2-D)."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from exercise_code.layers import conv1d_as_matrix, conv2d_as_matrix


def test_lecture_example():
    """Kernel [x, y, z] = [1, 2, 3], stride 2, padding 1, input length 4: the slide's 2x4 matrix."""
    M = conv1d_as_matrix(torch.tensor([1.0, 2.0, 3.0]), 4, stride=2, padding=1)
    torch.testing.assert_close(M, torch.tensor([[2.0, 3.0, 0.0, 0.0], [0.0, 1.0, 2.0, 3.0]]))


@pytest.mark.parametrize("seed", range(200))
def test_conv1d_matrix_and_transpose(seed):
    rng = random.Random(seed)
    K, s, p = rng.randint(1, 5), rng.randint(1, 3), rng.randint(0, 2)
    L = rng.randint(max(1, K - 2 * p), 12)
    g = torch.Generator().manual_seed(seed)
    w, x = torch.randn(K, generator=g, dtype=torch.float64), torch.randn(L, generator=g, dtype=torch.float64)
    M = conv1d_as_matrix(w, L, s, p)
    conv = F.conv1d(x.view(1, 1, L), w.view(1, 1, K), stride=s, padding=p).flatten()
    torch.testing.assert_close(M @ x, conv, msg=f"K={K} s={s} p={p} L={L}")
    y = torch.randn(M.shape[0], generator=g, dtype=torch.float64)
    base = (M.shape[0] - 1) * s - 2 * p + K
    up = F.conv_transpose1d(y.view(1, 1, -1), w.view(1, 1, K), stride=s, padding=p, output_padding=L - base)
    torch.testing.assert_close(M.T @ y, up.flatten(), msg=f"transpose: K={K} s={s} p={p} L={L}")


@pytest.mark.parametrize("seed", range(200))
def test_conv2d_matrix_and_transpose(seed):
    rng = random.Random(seed)
    k = (rng.randint(1, 4), rng.randint(1, 4))
    s = (rng.randint(1, 3), rng.randint(1, 3))
    p = (rng.randint(0, 2), rng.randint(0, 2))
    if rng.random() < 0.5:
        p = (p[0], p[0])
    H, W = rng.randint(max(1, k[0] - 2 * p[0]), 8), rng.randint(max(1, k[1] - 2 * p[1]), 8)
    g = torch.Generator().manual_seed(seed)
    w, x = (
        torch.randn(*k, generator=g, dtype=torch.float64),
        torch.randn(H, W, generator=g, dtype=torch.float64),
    )
    stride, padding = (s if rng.random() < 0.5 else s[0]), (p if p[0] != p[1] or rng.random() < 0.5 else p[0])
    M = conv2d_as_matrix(w, (H, W), stride, padding)
    conv = F.conv2d(x.view(1, 1, H, W), w.view(1, 1, *k), stride=stride, padding=padding)
    torch.testing.assert_close(M @ x.flatten(), conv.flatten(), msg=f"k={k} s={stride} p={padding} {H}x{W}")
    y = torch.randn(conv.shape, generator=g, dtype=torch.float64)
    sp, pp = (
        (stride, stride) if isinstance(stride, int) else stride,
        (padding, padding) if isinstance(padding, int) else padding,
    )
    op = tuple(size - ((conv.shape[2 + i] - 1) * sp[i] - 2 * pp[i] + k[i]) for i, size in enumerate((H, W)))
    up = F.conv_transpose2d(y, w.view(1, 1, *k), stride=stride, padding=padding, output_padding=op)
    torch.testing.assert_close(M.T @ y.flatten(), up.flatten())


def test_matrix_is_differentiable_in_the_kernel():
    w = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda k: conv1d_as_matrix(k, 6, 2, 1), (w,))
    w2 = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda k: conv2d_as_matrix(k, (4, 5), (2, 1), 1), (w2,))


def test_keeping_padding_columns_is_caught():
    """The 2x6 matrix with the padding columns kept is not the answer (a classic slip)."""
    kept = torch.tensor([[1.0, 2.0, 3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 2.0, 3.0, 0.0]])
    M = conv1d_as_matrix(torch.tensor([1.0, 2.0, 3.0]), 4, stride=2, padding=1)
    assert M.shape != kept.shape


def test_accepts_four_d_single_channel_weight():
    w = torch.randn(1, 1, 3, 3)
    torch.testing.assert_close(conv2d_as_matrix(w, (5, 5)), conv2d_as_matrix(w[0, 0], (5, 5)))
    torch.testing.assert_close(conv1d_as_matrix(w[:, :, 0], 5), conv1d_as_matrix(w[0, 0, 0], 5))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: conv1d_as_matrix(torch.ones(2, 3), 4), "single-channel kernel"),
        (lambda: conv1d_as_matrix(torch.ones(3), 0), "input_length must be a positive int"),
        (lambda: conv1d_as_matrix(torch.ones(3), 4, stride=0), "stride must be positive"),
        (lambda: conv1d_as_matrix(torch.ones(3), 4, padding=-1), "padding must be non-negative"),
        (lambda: conv1d_as_matrix(torch.ones(9), 4), "does not fit"),
        (lambda: conv2d_as_matrix(torch.ones(3), (4, 4)), "single-channel kernel"),
        (lambda: conv2d_as_matrix(torch.ones(3, 3), (0, 4)), "input_shape must be positive"),
        (lambda: conv2d_as_matrix(torch.ones(5, 5), (2, 2)), "does not fit"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
