"""PCA as the linear baseline for autoencoders, and principal angles to compare subspaces.

A linear autoencoder trained with squared error spans the top-k principal subspace (Baldi and
Hornik 1989), but its weights need not be orthogonal: compare subspaces, not weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class PCA:
    """A fitted PCA: mean Tensor[D], components Tensor[k, D] (orthonormal rows), explained variance [k]."""

    mean: Tensor
    components: Tensor
    explained_variance: Tensor

    def transform(self, x: Tensor) -> Tensor:
        """Codes Tensor[N, k] of x (any shape [N, ...] that flattens to D)."""
        return (x.flatten(1) - self.mean) @ self.components.T

    def inverse_transform(self, z: Tensor) -> Tensor:
        """Reconstructions Tensor[N, D] from codes."""
        return z @ self.components + self.mean

    def reconstruct(self, x: Tensor) -> Tensor:
        """Project onto the subspace and back, in x's shape."""
        return self.inverse_transform(self.transform(x)).view_as(x)


def pca(x: Tensor, k: int) -> PCA:
    """The top-k principal components of the rows of x (Tensor[N, ...], flattened to [N, D])."""
    data = x.flatten(1).double()
    N, D = data.shape
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= min(N, D):
        raise ValueError(f"k must be an int in [1, {min(N, D)}], got {k!r}")
    # BEGIN SOLUTION
    mean = data.mean(0)
    _, s, vh = torch.linalg.svd(data - mean, full_matrices=False)  # rows of vh: principal directions
    variance = s[:k] ** 2 / max(N - 1, 1)
    # END SOLUTION
    return PCA(mean.to(x.dtype), vh[:k].to(x.dtype), variance.to(x.dtype))


def principal_angles(a: Tensor, b: Tensor, degrees: bool = True) -> Tensor:
    """Principal angles between the column spaces of a (Tensor[D, p]) and b (Tensor[D, q]), ascending.

    Returns min(p, q) angles (degrees by default): 0 for a shared direction, 90 for orthogonal ones.
    """
    if a.dim() != 2 or b.dim() != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(
            "a and b must be matrices with the same number of rows, "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    # BEGIN SOLUTION
    qa, _ = torch.linalg.qr(a.double())  # orthonormal bases first: the weights need not be orthogonal
    qb, _ = torch.linalg.qr(b.double())
    cosines = torch.linalg.svdvals(qa.T @ qb).clamp(-1.0, 1.0)  # descending cosines -> ascending angles
    angles = torch.arccos(cosines)
    # END SOLUTION
    return angles * (180.0 / math.pi) if degrees else angles
