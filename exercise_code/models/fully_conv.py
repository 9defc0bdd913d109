"""Turn a trained patch classifier into a fully convolutional network with the same weights.

Fully connected layers become convolutions; each max-pool of stride s becomes a stride-1 pool and
every later layer is dilated by s (the "a trous" trick), so the output stays dense at stride 1 and
equals the per-patch classification at every pixel (Long, Shelhamer and Darrell 2015, sec. 3.1-3.2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .patch import PatchClassifier


class DensePatchNet(nn.Module):
    """The fully convolutional twin: Tensor[N, C, H, W] -> logits Tensor[N, K, H, W] in one pass."""

    def __init__(self, body: nn.Sequential, patch_size: int) -> None:
        super().__init__()
        self.body = body
        self.patch_size = patch_size

    def forward(self, x: Tensor) -> Tensor:
        N, C, H, W = x.shape
        r = self.patch_size // 2
        padded = F.pad(x, (r, r, r, r), mode="reflect") if r else x  # the same border as extract_patches
        out = self.body(padded)  # position (i, j) <-> the patch whose top-left corner is (i, j)
        return out[:, :, :H, :W]


class DenseMaxPool2d(nn.Module):
    """Max pooling at stride 1 over a dilated window, as the maximum of shifted copies of the input.

    Equals `nn.MaxPool2d(kernel_size, stride=1, dilation=dilation)` (no padding) and is much faster on
    CPU: k + k element-wise maxima over whole maps (rows, then columns) instead of a window loop per pixel.
    """

    def __init__(self, kernel_size: int | tuple[int, int], dilation: int = 1) -> None:
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        if kh < 1 or kw < 1 or dilation < 1:
            raise ValueError(f"kernel_size and dilation must be positive, got {kernel_size}, {dilation}")
        self.kernel_size, self.dilation = (kh, kw), dilation

    def forward(self, x: Tensor) -> Tensor:
        (kh, kw), d = self.kernel_size, self.dilation
        h, w = x.shape[-2] - d * (kh - 1), x.shape[-1] - d * (kw - 1)
        if h < 1 or w < 1:
            raise ValueError(f"input {tuple(x.shape[-2:])} is smaller than the dilated pooling window")
        rows = x[..., :h, :]
        for i in range(1, kh):
            rows = torch.maximum(rows, x[..., i * d : i * d + h, :])
        out = rows[..., :w]
        for j in range(1, kw):
            out = torch.maximum(out, rows[..., j * d : j * d + w])
        return out

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, dilation={self.dilation}"


def _as_int(v: int | tuple[int, ...]) -> int:
    return v if isinstance(v, int) else v[0]


def fully_convolutional(model: PatchClassifier) -> DensePatchNet:
    """The dense twin of a trained `PatchClassifier`; shares no tensors with it (weights are copied)."""
    if not isinstance(model, PatchClassifier):
        raise TypeError(f"model must be a PatchClassifier, got {type(model).__name__}")
    patch_size = model.spec_kwargs["patch_size"]
    layers: list[nn.Module] = []
    # BEGIN SOLUTION
    dilation = 1  # how far apart, in input pixels, neighbouring positions of the current layer are
    for layer in model.features:
        if isinstance(layer, nn.Conv2d):
            conv = nn.Conv2d(
                layer.in_channels,
                layer.out_channels,
                layer.kernel_size,
                dilation=dilation,
                bias=layer.bias is not None,
            )
            conv.load_state_dict(layer.state_dict())
            layers.append(conv)
        elif isinstance(layer, nn.MaxPool2d):
            if layer.padding not in (0, (0, 0)) or layer.ceil_mode or layer.dilation not in (1, (1, 1)):
                raise ValueError(f"only unpadded, undilated pooling can be made dense, got {layer}")
            layers.append(DenseMaxPool2d(layer.kernel_size, dilation))
            dilation *= _as_int(layer.stride)
        else:
            layers.append(layer)
    first = True
    for layer in model.classifier:
        if isinstance(layer, nn.Flatten):
            continue
        if isinstance(layer, nn.Linear):
            channels = layers_out_channels(layers) if first else layer.in_features
            side = int(round((layer.in_features / channels) ** 0.5)) if first else 1
            conv = nn.Conv2d(channels, layer.out_features, side, dilation=dilation if first else 1)
            conv.weight.data.copy_(layer.weight.data.reshape(layer.out_features, channels, side, side))
            conv.bias.data.copy_(layer.bias.data)
            layers.append(conv)
            first = False
        else:
            layers.append(layer)
    # END SOLUTION
    dense = DensePatchNet(nn.Sequential(*layers), patch_size)
    reference = next(model.parameters())
    return dense.to(device=reference.device, dtype=reference.dtype).train(model.training)


def layers_out_channels(layers: list[nn.Module]) -> int:
    """Channels produced by the last convolution in `layers`."""
    convs = [m for m in layers if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("no convolution before the first fully connected layer")
    return convs[-1].out_channels
