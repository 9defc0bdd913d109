"""FCN: any input size, bilinear-initialised upsampling, silent skips at init, a loss that falls; only the
layers a variant uses; enum or string arguments, JSON specs with strings."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from exercise_code.models import FCN, build_model, model_spec
from exercise_code.models.fcn import Backbone, Variant


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
    "kwargs, match",
    [
        ({"variant": "4s"}, r"variant must be one of \['32s', '16s', '8s'\], got '4s'"),
        ({"variant": 8}, r"variant must be one of .*, got 8"),
        ({"backbone": "vgg16"}, r"backbone must be one of \['vgg_small', 'resnet18'\], got 'vgg16'"),
        ({"num_classes": 0}, "num_classes must be positive, got 0"),
    ],
)
def test_errors(kwargs, match):
    kwargs = {"num_classes": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        FCN(**kwargs)


HEAD_KEYS = {  # state_dict keys outside backbone and head: saved FCN-8s/16s models depend on them
    "32s": ["score32.weight", "score32.bias", "up_final.weight"],
    "16s": [
        "score32.weight",
        "score32.bias",
        "score16.weight",
        "score16.bias",
        "up2a.weight",
        "up_final.weight",
    ],
    "8s": [
        "score32.weight",
        "score32.bias",
        "score16.weight",
        "score16.bias",
        "score8.weight",
        "score8.bias",
        "up2a.weight",
        "up2b.weight",
        "up_final.weight",
    ],
}


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
def test_only_the_layers_a_variant_uses(variant):
    model = FCN(5, variant, width=4, head_channels=8)
    keys = [k for k in model.state_dict() if not k.startswith(("backbone.", "head."))]
    assert sorted(keys) == sorted(HEAD_KEYS[variant])
    factor = {"32s": 32, "16s": 16, "8s": 8}[variant]
    assert model.up_final.weight.shape == (5, 5, 2 * factor, 2 * factor)
    x = torch.rand(1, 3, 40, 50)  # every parameter takes part in the output
    model(x).sum().backward()
    unused = [name for name, p in model.named_parameters() if p.grad is None]
    assert unused == [], f"FCN-{variant} holds parameters it never uses: {unused}"


def test_enums_and_strings_build_the_same_model():
    for variant, backbone in ((Variant.FCN16s, Backbone.VGG_SMALL), ("16s", "vgg_small")):
        torch.manual_seed(0)
        model = FCN(4, variant, backbone, width=4, head_channels=8)
        assert model.variant is Variant.FCN16s and model.variant == "16s"
        assert model.spec_kwargs["variant"] == "16s" and type(model.spec_kwargs["variant"]) is str
        assert type(model.spec_kwargs["backbone"]) is str
    assert [v.stride for v in Variant] == [32, 16, 8]


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
def test_json_spec_round_trip(variant):
    torch.manual_seed(1)
    model = FCN(3, variant, width=4, head_channels=8).eval()
    text = json.dumps(model_spec(model))
    assert json.loads(text)["kwargs"]["variant"] == variant
    rebuilt = build_model(json.loads(text)).eval()
    assert rebuilt.variant is Variant(variant)
    rebuilt.load_state_dict(model.state_dict())  # strict: the same keys
    x = torch.rand(1, 3, 33, 35)
    torch.testing.assert_close(rebuilt(x), model(x))
    spec = {"name": "FCN", "kwargs": {"num_classes": 3, "variant": variant, "width": 4, "head_channels": 8}}
    assert build_model(spec).variant is Variant(variant)
