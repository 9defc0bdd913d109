"""Figures for the notebooks: segmentation grids, confusion matrices, reconstructions, latent spaces,
training curves and the checkerboard artefact of transposed convolutions. Every function returns a Figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from torch import Tensor


def _scene_palette() -> tuple[Sequence[str], Tensor]:
    from exercise_code.data import CLASS_NAMES, PALETTE

    return CLASS_NAMES, PALETTE


def _colour(mask: Tensor, palette: Tensor) -> np.ndarray:
    """RGB uint8 (H, W, 3) of a label mask; void (-1) drawn white."""
    lut = torch.cat([palette.to(torch.uint8), torch.full((1, 3), 255, dtype=torch.uint8)])
    return lut[mask.long().where(mask >= 0, torch.full_like(mask.long(), len(palette)))].numpy()


def segmentation_grid(
    images: Tensor,
    masks: Tensor,
    preds: Tensor | None = None,
    class_names: Sequence[str] | None = None,
    palette: Tensor | None = None,
    title: str = "Segmentation",
) -> Figure:
    """Rows of image / truth / prediction for images Tensor[N, 3, H, W], masks and preds Tensor[N, H, W]."""
    if class_names is None or palette is None:
        default_names, default_palette = _scene_palette()
        class_names = class_names or default_names
        palette = default_palette if palette is None else palette
    columns = 2 if preds is None else 3
    n = len(images)
    fig, axes = plt.subplots(n, columns, figsize=(2.2 * columns + 1.8, 2.2 * n), squeeze=False)
    for i in range(n):
        panels = [images[i].permute(1, 2, 0).clamp(0, 1).numpy(), _colour(masks[i], palette)]
        if preds is not None:
            panels.append(_colour(preds[i], palette))
        for j, (panel, name) in enumerate(zip(panels, ("image", "truth", "prediction"), strict=False)):
            axes[i, j].imshow(panel, interpolation="nearest")
            axes[i, j].set_axis_off()
            if i == 0:
                axes[i, j].set_title(name)
    handles = [
        Patch(color=np.asarray(c) / 255, label=str(name))
        for name, c in zip(class_names, palette.tolist(), strict=False)
    ]
    fig.legend(handles=handles, loc="center right", title="class", fontsize="small")
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 0.82, 0.97))
    return fig


def plot_confusion_matrix(cm: Tensor, class_names: Sequence[str], normalize: bool = True) -> Figure:
    """Heat map of a confusion matrix (rows: truth, columns: prediction), row-normalised by default."""
    values = cm.double()
    if normalize:
        values = values / values.sum(1, keepdim=True).clamp_min(1)
    fig, ax = plt.subplots(figsize=(0.5 * len(class_names) + 2, 0.5 * len(class_names) + 1.5))
    image = ax.imshow(values.numpy(), cmap="Blues", vmin=0)
    ax.set_xticks(range(len(class_names)), class_names, rotation=90)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("Confusion matrix" + (" (each row sums to 1)" if normalize else ""))
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return fig


def reconstruction_grid(originals: Tensor, reconstructions: Mapping[str, Tensor], n: int = 8) -> Figure:
    """First row the originals Tensor[N, 1, 28, 28], then one row per method (e.g. "PCA k=8", "AE k=8")."""
    rows = {"original": originals, **reconstructions}
    fig, axes = plt.subplots(len(rows), n, figsize=(1.2 * n, 1.3 * len(rows)), squeeze=False)
    for r, (name, images) in enumerate(rows.items()):
        for c in range(n):
            axes[r, c].imshow(
                images[c].detach().reshape(28, 28).clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1
            )
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center")
    fig.suptitle("Reconstructions")
    fig.tight_layout()
    return fig


def latent_scatter(z: Tensor, labels: Tensor, title: str = "2-D latent codes") -> Figure:
    """Scatter of 2-D codes Tensor[N, 2] coloured by digit label."""
    if z.dim() != 2 or z.shape[1] != 2:
        raise ValueError(f"z must be a Tensor[N, 2], got {tuple(z.shape)}")
    fig, ax = plt.subplots(figsize=(6, 5))
    points = ax.scatter(
        z[:, 0].numpy(), z[:, 1].numpy(), c=labels.numpy(), cmap="tab10", s=6, vmin=-0.5, vmax=9.5
    )
    fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_title(title)
    return fig


def training_curves(histories: Mapping[str, object] | object) -> Figure:
    """Training (solid) and validation (dashed) loss per epoch for one History or a dict of them."""
    if not isinstance(histories, Mapping):
        histories = {"model": histories}
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, history in histories.items():
        (line,) = ax.plot(range(1, len(history.train_loss) + 1), history.train_loss, label=f"{name} train")
        if history.val_loss:
            ax.plot(
                range(1, len(history.val_loss) + 1),
                history.val_loss,
                "--",
                color=line.get_color(),
                label=f"{name} val",
            )
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Training curves")
    ax.legend()
    return fig


def overlap_counts(kernel_size: int, stride: int, padding: int = 0, input_size: int = 4) -> Tensor:
    """Kernel copies landing on each output pixel of a transposed convolution (all-ones input and kernel).

    Returns Tensor[H_out, H_out] with H_out = (input_size - 1) * stride - 2 * padding + kernel_size.
    """
    x = torch.ones(1, 1, input_size, input_size)
    w = torch.ones(1, 1, kernel_size, kernel_size)
    try:
        from exercise_code.layers import conv_transpose2d

        out = conv_transpose2d(x, w, stride=stride, padding=padding)
    except NotImplementedError:  # the student release: draw with PyTorch's operator instead
        out = torch.nn.functional.conv_transpose2d(x, w, stride=stride, padding=padding)
    return out[0, 0]


def checkerboard_demo(stride: int = 2, kernel_sizes: Sequence[int] = (3, 4), input_size: int = 6) -> Figure:
    """Overlap counts per kernel size at `stride`; uneven counts (kernel 3, stride 2) are the checkerboard."""
    fig, axes = plt.subplots(1, len(kernel_sizes), figsize=(4.2 * len(kernel_sizes), 4), squeeze=False)
    for ax, k in zip(axes[0], kernel_sizes, strict=True):
        counts = overlap_counts(k, stride, 0, input_size)
        inner = counts[k:-k, k:-k] if counts.shape[0] > 2 * k else counts
        image = ax.imshow(counts.numpy(), cmap="viridis", vmin=0)
        even = bool((inner == inner.flatten()[0]).all())
        ax.set_title(f"kernel {k}, stride {stride}: " + ("even overlap" if even else "checkerboard"))
        ax.set_xlabel("output column")
        ax.set_ylabel("output row")
        fig.colorbar(image, ax=ax, label="kernel copies per pixel")
    fig.suptitle("Transposed convolution: how often each output pixel is written")
    fig.tight_layout()
    return fig
