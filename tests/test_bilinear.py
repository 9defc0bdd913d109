"""The bilinear kernel makes a transposed convolution reproduce bilinear interpolation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from exercise_code.layers import bilinear_kernel, conv_transpose2d


@pytest.mark.parametrize("s", [2, 4, 8, 16])
@pytest.mark.parametrize("size", [(5, 7), (6, 6)])
def test_reproduces_bilinear_interpolation_inside(s, size):
    torch.manual_seed(s)
    C = 3
    x = torch.randn(2, C, *size, dtype=torch.float64)
    weight = bilinear_kernel(C, C, 2 * s).double()
    up = conv_transpose2d(x, weight, stride=s, padding=s // 2)
    ref = F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)
    assert up.shape == ref.shape
    torch.testing.assert_close(up[..., s:-s, s:-s], ref[..., s:-s, s:-s])


def test_diagonal_only_and_tent_shape():
    w = bilinear_kernel(3, 3, 4)
    assert w.shape == (3, 3, 4, 4)
    assert torch.count_nonzero(w[0, 1]) == 0 and torch.count_nonzero(w[2, 0]) == 0
    taps = torch.tensor([0.25, 0.75, 0.75, 0.25])
    torch.testing.assert_close(w[1, 1], taps[:, None] * taps[None, :])
    odd = bilinear_kernel(1, 1, 3)[0, 0]
    torch.testing.assert_close(odd, torch.tensor([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]))
    assert bilinear_kernel(4, 2, 4)[3].abs().sum() == 0


def test_off_centre_kernel_is_caught():
    """A tent centred at k/2 instead of (k-1)/2 shifts the image: the interior comparison fails."""
    x = torch.randn(1, 1, 6, 6, dtype=torch.float64)
    taps = 1 - (torch.arange(4, dtype=torch.float64) - 2).abs() / 2
    wrong = (taps[:, None] * taps[None, :]).view(1, 1, 4, 4)
    up = conv_transpose2d(x, wrong, stride=2, padding=1)
    ref = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert not torch.allclose(up[..., 2:-2, 2:-2], ref[..., 2:-2, 2:-2])


@pytest.mark.parametrize(
    "args, match", [((0, 1, 4), "in_channels"), ((1, 1, 0), "kernel_size"), ((1, True, 2), "out")]
)
def test_errors(args, match):
    with pytest.raises(ValueError, match=match):
        bilinear_kernel(*args)
