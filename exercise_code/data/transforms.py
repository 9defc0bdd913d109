"""Joint image + mask augmentation (random scale, crop, flip) with `torchvision.transforms.v2` and tv_tensors.

The image is resized bilinearly, the mask with nearest neighbours (v2 does this for `tv_tensors.Mask`);
padding fills the image with 0 and the mask with the void label.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from torch import Tensor

from ..utils import as_pair

if TYPE_CHECKING:  # torchvision is imported where it is used: importing it costs ~2 CPU-s
    from torchvision.transforms import v2

JointTransform = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]
"""`transform(image Tensor[3, H, W], mask Tensor[H, W]) -> (image, mask)`."""


class SegmentationTransform:
    """Applies a v2 pipeline to an image and its mask together; plain tensors in, plain tensors out."""

    def __init__(self, pipeline: v2.Transform) -> None:
        self.pipeline = pipeline

    def __call__(self, image: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        if image.ndim != 3 or mask.shape != image.shape[1:]:
            raise ValueError(
                f"image must be Tensor[C, H, W] and mask Tensor[H, W] of the same size, "
                f"got {tuple(image.shape)} and {tuple(mask.shape)}"
            )
        from torchvision import tv_tensors

        out_image, out_mask = self.pipeline(tv_tensors.Image(image), tv_tensors.Mask(mask))
        return out_image.as_subclass(Tensor), out_mask.as_subclass(Tensor)

    def __repr__(self) -> str:
        return f"SegmentationTransform({self.pipeline})"


def segmentation_transforms(
    crop_size: int | tuple[int, int],
    train: bool = True,
    *,
    scale_range: tuple[float, float] = (0.75, 1.25),
    hflip: bool = True,
    void_index: int = -1,
) -> SegmentationTransform:
    """A joint transform for `(image, mask)` pairs.

    train=True: resize so the shorter side is a random length in `crop_size * scale_range` (mask: nearest),
    random crop of `crop_size` (padding where the image is smaller: image 0, mask `void_index`), and a random
    horizontal flip when `hflip`. train=False: nothing changes (evaluate on whole images).
    Output: image Tensor[C, h, w], mask Tensor[h, w] with (h, w) = crop_size when training.
    """
    h, w = as_pair(crop_size, "crop_size")
    if h < 1 or w < 1:
        raise ValueError(f"crop_size must be positive, got {crop_size!r}")
    lo, hi = scale_range
    if not 0 < lo <= hi:
        raise ValueError(f"scale_range must satisfy 0 < lo <= hi, got {scale_range!r}")
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    if not train:
        return SegmentationTransform(v2.Identity())
    short = min(h, w)
    steps: list[v2.Transform] = [
        v2.RandomResize(max(1, round(short * lo)), max(1, round(short * hi)) + 1),
        v2.RandomCrop((h, w), pad_if_needed=True, fill={tv_tensors.Image: 0.0, tv_tensors.Mask: void_index}),
    ]
    if hflip:
        steps.append(v2.RandomHorizontalFlip())
    return SegmentationTransform(v2.Compose(steps))
