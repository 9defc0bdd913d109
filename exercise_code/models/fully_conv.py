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


def fully_convolutional(model: PatchClassifier) -> DensePatchNet:
    """The dense twin of a trained `PatchClassifier`; shares no tensors with it (weights are copied).

    Built from the classifier's own geometry, layer by layer, tracking the side of the current map when
    the classifier sees one P x P patch and its dilation: how many input pixels apart neighbouring
    positions of that map are in the dense net (whose maps all keep stride 1).
    - Conv2d (unpadded, stride 1): the same convolution on a grid `dilation` apart; side - (k - 1).
    - MaxPool2d (kernel k, stride s): a stride-1 pool with the same dilation; side -> (side - k) // s + 1.
      Positions the classifier's next layer sees side by side were s positions apart before this pool,
      so the dilation of every later layer is multiplied by s.
    - Flatten + Linear: the Linear reads the whole (channels, side, side) map, so it is a side x side
      convolution (dilated) whose kernel is its weight in Flatten's (C, H, W) order; after it each
      position holds one vector (side 1), so every later Linear is a 1x1 convolution.
    - ReLU: unchanged.
    """
    if not isinstance(model, PatchClassifier):
        raise TypeError(f"model must be a PatchClassifier, got {type(model).__name__}")
    patch_size = model.spec_kwargs["patch_size"]
    layers: list[nn.Module] = []
    # BEGIN SOLUTION
    side, channels = patch_size, model.spec_kwargs["in_channels"]  # the map of one patch
    dilation = 1  # input pixels between neighbouring positions of the current map, in the dense net
    for layer in [*model.features, *model.classifier]:
        if isinstance(layer, nn.Conv2d):
            conv = nn.Conv2d(channels, layer.out_channels, layer.kernel_size, dilation=dilation)
            conv.load_state_dict(layer.state_dict())
            layers.append(conv)
            side, channels = side - (layer.kernel_size[0] - 1), layer.out_channels
        elif isinstance(layer, nn.MaxPool2d):
            layers.append(DenseMaxPool2d(layer.kernel_size, dilation))
            side = (side - layer.kernel_size) // layer.stride + 1
            dilation *= layer.stride  # the next layer's neighbours are `stride` positions apart here
        elif isinstance(layer, nn.Linear):  # reads the whole (channels, side, side) map
            conv = nn.Conv2d(channels, layer.out_features, side, dilation=dilation)
            kernel = layer.weight.reshape(layer.out_features, channels, side, side)  # Flatten's (C, H, W)
            conv.load_state_dict({"weight": kernel, "bias": layer.bias})
            layers.append(conv)
            side, channels = 1, layer.out_features  # one vector per position: later Linears are 1x1
        elif not isinstance(layer, nn.Flatten):  # the dense net keeps the map; ReLU stays
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
