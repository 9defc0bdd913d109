"""Fully convolutional networks FCN-32s, FCN-16s and FCN-8s (Long, Shelhamer and Darrell, CVPR 2015).

A backbone gives feature maps at strides 8, 16 and 32; 1x1 convolutions score each; the coarse scores
are upsampled by learnable transposed convolutions that start as bilinear interpolation, and finer
scores (initialised to zero, so training starts from FCN-32s) are added on the way up.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn import ConvTranspose2d  # torch's layer, not the kit's: see `_upsampler`

from exercise_code.layers import bilinear_kernel

from .registry import register


class Variant(StrEnum):
    """Which scores an FCN fuses: the stride-32 scores alone (32s), + stride 16 (16s), + stride 8 (8s).

    A str: `Variant("8s")` converts the string of a JSON spec, and `Variant.FCN8s == "8s"`.
    """

    FCN32s = "32s"
    FCN16s = "16s"
    FCN8s = "8s"

    @property
    def stride(self) -> int:
        """Stride of the finest scores fused: the factor of the final upsampling (32, 16 or 8)."""
        return int(self.value.removesuffix("s"))


class Backbone(StrEnum):
    """The feature extractor: `VGGSmall` (trained from scratch) or torchvision's ResNet-18 trunk."""

    VGG_SMALL = "vgg_small"
    RESNET18 = "resnet18"


E = TypeVar("E", bound=StrEnum)


def _member(kind: type[E], value: object, name: str) -> E:
    """`value` (a member or its string) as a member of `kind`, or a ValueError naming `name`."""
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{name} must be one of {[m.value for m in kind]}, got {value!r}") from None


def _conv_bn_relu(c_in: int, c_out: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=(kernel - 1) // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    ]


def _block(c_in: int, c_out: int, convs: int) -> nn.Sequential:
    """`convs` 3x3 convolutions (BatchNorm, ReLU), then a 3x3 stride-2 convolution that halves H and W."""
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += _conv_bn_relu(c_in if i == 0 else c_out, c_out, 3)
    return nn.Sequential(*layers, *_conv_bn_relu(c_out, c_out, 3, stride=2))  # (N, c_out, H / 2, W / 2)


class VGGSmall(nn.Module):
    """A small VGG-style backbone (3x3 convolutions, BatchNorm, five stride-2 stages); returns maps at
    strides 8, 16 and 32.

    Each stage halves the resolution with a learned 3x3 stride-2 convolution instead of VGG's 2x2 max
    pooling. A max-pool keeps only the largest response of each window and forgets where in the window
    it was; a strided convolution sees every position and can keep that offset in its channels. FCN-8s
    draws every boundary from the stride-8 features, so this is what lets it place thin strokes.
    """

    def __init__(self, in_channels: int = 3, width: int = 16) -> None:
        super().__init__()
        w = width
        self.to8 = nn.Sequential(_block(in_channels, w, 1), _block(w, 2 * w, 1), _block(2 * w, 4 * w, 2))
        self.to16 = _block(4 * w, 8 * w, 2)
        self.to32 = _block(8 * w, 8 * w, 2)
        self.channels = (4 * w, 8 * w, 8 * w)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        f8 = self.to8(x)
        f16 = self.to16(f8)
        return f8, f16, self.to32(f16)


class ResNet18Backbone(nn.Module):
    """torchvision's ResNet-18 trunk (layer2/3/4 at strides 8/16/32); weights from a local file if given."""

    def __init__(self, pretrained_path: str | None = None) -> None:
        super().__init__()
        from torchvision.models import resnet18

        net = resnet18(weights=None)
        if pretrained_path is not None:
            path = Path(pretrained_path)
            if not path.is_file():
                raise FileNotFoundError(
                    f"pretrained ResNet-18 weights not found at {path}; the kit never downloads them: "
                    "put torchvision's resnet18 state_dict (.pth) there or leave pretrained_path=None"
                )
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1)
        self.layer2, self.layer3, self.layer4 = net.layer2, net.layer3, net.layer4
        self.channels = (128, 256, 512)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        f8 = self.layer2(self.stem(x))
        f16 = self.layer3(f8)
        return f8, f16, self.layer4(f16)


