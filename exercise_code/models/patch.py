"""Patch-based segmentation: classify the centre pixel of a patch, once per pixel (the slow way).

The classic sliding-window approach (e.g. Ciresan et al. 2012, Farabet et al. 2013), which fully
convolutional networks (Long, Shelhamer and Darrell 2015) replaced by one pass over the whole image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .registry import register


def _check_patch_size(patch_size: int) -> None:
    if (
        isinstance(patch_size, bool)
        or not isinstance(patch_size, int)
        or patch_size < 1
        or patch_size % 2 == 0
    ):
        raise ValueError(
            f"patch_size must be a positive odd int (a patch has a centre pixel), got {patch_size!r}"
        )


def extract_patches(images: Tensor, patch_size: int) -> Tensor:
    """One patch centred on every pixel, row-major, with reflect padding at the border.

    images (Tensor[N, C, H, W]) -> Tensor[N * H * W, C, P, P]; patch n * H * W + i * W + j is centred on
    pixel (i, j) of image n. Reflect padding needs P // 2 < H and P // 2 < W.
    """
    _check_patch_size(patch_size)
    if not isinstance(images, Tensor) or images.dim() != 4:
        raise ValueError(f"images must be a Tensor[N, C, H, W], got {getattr(images, 'shape', type(images))}")
    N, C, H, W = images.shape
    r = patch_size // 2
    if r >= H or r >= W:
        raise ValueError(f"patch_size {patch_size} is too large for reflect padding of a {H}x{W} image")
    # BEGIN SOLUTION
    padded = F.pad(images, (r, r, r, r), mode="reflect") if r else images  # (N, C, H + 2r, W + 2r)
    cols = F.unfold(padded, patch_size)  # (N, C * P * P, H * W), row-major over centres
    return cols.transpose(1, 2).reshape(N * H * W, C, patch_size, patch_size)
    # END SOLUTION


@register
class PatchClassifier(nn.Module):
    """A small CNN that labels the centre pixel of a P x P patch: (conv 3x3, ReLU, max-pool 2) twice, then
    two fully connected layers. Convolutions are unpadded so that the network sees only the patch.

    forward: Tensor[B, C, P, P] -> logits Tensor[B, K]
    """

    def __init__(
        self, in_channels: int, num_classes: int, patch_size: int, width: int = 16, hidden: int = 64
    ):
        super().__init__()
        self.spec_kwargs = dict(
            in_channels=in_channels,
            num_classes=num_classes,
            patch_size=patch_size,
            width=width,
            hidden=hidden,
        )
        _check_patch_size(patch_size)
        side = ((patch_size - 2) // 2 - 2) // 2  # spatial size after the second pooling
        if side < 1:
            raise ValueError(f"patch_size must be at least 11 for this network, got {patch_size}")
        # BEGIN SOLUTION
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * width * side * side, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )
        # END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION
        return self.classifier(self.features(x))
        # END SOLUTION


@torch.no_grad()
def segment_by_patches(
    model: nn.Module, images: Tensor, batch_size: int = 1024, progress: bool = False
) -> Tensor:
    """The naive method: every pixel's patch through `model`, in batches -> labels Tensor[N, H, W] (int64).

    `model.spec_kwargs["patch_size"]` (or `model.patch_size`) gives P. Patches are extracted one image
    at a time to bound memory.
    """
    patch_size = getattr(model, "spec_kwargs", {}).get("patch_size", getattr(model, "patch_size", None))
    if patch_size is None:
        raise ValueError("model must say its patch size (spec_kwargs['patch_size'] or .patch_size)")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    from tqdm.auto import tqdm

    N, C, H, W = images.shape
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    labels = torch.empty(N, H * W, dtype=torch.long)
    # BEGIN SOLUTION
    for n in tqdm(range(N), desc="patches", disable=not progress):
        patches = extract_patches(images[n : n + 1], patch_size)  # (H * W, C, P, P)
        for start in range(0, H * W, batch_size):
            batch = patches[start : start + batch_size].to(device)
            labels[n, start : start + batch_size] = model(batch).argmax(1).cpu()
    # END SOLUTION
    model.train(was_training)
    return labels.reshape(N, H, W)
