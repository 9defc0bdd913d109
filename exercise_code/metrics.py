"""Metrics: confusion matrix, pixel accuracy, (mean) IoU, accuracy, reconstruction error."""

from __future__ import annotations

import torch
from torch import Tensor


def _check(pred: Tensor, target: Tensor) -> None:
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
        raise TypeError("pred and target must be torch tensors")
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}"
        )


def confusion_matrix(pred: Tensor, target: Tensor, num_classes: int, ignore_index: int = -1) -> Tensor:
    """Counts Tensor[K, K] (int64): row = true class, column = predicted class; `ignore_index` pixels skipped.

    pred, target: integer tensors of the same shape (e.g. [N, H, W]).
    """
    _check(pred, target)
    if num_classes < 1:
        raise ValueError(f"num_classes must be positive, got {num_classes}")
    keep = target != ignore_index
    t, p = target[keep].long(), pred[keep].long()
    for name, values in (("target", t), ("pred", p)):
        if values.numel() and (int(values.min()) < 0 or int(values.max()) >= num_classes):
            raise ValueError(
                f"{name} labels must lie in [0, {num_classes}) (or be {ignore_index} in target), "
                f"got values in [{int(values.min())}, {int(values.max())}]"
            )
    counts = torch.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).cpu()


def pixel_accuracy(pred: Tensor, target: Tensor, ignore_index: int = -1) -> float:
    """Share of labelled pixels predicted correctly (NaN if no pixel is labelled)."""
    _check(pred, target)
    keep = target != ignore_index
    total = int(keep.sum())
    return float((pred[keep] == target[keep]).sum()) / total if total else float("nan")


def image_pixel_accuracy(pred: Tensor, target: Tensor, ignore_index: int = -1) -> float:
    """Pixel accuracy per image of [N, H, W], averaged over images (unlabelled images skipped)."""
    _check(pred, target)
    scores = [pixel_accuracy(p, t, ignore_index) for p, t in zip(pred, target, strict=True)]
    scores = [s for s in scores if s == s]
    return sum(scores) / len(scores) if scores else float("nan")


def per_class_iou(pred: Tensor, target: Tensor, num_classes: int, ignore_index: int = -1) -> Tensor:
    """IoU of each class, Tensor[K] float64; NaN for a class absent from both prediction and target."""
    cm = confusion_matrix(pred, target, num_classes, ignore_index).double()
    intersection = cm.diag()
    union = cm.sum(0) + cm.sum(1) - intersection
    return torch.where(union > 0, intersection / union.clamp_min(1), torch.full_like(union, float("nan")))


def mean_iou(pred: Tensor, target: Tensor, num_classes: int, ignore_index: int = -1) -> float:
    """Mean IoU over the classes present in the prediction or the target."""
    iou = per_class_iou(pred, target, num_classes, ignore_index)
    present = ~torch.isnan(iou)
    return float(iou[present].mean()) if present.any() else float("nan")


def accuracy(pred: Tensor, target: Tensor) -> float:
    """Share of equal entries (classification accuracy)."""
    _check(pred, target)
    return float((pred == target).double().mean()) if target.numel() else float("nan")


def reconstruction_mse(x_hat: Tensor, x: Tensor) -> float:
    """Mean squared error per pixel between a reconstruction and its input."""
    _check(x_hat, x)
    return float(((x_hat.double() - x.double()) ** 2).mean())
