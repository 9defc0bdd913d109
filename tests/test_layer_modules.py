"""The kit's modules load torch.nn state_dicts (and back) and compute the same thing."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from exercise_code.layers import ConvTranspose2d


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
