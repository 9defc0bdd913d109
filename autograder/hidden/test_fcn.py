"""Hidden tests: FCN-32s/16s/8s output size and crop, bilinear upsampling init, zero-initialised skips.

The checks read only shapes and the state_dict, never attribute names: the student chooses those.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from autograder.hidden.references import assert_matches, bilinear_reference

VARIANTS = ("32s", "16s", "8s")
UPSAMPLERS = {"32s": 1, "16s": 2, "8s": 3}
"""Transposed convolutions an FCN variant needs (x32; x2, x16; x2, x2, x8)."""
WIDTH, HEAD = 4, 24
"""Backbone channels 4, 8, 16, 32, 32 and a head of 24: no layer has K in or out channels by accident."""


def _spec(rng, variant: str) -> dict:
    K = rng.choice([3, 5, 6, 7])
    return {
        "name": "FCN",
        "kwargs": {"num_classes": K, "variant": variant, "width": WIDTH, "head_channels": HEAD},
    }


@pytest.mark.parametrize("case", range(6))
def test_fcn_output_size(submission, rng, gen, case):
    spec = _spec(rng, VARIANTS[case % 3])
    size = 32 * rng.randint(1, 3)
    H, W = (size, size) if case == 0 else (rng.randint(17, 100), rng.randint(17, 100))
    x = torch.rand(rng.randint(1, 2), 3, H, W, generator=gen)
    out = submission.build_model(spec)(x)
    K = spec["kwargs"]["num_classes"]
    what = f"FCN(variant={spec['kwargs']['variant']!r}, num_classes={K}) on input {tuple(x.shape)}"
    assert isinstance(out, torch.Tensor), f"{what} must return a tensor"
    assert tuple(out.shape) == (x.shape[0], K, H, W), (
        f"{what}: expected {(x.shape[0], K, H, W)}, got {tuple(out.shape)}"
    )
    assert torch.isfinite(out).all(), f"{what}: the output holds NaN or inf"


@pytest.mark.parametrize("variant", VARIANTS)
def test_fcn_crop_alignment(submission, rng, gen, variant):
    """The docstring's rule: pad bottom/right (with zeros) to a multiple of 32, crop the top-left H x W."""
    spec = _spec(rng, variant)
    H, W = rng.choice([h for h in range(33, 90) if h % 32]), rng.choice([w for w in range(33, 90) if w % 32])
    x = torch.rand(1, 3, H, W, generator=gen)
    padded = F.pad(x, (0, -W % 32, 0, -H % 32))
    model = submission.build_model(spec)
    got, full = model(x), model(padded)
    what = f"FCN-{variant} on an input of {H}x{W}"
    assert isinstance(got, torch.Tensor) and isinstance(full, torch.Tensor), f"{what} must return tensors"
    assert_matches(
        got,
        full[:, :, :H, :W],
        what=f"{what} versus the top-left {H}x{W} of its output for the input zero-padded "
        f"to {tuple(padded.shape[-2:])}",
        rtol=1e-4,
        atol=1e-5,
    )


def _square_kernels(state: dict[str, torch.Tensor], K: int) -> list[tuple[str, torch.Tensor]]:
    return [(k, v) for k, v in state.items() if v.dim() == 4 and v.shape[:2] == (K, K) and v.shape[2] > 1]


@pytest.mark.parametrize("variant", VARIANTS)
def test_fcn_bilinear_init(submission, rng, variant):
    spec = _spec(rng, variant)
    K = spec["kwargs"]["num_classes"]
    state = submission.build_model(spec).state_dict()
    ups = _square_kernels(state, K)
    assert len(ups) >= UPSAMPLERS[variant], (
        f"FCN-{variant} upsamples {UPSAMPLERS[variant]} time(s) with transposed convolutions of weight "
        f"(K, K, k, k); found {len(ups)} such weights"
    )
    for name, weight in ups:
        k = weight.shape[-1]
        assert_matches(
            weight,
            bilinear_reference(K, K, k),
            what=f"FCN-{variant} upsampling weight {name!r} at initialisation (bilinear kernel, k={k})",
            rtol=1e-5,
            atol=1e-6,
        )


@pytest.mark.parametrize("variant", ("16s", "8s"))
def test_fcn_skip_init(submission, rng, variant):
    spec = _spec(rng, variant)
    K = spec["kwargs"]["num_classes"]
    state = submission.build_model(spec).state_dict()
    scores = [k for k, v in state.items() if v.dim() == 4 and v.shape[0] == K and v.shape[2:] == (1, 1)]
    skips = UPSAMPLERS[variant] - 1
    assert len(scores) >= skips + 1, f"FCN-{variant} needs {skips + 1} 1x1 score layers, found {len(scores)}"

    def silent(name: str) -> bool:
        bias = name[: -len("weight")] + "bias" if name.endswith("weight") else None
        return bool((state[name] == 0).all()) and (bias not in state or bool((state[bias] == 0).all()))

    zero = [name for name in scores if silent(name)]
    assert len(zero) >= skips, (
        f"FCN-{variant}: the {skips} skip score layer(s) must start at zero (weights and bias) so training "
        f"starts from FCN-32s; {len(zero)} of the {len(scores)} 1x1 score layers are zero"
    )
    assert len(zero) < len(scores), f"FCN-{variant}: the stride-32 score layer must not start at zero"
