"""Pascal VOC 2012 segmentation via torchvision's loader (never downloads): 21 classes, boundary -> -1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from .errors import DatasetUnavailableError
from .transforms import JointTransform

VOC_SPLITS = ("train", "val", "trainval")

VOC_CLASS_NAMES: tuple[str, ...] = (
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
"""Class `c` (0..20) of VOC; the boundary / difficult label 255 becomes -1."""


def _voc_palette(n: int = 21) -> Tensor:
    """The VOC colour map: bits of the class index spread over the high bits of R, G and B."""
    out = torch.zeros(n, 3, dtype=torch.uint8)
    for c in range(n):
        r = g = b = 0
        label = c
        for shift in range(7, -1, -1):
            r |= ((label >> 0) & 1) << shift
            g |= ((label >> 1) & 1) << shift
            b |= ((label >> 2) & 1) << shift
            label >>= 3
        out[c] = torch.tensor([r, g, b], dtype=torch.uint8)
    return out


VOC_PALETTE: Tensor = _voc_palette()
"""uint8 Tensor[21, 3]: the colours of VOC's palette PNGs (class 1 is (128, 0, 0))."""

VOC_BOUNDARY = 255


class PascalVOC(Dataset):
    """VOC 2012 segmentation as `(image float Tensor[3, H, W] in [0, 1], mask int64 Tensor[H, W] in -1..20)`.

    root is the directory that holds `VOCdevkit/VOC2012` (as torchvision expects); files are never
    downloaded here. `transform(image, mask) -> (image, mask)` runs on each item.
    """

    def __init__(
        self, root: str | Path, split: str = "train", transform: JointTransform | None = None
    ) -> None:
        if split not in VOC_SPLITS:
            raise ValueError(f"split must be one of {VOC_SPLITS}, got {split!r}")
        self.root = Path(root).expanduser()
        base = self.root / "VOCdevkit" / "VOC2012"
        needed = [
            base / "JPEGImages",
            base / "SegmentationClass",
            base / "ImageSets" / "Segmentation" / f"{split}.txt",
        ]
        missing = [p for p in needed if not p.exists()]
        if missing:
            raise DatasetUnavailableError(
                f"Pascal VOC 2012 not found: missing {', '.join(str(p) for p in missing)}. Unpack "
                f"VOCtrainval_11-May-2012.tar into {self.root} (it creates VOCdevkit/VOC2012), or run "
                f"exercise_code.data.download('voc2012', {str(self.root)!r}) on a machine with network."
            )
        self.split = split
        from torchvision.datasets import VOCSegmentation  # here: importing torchvision costs ~2 CPU-s

        self._voc = VOCSegmentation(str(self.root), year="2012", image_set=split, download=False)
        self.transform = transform

    def __len__(self) -> int:
        return len(self._voc)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        image, target = self._voc[i]
        x = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1).float().div_(255.0)
        mask = torch.from_numpy(np.array(target, dtype=np.int64))  # palette indices 0..20 and 255
        mask[mask == VOC_BOUNDARY] = -1
        if self.transform is not None:
            x, mask = self.transform(x, mask)
        return x, mask
