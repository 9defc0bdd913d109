"""FCN: any input size, bilinear-initialised upsampling, silent skips at init, a loss that falls."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from exercise_code.models import FCN, build_model, model_spec


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
@pytest.mark.parametrize("size", [(97, 131), (33, 35), (64, 64), (1, 1)])
def test_output_matches_input_size(variant, size):
    model = FCN(11, variant, width=4, head_channels=16).eval()
    assert model(torch.rand(2, 3, *size)).shape == (2, 11, *size)


def test_final_upsampler_is_bilinear_at_init():
    model = FCN(3, "32s", width=4, head_channels=8)
    scores = torch.randn(1, 3, 4, 5)
    up = model.up_final(scores)
    ref = F.interpolate(scores, scale_factor=32, mode="bilinear", align_corners=False)
    torch.testing.assert_close(up[..., 32:-32, 32:-32], ref[..., 32:-32, 32:-32])


def test_skip_scores_start_at_zero_and_learn():
    model = FCN(5, "8s", width=4, head_channels=8)
    for skip in (model.score8, model.score16):
        assert skip.weight.abs().sum() == 0 and skip.bias.abs().sum() == 0
    x, y = torch.rand(2, 3, 32, 32), torch.randint(0, 5, (2, 32, 32))
    F.cross_entropy(model(x), y).backward()
    assert model.score8.weight.grad.abs().sum() > 0 and model.score16.weight.grad.abs().sum() > 0


def test_loss_falls_on_a_tiny_problem():
    torch.manual_seed(0)
    model = FCN(3, "8s", width=4, head_channels=16)
    blocks = torch.randint(0, 3, (4, 4, 4))  # one class per 8x8 block, coloured by class
    y = blocks.repeat_interleave(8, 1).repeat_interleave(8, 2)
    x = F.one_hot(y, 3).permute(0, 3, 1, 2).float() + 0.1 * torch.randn(4, 3, 32, 32)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    first = None
    for _ in range(40):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else float(loss.detach())
    assert float(loss.detach()) < 0.7 * first


def test_spec_round_trip_and_limits():
    from exercise_code.config import CONFIG
    from exercise_code.training import check_limits

    model = FCN(11, "16s")
    rebuilt = build_model(model_spec(model))
    rebuilt.load_state_dict(model.state_dict())
    assert check_limits(model, CONFIG.segmentation_limits) == []


def test_resnet_backbone_and_missing_weights(tmp_path):
    model = FCN(4, "8s", backbone="resnet18", head_channels=16).eval()
    assert model(torch.rand(1, 3, 45, 50)).shape == (1, 4, 45, 50)
    with pytest.raises(FileNotFoundError, match="never downloads"):
        FCN(4, backbone="resnet18", pretrained_path=str(tmp_path / "missing.pth"))


@pytest.mark.parametrize(
    "kwargs, match", [({"variant": "4s"}, "variant"), ({"backbone": "vgg16"}, "backbone")]
)
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FCN(3, **kwargs)
