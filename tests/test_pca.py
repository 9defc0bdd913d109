"""PCA agrees with scikit-learn and an SVD; principal angles on hand examples."""

from __future__ import annotations

import math

import pytest
import torch
from sklearn.decomposition import PCA as SkPCA

from exercise_code.models import pca, principal_angles


def test_pca_agrees_with_sklearn():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 12, generator=g, dtype=torch.float64) @ torch.randn(
        12, 12, generator=g, dtype=torch.float64
    )
    ours = pca(x, 4)
    theirs = SkPCA(4).fit(x.numpy())
    torch.testing.assert_close(ours.explained_variance, torch.from_numpy(theirs.explained_variance_))
    assert principal_angles(ours.components.T, torch.from_numpy(theirs.components_).T).max() < 1e-5
    torch.testing.assert_close(
        ours.reconstruct(x), torch.from_numpy(theirs.inverse_transform(theirs.transform(x.numpy())))
    )


def test_principal_angles_by_hand():
    e = torch.eye(3, dtype=torch.float64)
    assert principal_angles(e[:, :2], e[:, :2]).abs().max() < 1e-6
    torch.testing.assert_close(
        principal_angles(e[:, :1], e[:, 1:2]), torch.tensor([90.0], dtype=torch.float64)
    )
    theta = math.radians(30)
    rotated = torch.tensor([[math.cos(theta)], [math.sin(theta)], [0.0]], dtype=torch.float64)
    torch.testing.assert_close(principal_angles(e[:, :1], rotated), torch.tensor([30.0], dtype=torch.float64))
    # non-orthogonal bases of the same plane: angles 0 (needs the orthonormalisation)
    skew = torch.tensor([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    assert principal_angles(skew * 3, e[:, :2]).abs().max() < 1e-6


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: pca(torch.rand(5, 3), 4), r"k must be an int in \[1, 3\]"),
        (lambda: principal_angles(torch.rand(3, 2), torch.rand(4, 2)), "same number of rows"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
