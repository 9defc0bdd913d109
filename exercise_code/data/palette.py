"""Class names and colours of the digit scenes, and `colorize` to turn any label mask into an RGB image."""

from __future__ import annotations

import torch
from torch import Tensor

CLASS_NAMES: tuple[str, ...] = ("background", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
"""Scene class `c` is named `CLASS_NAMES[c]`: background, then digit `c - 1`."""

PALETTE: Tensor = torch.tensor(
    [
        [0, 0, 0],  # background
        [230, 25, 75],  # 0
        [60, 180, 75],  # 1
        [255, 225, 25],  # 2
        [0, 130, 200],  # 3
        [245, 130, 48],  # 4
        [145, 30, 180],  # 5
        [70, 240, 240],  # 6
        [240, 50, 230],  # 7
        [210, 245, 60],  # 8
        [250, 190, 212],  # 9
    ],
    dtype=torch.uint8,
)
"""uint8 Tensor[11, 3]: the colour of each scene class (background black)."""

VOID_COLOUR: tuple[int, int, int] = (255, 255, 255)
"""Colour of void / ignored pixels (label -1) in `colorize`."""


def colorize(mask: Tensor, palette: Tensor = PALETTE) -> Tensor:
    """RGB picture of a label mask: each class in its palette colour, void (-1) in white.

    mask (integer Tensor[..., H, W]), palette (uint8 Tensor[K, 3]) -> uint8 Tensor[..., H, W, 3]
    (channels last, ready for `imshow`). Labels outside -1..K-1 raise ValueError.
    """
    if not isinstance(mask, Tensor) or mask.dtype.is_floating_point or mask.dtype == torch.bool:
        raise TypeError(
            f"mask must be an integer tensor, got {type(mask).__name__} {getattr(mask, 'dtype', '')}"
        )
    num = palette.shape[0]
    if mask.numel() and (int(mask.min()) < -1 or int(mask.max()) >= num):
        raise ValueError(
            f"mask labels must be in -1..{num - 1} for a palette of {num} colours, "
            f"got values in {int(mask.min())}..{int(mask.max())}"
        )
    table = torch.cat([palette.to(torch.uint8), torch.tensor([VOID_COLOUR], dtype=torch.uint8)])
    index = mask.long().clone()
    index[index == -1] = num  # void -> the extra last row
    return table[index]
