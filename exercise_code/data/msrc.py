"""MSRC-v2 in the layout the lecture's course used: `images/<id>.bmp`, `targets/<id>_GT.bmp`, split lists.

Ground-truth colours map to 23 class ids (0..22); void (black) and any colour outside the table map to -1.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from .errors import DatasetUnavailableError
from .transforms import JointTransform

log = logging.getLogger(__name__)

MSRC_SPLITS = ("train", "val", "test")

MSRC_CLASS_NAMES: tuple[str, ...] = (
    "building",
    "grass",
    "tree",
    "cow",
    "horse",
    "sheep",
    "sky",
    "mountain",
    "aeroplane",
    "water",
    "face",
    "car",
    "bicycle",
    "flower",
    "sign",
    "bird",
    "book",
    "chair",
    "road",
    "cat",
    "dog",
    "body",
    "boat",
)
"""Class `c` (0..22) of MSRC-v2; void is -1."""

MSRC_COLOURS: Tensor = torch.tensor(
    [
        [128, 0, 0],
        [0, 128, 0],
        [128, 128, 0],
        [0, 0, 128],
        [128, 0, 128],
        [0, 128, 128],
        [128, 128, 128],
        [64, 0, 0],
        [192, 0, 0],
        [64, 128, 0],
        [192, 128, 0],
        [64, 0, 128],
        [192, 0, 128],
        [64, 128, 128],
        [192, 128, 128],
        [0, 64, 0],
        [128, 64, 0],
        [0, 192, 0],
        [128, 64, 128],
        [0, 192, 128],
        [128, 192, 128],
        [64, 64, 0],
        [192, 64, 0],
    ],
    dtype=torch.uint8,
)
"""uint8 Tensor[23, 3]: the ground-truth colour of each class (the MSRC-v2 table; void is (0, 0, 0))."""

MSRC_VOID_COLOUR = (0, 0, 0)


def _keys(rgb: Tensor) -> Tensor:
    rgb = rgb.long()
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


_SORTED_KEYS, _ORDER = torch.sort(_keys(MSRC_COLOURS))


def msrc_colours_to_ids(target: Tensor) -> Tensor:
    """Class ids of a ground-truth picture: uint8 Tensor[H, W, 3] (RGB) -> int64 Tensor[H, W].

    Table colours give 0..22; void (0, 0, 0) and colours outside the table give -1.
    """
    if target.ndim != 3 or target.shape[-1] != 3:
        raise ValueError(f"target must be an RGB Tensor[H, W, 3], got shape {tuple(target.shape)}")
    keys = _keys(target)
    pos = torch.searchsorted(_SORTED_KEYS, keys).clamp_(max=len(_SORTED_KEYS) - 1)
    found = _SORTED_KEYS[pos] == keys
    return torch.where(found, _ORDER[pos], torch.full_like(keys, -1))


def _read_ids(path: Path) -> list[str]:
    ids = []
    for line in path.read_text().splitlines():
        name = line.strip()
        if name:
            ids.append(name[:-4] if name.lower().endswith(".bmp") else name)
    return ids


class MSRCv2(Dataset):
    """MSRC-v2 items as `(image float Tensor[3, H, W] in [0, 1], mask int64 Tensor[H, W] in -1..22)`.

    root holds `images/<id>.bmp`, `targets/<id>_GT.bmp` and `train.txt` / `val.txt` / `test.txt` (one id a
    line, with or without `.bmp`). Unknown ground-truth colours become void (-1) and are logged at INFO level;
    `strict=True` raises ValueError instead. `transform(image, mask) -> (image, mask)` runs on each item.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        transform: JointTransform | None = None,
        *,
        strict: bool = False,
    ) -> None:
        if split not in MSRC_SPLITS:
            raise ValueError(f"split must be one of {MSRC_SPLITS}, got {split!r}")
        self.root = Path(root).expanduser()
        listing = self.root / f"{split}.txt"
        missing = [p for p in (self.root / "images", self.root / "targets", listing) if not p.exists()]
        if missing:
            raise DatasetUnavailableError(
                f"MSRC-v2 not found: missing {', '.join(str(p) for p in missing)}. "
                f"Put the dataset in {self.root} as images/<id>.bmp, targets/<id>_GT.bmp and "
                "train.txt / val.txt / test.txt listing ids, or run "
                f"exercise_code.data.download('msrc_v2', {str(self.root)!r}) on a machine with network."
            )
        self.split = split
        self.ids = _read_ids(listing)
        self.transform = transform
        self.strict = strict

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        name = self.ids[i]
        image_path, target_path = (
            self.root / "images" / f"{name}.bmp",
            self.root / "targets" / f"{name}_GT.bmp",
        )
        with Image.open(image_path) as im:
            image = torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1).float().div_(255.0)
        with Image.open(target_path) as gt:
            rgb = torch.from_numpy(np.array(gt.convert("RGB")))
        mask = msrc_colours_to_ids(rgb)
        if image.shape[1:] != mask.shape:
            raise ValueError(
                f"{image_path} is {tuple(image.shape[1:])} but {target_path} is {tuple(mask.shape)}"
            )
        unknown = (mask == -1) & (_keys(rgb) != 0)
        if unknown.any():
            colours = torch.unique(rgb[unknown], dim=0).tolist()
            if self.strict:
                raise ValueError(f"{target_path} has colours outside the MSRC-v2 table: {colours[:5]}")
            log.info(
                "%s: %d pixels of unknown colours %s set to void",
                target_path,
                int(unknown.sum()),
                colours[:5],
            )
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        return image, mask
