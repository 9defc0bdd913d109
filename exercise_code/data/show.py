"""Draw scenes next to their colour-coded masks (returns a matplotlib Figure; never shows it)."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure
from matplotlib.patches import Patch
from torch import Tensor
from torch.utils.data import Dataset

from .palette import CLASS_NAMES, PALETTE, colorize


def show_scenes(
    dataset: Dataset,
    n: int = 6,
    *,
    start: int = 0,
    class_names: Sequence[str] = CLASS_NAMES,
    palette: Tensor = PALETTE,
    size: float = 1.9,
) -> Figure:
    """Images (top row) and their masks (bottom row) of items `start .. start + n - 1`, with a class legend.

    dataset yields `(image float Tensor[3, H, W] in [0, 1], mask int Tensor[H, W])`. The Figure is built
    without pyplot, so nothing is displayed unless the caller does (a notebook shows a returned Figure).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    n = min(n, len(dataset) - start)
    if n < 1:
        raise ValueError(f"start {start} leaves no item in a dataset of {len(dataset)}")
    fig = Figure(figsize=(size * n + 1.6, 2 * size + 0.3), layout="constrained")
    axes = fig.subplots(2, n, squeeze=False)
    for col in range(n):
        image, mask = dataset[start + col]
        axes[0, col].imshow(image.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
        axes[1, col].imshow(colorize(mask, palette).numpy(), interpolation="nearest")
        axes[0, col].set_title(f"#{start + col}", fontsize=8)
        for ax in axes[:, col]:
            ax.set_axis_off()
    handles = [
        Patch(facecolor=(palette[c].float() / 255).tolist(), edgecolor="grey", label=name)
        for c, name in enumerate(class_names)
    ]
    fig.legend(handles=handles, loc="outside right center", fontsize=7, frameon=False, title="class")
    return fig
