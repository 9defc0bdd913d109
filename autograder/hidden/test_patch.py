"""Hidden tests: patch extraction, the patch classifier, sliding-window segmentation and its dense twin."""

from __future__ import annotations

import pytest
import torch

from autograder.hidden.references import assert_matches, patches_reference

MODELS = "exercise_code.models"


@pytest.mark.parametrize("case", range(6))
def test_extract_patches(submission, rng, gen, case):
    N, C = rng.randint(1, 2), rng.randint(1, 3)
    H, W = rng.sample(range(3, 9), 2)  # H != W: catches column-major order
    P = 1 if case == 0 else rng.choice([p for p in (3, 5, 7) if p // 2 < min(H, W)])
    images = torch.randn(N, C, H, W, generator=gen)
    expected = patches_reference(images, P)
    got = submission.call(f"{MODELS}.extract_patches", images, P)
    assert_matches(got, expected, what=f"extract_patches(images of shape {(N, C, H, W)}, patch_size={P})")


def _patch_spec(rng) -> dict:
    return {
        "name": "PatchClassifier",
        "kwargs": {
            "in_channels": rng.randint(1, 3),
            "num_classes": rng.randint(2, 5),
            "patch_size": rng.choice([11, 13, 15]),
            "width": rng.randint(2, 6),
            "hidden": rng.randint(4, 16),
        },
    }


@pytest.mark.parametrize("case", range(3))
def test_patch_classifier(submission, rng, gen, case):
    spec = _patch_spec(rng)
    kw = spec["kwargs"]
    model = submission.build_model(spec)
    x = torch.randn(5, kw["in_channels"], kw["patch_size"], kw["patch_size"], generator=gen)
    logits = model(x)
    what = f"PatchClassifier({kw}) on patches of shape {tuple(x.shape)}"
    assert isinstance(logits, torch.Tensor), f"{what} must return a tensor"
    assert tuple(logits.shape) == (5, kw["num_classes"]), (
        f"{what}: expected logits (5, K), got {tuple(logits.shape)}"
    )
    assert_matches(model(x[2:3]), logits[2:3], what=f"{what}: one patch alone vs in a batch", atol=1e-5)


def _image_case(rng, gen, spec):
    kw = spec["kwargs"]
    r = kw["patch_size"] // 2
    H, W = rng.randint(r + 1, r + 6), rng.randint(r + 1, r + 6)
    images = torch.randn(rng.randint(1, 2), kw["in_channels"], H, W, generator=gen)
    return images


def _varied_weights(state: dict[str, torch.Tensor], gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Fresh He-scaled weights and zero biases: an untrained model often gives one label everywhere."""
    out = {}
    for key, value in state.items():
        if value.is_floating_point() and value.dim() >= 2:
            out[key] = torch.randn(value.shape, generator=gen) * (2.0 / value[0].numel()) ** 0.5
        elif value.is_floating_point() and key.endswith("bias"):
            out[key] = torch.zeros_like(value)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("case", range(3))
def test_segment_by_patches(submission, rng, gen, case):
    spec = _patch_spec(rng)
    model = submission.build_model(spec)
    state = model.state_dict()
    for attempt in range(12):  # a model and images whose labels vary over the image, so misplaced labels show
        if attempt:
            model.call("load_state_dict", _varied_weights(state, gen))
        images = _image_case(rng, gen, spec)
        N, _, H, W = images.shape
        logits = model(patches_reference(images, spec["kwargs"]["patch_size"]), batch_size=256)  # (N*H*W, K)
        top2 = logits.topk(2, dim=1).values
        clear = (top2[:, 0] - top2[:, 1] > 1e-4).reshape(N, H, W)  # ignore near-ties
        expected = logits.argmax(1).reshape(N, H, W)
        counts = torch.bincount(expected[clear], minlength=2)
        if H != W and int(clear.sum()) > 0 and int(counts.max()) <= 0.8 * int(clear.sum()):
            break
    batch = rng.randint(7, 50)
    got = submission.call(f"{MODELS}.segment_by_patches", model, images, batch_size=batch)
    what = f"segment_by_patches(PatchClassifier, images of shape {tuple(images.shape)}, batch_size={batch})"
    assert isinstance(got, torch.Tensor), f"{what} must return a tensor"
    assert tuple(got.shape) == (N, H, W), (
        f"{what}: expected labels of shape {(N, H, W)}, got {tuple(got.shape)}"
    )
    wrong = (got.long() != expected) & clear
    assert not wrong.any(), f"{what}: {int(wrong.sum())} of {wrong.numel()} pixel labels are wrong"


@pytest.mark.parametrize("case", range(4))
def test_fully_convolutional(submission, rng, gen, case):
    spec = _patch_spec(rng)
    model = submission.build_model(spec)
    images = _image_case(rng, gen, spec)
    N, _, H, W = images.shape
    K = spec["kwargs"]["num_classes"]
    per_patch = model(patches_reference(images, spec["kwargs"]["patch_size"]), batch_size=256)
    expected = per_patch.reshape(N, H, W, K).permute(0, 3, 1, 2)  # (N, K, H, W)
    dense = submission.call(f"{MODELS}.fully_convolutional", model)
    got = dense(images)
    what = f"fully_convolutional(PatchClassifier({spec['kwargs']}))(images of shape {tuple(images.shape)})"
    assert_matches(got, expected, what=f"{what} versus the per-patch logits", rtol=1e-4, atol=1e-4)
