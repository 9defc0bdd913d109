"""Metrics on hand-computed examples, and against a slow obvious reference."""

from __future__ import annotations

import pytest
import torch

from exercise_code.metrics import (
    accuracy,
    confusion_matrix,
    image_pixel_accuracy,
    mean_iou,
    per_class_iou,
    pixel_accuracy,
    reconstruction_mse,
)

# truth and prediction on a 2x3 image with classes {0, 1, 2}; one void pixel (-1)
TARGET = torch.tensor([[0, 0, 1], [1, 2, -1]])
PRED = torch.tensor([[0, 1, 1], [1, 1, 0]])


def test_confusion_matrix_by_hand():
    cm = confusion_matrix(PRED, TARGET, 3)
    # rows truth, cols prediction: truth 0 -> {0, 1}; truth 1 -> {1, 1}; truth 2 -> {1}
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [0, 1, 0]]


def test_pixel_accuracy_and_iou_by_hand():
    assert pixel_accuracy(PRED, TARGET) == pytest.approx(3 / 5)
    iou = per_class_iou(PRED, TARGET, 3)
    # class 0: TP 1, FP 0, FN 1 -> 1/2; class 1: TP 2, FP 2, FN 0 -> 2/4; class 2: TP 0, FN 1 -> 0
    torch.testing.assert_close(iou, torch.tensor([1 / 2, 2 / 4, 0.0], dtype=torch.float64))
    assert mean_iou(PRED, TARGET, 3) == pytest.approx((0.5 + 0.5 + 0.0) / 3)


def test_absent_classes_are_excluded_from_the_mean():
    iou = per_class_iou(PRED, TARGET, 5)
    assert torch.isnan(iou[3:]).all()
    assert mean_iou(PRED, TARGET, 5) == pytest.approx(1 / 3)


def test_image_averaged_accuracy_differs_from_pooled():
    target = torch.tensor([[[0, 0, 0, 0]], [[1, 1, -1, -1]]])
    pred = torch.tensor([[[0, 0, 0, 1]], [[0, 0, 0, 0]]])
    assert pixel_accuracy(pred, target) == pytest.approx(3 / 6)
    assert image_pixel_accuracy(pred, target) == pytest.approx((3 / 4 + 0) / 2)


def test_against_slow_reference():
    g = torch.Generator().manual_seed(0)
    target = torch.randint(-1, 6, (3, 9, 11), generator=g)
    pred = torch.randint(0, 6, (3, 9, 11), generator=g)
    cm = confusion_matrix(pred, target, 6)
    slow = torch.zeros(6, 6, dtype=torch.long)
    for t, p in zip(target.flatten().tolist(), pred.flatten().tolist(), strict=True):
        if t != -1:
            slow[t, p] += 1
    assert torch.equal(cm, slow)


def test_accuracy_and_mse():
    assert accuracy(torch.tensor([1, 2, 3, 4]), torch.tensor([1, 2, 0, 4])) == 0.75
    assert reconstruction_mse(torch.ones(2, 2), torch.zeros(2, 2)) == 1.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: confusion_matrix(PRED, TARGET[:1], 3), "same shape"),
        (lambda: confusion_matrix(PRED, TARGET, 0), "num_classes must be positive"),
        (lambda: confusion_matrix(PRED + 5, TARGET, 3), r"pred labels must lie in \[0, 3\)"),
        (lambda: confusion_matrix(PRED, TARGET - 2, 3), r"target labels must lie in \[0, 3\)"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