def _upsampler(num_classes: int, factor: int) -> ConvTranspose2d:
    """A transposed convolution that upsamples by `factor`, initialised as bilinear interpolation.

    torch's `nn.ConvTranspose2d` (same parameters and state_dict as the kit's layer): the kit's textbook
    `conv_transpose2d` multiplies every zero it inserts, factor**2 times the work needed, too slow to train
    with at factors 8 and 32 on a CPU.
    """
    up = ConvTranspose2d(num_classes, num_classes, 2 * factor, stride=factor, padding=factor // 2, bias=False)
    with torch.no_grad():
        up.weight.copy_(bilinear_kernel(num_classes, num_classes, 2 * factor))
    return up


@register
class FCN(nn.Module):
    """FCN-32s / 16s / 8s: Tensor[N, C, H, W] -> logits Tensor[N, K, H, W] for any H and W.

    The input is padded at the bottom and right to a multiple of 32, so every stride divides it and
    upsampled maps align exactly; the logits are cropped back to H x W. `variant` and `backbone` take a
    `Variant` / `Backbone` or its string (as a JSON spec holds it); only the layers the variant uses are
    built (FCN-32s: no skip score layers, no x2 upsamplers).
    """

    def __init__(
        self,
        num_classes: int,
        variant: Variant | Literal["32s", "16s", "8s"] = Variant.FCN8s,
        backbone: Backbone | Literal["vgg_small", "resnet18"] = Backbone.VGG_SMALL,
        in_channels: int = 3,
        width: int = 16,
        head_channels: int = 128,
        pretrained_path: str | None = None,
    ) -> None:
        super().__init__()
        variant = _member(Variant, variant, "variant")
        backbone = _member(Backbone, backbone, "backbone")
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        self.spec_kwargs = dict(  # JSON values: the enums as their strings
            num_classes=num_classes,
            variant=variant.value,
            backbone=backbone.value,
            in_channels=in_channels,
            width=width,
            head_channels=head_channels,
            pretrained_path=pretrained_path,
        )
        self.variant = variant
        # BEGIN SOLUTION
        if backbone == Backbone.VGG_SMALL:
            self.backbone: nn.Module = VGGSmall(in_channels, width)
        else:
            self.backbone = ResNet18Backbone(pretrained_path)
        c8, c16, c32 = self.backbone.channels
        self.head = nn.Sequential(  # FCN's fc6/fc7 as convolutions
            nn.Conv2d(c32, head_channels, 3, padding=1),
            nn.ReLU(),
            nn.Dropout2d(0.1),
            nn.Conv2d(head_channels, head_channels, 1),
            nn.ReLU(),
        )
        self.score32 = nn.Conv2d(head_channels, num_classes, 1)
        skips: list[nn.Conv2d] = []
        if variant != Variant.FCN32s:  # FCN-16s and 8s: upsample x2, add the stride-16 scores
            self.up2a = _upsampler(num_classes, 2)
            self.score16 = nn.Conv2d(c16, num_classes, 1)
            skips.append(self.score16)
        if variant == Variant.FCN8s:  # FCN-8s: upsample x2 again, add the stride-8 scores
            self.up2b = _upsampler(num_classes, 2)
            self.score8 = nn.Conv2d(c8, num_classes, 1)
            skips.append(self.score8)
        for skip in skips:  # skips start silent: training starts from FCN-32s
            nn.init.zeros_(skip.weight)
            nn.init.zeros_(skip.bias)
        self.up_final = _upsampler(num_classes, variant.stride)  # from the finest stride fused to 1
        # END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        N, C, H, W = x.shape
        # BEGIN SOLUTION
        x = F.pad(x, (0, -W % 32, 0, -H % 32))  # (N, C, H32, W32), multiples of 32
        f8, f16, f32 = self.backbone(x)
        score = self.score32(self.head(f32))  # (N, K, H32 / 32, W32 / 32)
        if self.variant != Variant.FCN32s:
            score = self.up2a(score) + self.score16(f16)  # stride 16
        if self.variant == Variant.FCN8s:
            score = self.up2b(score) + self.score8(f8)  # stride 8
        return self.up_final(score)[:, :, :H, :W]
        # END SOLUTION
