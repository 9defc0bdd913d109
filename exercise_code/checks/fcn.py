"""Public checks of FCN-32s/16s/8s: output size for any input, bilinear upsampling at initialisation and
skip score layers that start at zero (`settings.FCN`).

Layers are found by their weights' shapes, never by attribute names: those are the student's choice.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from exercise_code import layers, models

from .inputs import calling, expect_tensor, randn, seeded
from .runner import CheckFailed, check, compare
from .settings import FCN


def _fcn(variant: str) -> nn.Module:
    with seeded(0), calling(_name(variant)):
        model = models.FCN(FCN.num_classes, variant, width=FCN.width, head_channels=FCN.head_channels)
    return model.eval()


def _name(variant: str) -> str:
    return f"FCN(num_classes={FCN.num_classes}, variant={variant!r}, width={FCN.width})"


@check("fcn", "FCN output size (any input size)")
def _output_size() -> None:
    K = FCN.num_classes
    for variant in FCN.variants:
        model = _fcn(variant)
        for H, W in FCN.sizes:
            x = randn(1, 3, H, W, seed=H * W).sigmoid()
            what = f"{_name(variant)} on an input of shape {tuple(x.shape)}"
            with torch.no_grad(), calling(what):
                out = expect_tensor(model(x), what)
            if tuple(out.shape) != (1, K, H, W):
                raise CheckFailed(
                    f"{what}: expected logits of the input's size (1, K, H, W) = {(1, K, H, W)}, "
                    f"got {tuple(out.shape)}"
                )
            if not torch.isfinite(out).all():
                raise CheckFailed(f"{what}: the output holds NaN or inf")


def _upsampling_weights(model: nn.Module) -> list[tuple[str, Tensor]]:
    """Weights of shape (K, K, k, k) with k > 1: the transposed convolutions from scores to scores."""
    K = FCN.num_classes
    return [
        (name, w.detach())
        for name, w in model.named_parameters()
        if w.dim() == 4 and tuple(w.shape[:2]) == (K, K) and w.shape[-1] > 1
    ]


@check("fcn", "FCN upsampling starts as bilinear interpolation")
def _bilinear_init() -> None:
    K = FCN.num_classes
    x = randn(1, K, 4, 5, seed=7)
    for variant, needed in FCN.upsamplers:
        weights = _upsampling_weights(_fcn(variant))
        if len(weights) < needed:
            raise CheckFailed(
                f"{_name(variant)}: FCN-{variant} upsamples {needed} time(s) with transposed convolutions "
                f"whose weights have shape (K, K, k, k) = ({K}, {K}, k, k); found {len(weights)}"
            )
        for name, w in weights:
            k = w.shape[-1]
            what = f"{_name(variant)}: upsampling weight {name!r} of shape {tuple(w.shape)} at initialisation"
            if tuple(w.shape[-2:]) != (k, k) or k % 4:  # not an even factor: compare the kernels themselves
                compare(w, layers.bilinear_kernel(K, K, k).to(w.dtype), what, "versus bilinear_kernel")
                continue
            s = k // 2  # kernel 2s, stride s, padding s / 2: bilinear upsampling by s
            up = F.conv_transpose2d(x, w.float(), stride=s, padding=s // 2)
            ref = F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)
            context = (
                f"used as a transposed convolution with stride {s} and padding {s // 2}, versus "
                f"F.interpolate(scale_factor={s}, mode='bilinear') on each channel, pixels at least {s} "
                "from the border"
            )
            compare(up[..., s:-s, s:-s], ref[..., s:-s, s:-s], what, context)


def _silent(state: dict[str, Tensor], name: str) -> bool:
    """Whether the weight `name` and its bias (if any) are all zero."""
    bias = name.removesuffix("weight") + "bias" if name.endswith("weight") else None
    return bool((state[name] == 0).all()) and (bias not in state or bool((state[bias] == 0).all()))


@check("fcn", "FCN skip score layers start at zero")
def _skip_init() -> None:
    K = FCN.num_classes
    for variant, needed in FCN.upsamplers:
        skips = needed - 1
        if not skips:
            continue  # FCN-32s has no skip
        state = _fcn(variant).state_dict()
        scores = [k for k, v in state.items() if v.dim() == 4 and v.shape[0] == K and v.shape[2:] == (1, 1)]
        if len(scores) < skips + 1:
            raise CheckFailed(
                f"{_name(variant)}: FCN-{variant} needs {skips + 1} 1x1 score layers with {K} output "
                f"channels (one per stride it fuses); found {len(scores)}: {scores}"
            )

        zero = [name for name in scores if _silent(state, name)]
        if len(zero) < skips:
            raise CheckFailed(
                f"{_name(variant)}: the {skips} skip score layer(s) must start at zero (weight and bias), "
                f"so that FCN-{variant} starts as FCN-32s; {len(zero)} of the 1x1 score layers {scores} "
                "are zero"
            )
        if len(zero) == len(scores):
            raise CheckFailed(
                f"{_name(variant)}: every 1x1 score layer {scores} is zero, so the output starts constant; "
                "only the skip score layers start at zero, not the stride-32 one"
            )
