"""Plots return figures with the expected panels; the checkerboard demo tells kernel 3 from kernel 4."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch

from exercise_code import plotting
from exercise_code.training import History


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_segmentation_grid(tmp_path):
    images, masks = torch.rand(2, 3, 16, 16), torch.randint(-1, 11, (2, 16, 16))
    fig = plotting.segmentation_grid(images, masks, masks.clamp(min=0))
    assert len(fig.axes) == 6 and fig.axes[2].get_title() == "prediction"
    fig.savefig(tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 0


def test_other_figures():
    cm = torch.tensor([[3, 1], [0, 2]])
    assert "Confusion" in plotting.plot_confusion_matrix(cm, ["a", "b"]).axes[0].get_title()
    fig = plotting.reconstruction_grid(torch.rand(4, 1, 28, 28), {"PCA k=8": torch.rand(4, 1, 28, 28)}, n=4)
    assert len(fig.axes) == 8
    fig = plotting.latent_scatter(torch.randn(50, 2), torch.randint(0, 10, (50,)))
    assert fig.axes[0].get_xlabel() == "z[0]"
    with pytest.raises(ValueError, match=r"Tensor\[N, 2\]"):
        plotting.latent_scatter(torch.randn(5, 3), torch.zeros(5))
    fig = plotting.training_curves({"fcn": History(train_loss=[2.0, 1.0], val_loss=[2.5, 1.5])})
    assert len(fig.axes[0].lines) == 2


def test_overlap_counts_and_checkerboard():
    counts3 = plotting.overlap_counts(3, 2, 0, 4)
    counts4 = plotting.overlap_counts(4, 2, 0, 4)
    assert counts3.shape == (9, 9) and counts4.shape == (10, 10)
    assert set(counts3[2:-2, 2:-2].unique().tolist()) == {1.0, 2.0, 4.0}  # uneven: the checkerboard
    assert counts4[2:-2, 2:-2].unique().tolist() == [4.0]  # every interior pixel written 4 times
    titles = [ax.get_title() for ax in plotting.checkerboard_demo().axes if ax.get_title()]
    assert "checkerboard" in titles[0] and "even overlap" in titles[1]
