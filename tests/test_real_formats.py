"""Real-format loaders on tiny trees written here: MSRC-v2 BMPs, VOC PNGs, MNIST idx; joint transforms."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from exercise_code.data import (
    MSRC_CLASS_NAMES,
    MSRC_COLOURS,
    VOC_PALETTE,
    DatasetUnavailableError,
    MSRCv2,
    PascalVOC,
    mnist_full,
    msrc_colours_to_ids,
    segmentation_transforms,
)

# --- MSRC-v2 -------------------------------------------------------------------------------------


def _write_msrc(root: Path, rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Three images with ground truth: table colours, void, and one colour outside the table."""
    (root / "images").mkdir(parents=True)
    (root / "targets").mkdir()
    items = {}
    for k, name in enumerate(["1_1_s", "2_7_s", "5_3_s"]):
        h, w = 6 + k, 5 + 2 * k
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        ids = rng.integers(-1, 23, (h, w))
        ids[0, 0], ids[-1, -1] = 22, -1
        gt = np.zeros((h, w, 3), dtype=np.uint8)
        gt[ids >= 0] = MSRC_COLOURS.numpy()[ids[ids >= 0]]
        if k == 2:
            gt[1, 1] = (10, 20, 30)  # not in the table -> void
            ids[1, 1] = -1
        Image.fromarray(image).save(root / "images" / f"{name}.bmp")
        Image.fromarray(gt).save(root / "targets" / f"{name}_GT.bmp")
        items[name] = (image, ids)
    (root / "train.txt").write_text("1_1_s.bmp\n2_7_s\n\n")
    (root / "val.txt").write_text("5_3_s.bmp\n")
    (root / "test.txt").write_text("")
    return items


def test_msrc_loads_images_and_masks(tmp_path):
    items = _write_msrc(tmp_path, np.random.default_rng(0))
    train = MSRCv2(tmp_path, "train")
    assert train.ids == ["1_1_s", "2_7_s"] and len(train) == 2
    for i, name in enumerate(train.ids):
        image, mask = train[i]
        ref_image, ref_ids = items[name]
        assert image.dtype == torch.float32 and mask.dtype == torch.int64
        torch.testing.assert_close(image, torch.from_numpy(ref_image).permute(2, 0, 1).float() / 255)
        torch.testing.assert_close(mask, torch.from_numpy(ref_ids))
    _, mask = MSRCv2(tmp_path, "val")[0]
    assert int(mask[1, 1]) == -1  # unknown colour -> void
    assert len(MSRCv2(tmp_path, "test")) == 0


def test_msrc_colour_table():
    assert (
        len(MSRC_CLASS_NAMES) == 23 and MSRC_CLASS_NAMES[0] == "building" and MSRC_CLASS_NAMES[-1] == "boat"
    )
    assert MSRC_COLOURS[MSRC_CLASS_NAMES.index("grass")].tolist() == [0, 128, 0]
    assert MSRC_COLOURS[MSRC_CLASS_NAMES.index("dog")].tolist() == [128, 192, 128]
    ids = msrc_colours_to_ids(MSRC_COLOURS[None])  # Tensor[1, 23, 3]
    assert ids.tolist() == [list(range(23))]
    assert msrc_colours_to_ids(torch.tensor([[[0, 0, 0], [1, 2, 3]]], dtype=torch.uint8)).tolist() == [
        [-1, -1]
    ]
    with pytest.raises(ValueError, match=r"RGB Tensor\[H, W, 3\]"):
        msrc_colours_to_ids(torch.zeros(3, 4, 4, dtype=torch.uint8))


def test_msrc_strict_and_errors(tmp_path):
    _write_msrc(tmp_path / "msrc", np.random.default_rng(1))
    with pytest.raises(ValueError, match="colours outside the MSRC-v2 table"):
        MSRCv2(tmp_path / "msrc", "val", strict=True)[0]
    with pytest.raises(ValueError, match="split must be one of"):
        MSRCv2(tmp_path / "msrc", "validation")
    with pytest.raises(DatasetUnavailableError, match=r"MSRC-v2 not found.*download\('msrc_v2'"):
        MSRCv2(tmp_path / "nothing", "train")


def test_msrc_with_joint_transform(tmp_path):
    _write_msrc(tmp_path, np.random.default_rng(2))
    torch.manual_seed(0)
    ds = MSRCv2(tmp_path, "train", transform=segmentation_transforms(16, scale_range=(1.0, 1.0)))
    image, mask = ds[0]
    assert image.shape == (3, 16, 16) and mask.shape == (16, 16)
    assert set(mask.unique().tolist()) <= set(range(-1, 23))


# --- Pascal VOC ----------------------------------------------------------------------------------


def _write_voc(root: Path, rng: np.random.Generator) -> dict[str, np.ndarray]:
    base = root / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (base / sub).mkdir(parents=True)
    masks = {}
    for k, name in enumerate(["2007_000032", "2007_000039", "2008_000001"]):
        h, w = 10 + k, 12
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
            base / "JPEGImages" / f"{name}.jpg"
        )
        labels = rng.integers(0, 21, (h, w)).astype(np.uint8)
        labels[0, :] = 255  # object boundary
        png = Image.fromarray(labels, mode="P")
        palette = np.zeros((256, 3), dtype=np.uint8)
        palette[:21] = VOC_PALETTE.numpy()
        palette[255] = (224, 224, 192)
        png.putpalette(palette.flatten().tolist())
        png.save(base / "SegmentationClass" / f"{name}.png")
        masks[name] = labels
    (base / "ImageSets/Segmentation/train.txt").write_text("2007_000032\n2007_000039\n")
    (base / "ImageSets/Segmentation/val.txt").write_text("2008_000001\n")
    return masks


def test_voc_masks_map_boundary_to_void(tmp_path):
    masks = _write_voc(tmp_path, np.random.default_rng(0))
    train = PascalVOC(tmp_path, "train")
    assert len(train) == 2 and len(PascalVOC(tmp_path, "val")) == 1
    image, mask = train[1]
    assert image.shape == (3, 11, 12) and image.dtype == torch.float32
    expected = torch.from_numpy(masks["2007_000039"].astype(np.int64))
    expected[expected == 255] = -1
    torch.testing.assert_close(mask, expected)
    assert (mask[0] == -1).all() and int(mask.max()) <= 20


def test_voc_palette_and_errors(tmp_path):
    assert VOC_PALETTE[1].tolist() == [128, 0, 0] and VOC_PALETTE[15].tolist() == [192, 128, 128]
    with pytest.raises(DatasetUnavailableError, match=r"VOCtrainval_11-May-2012.tar.*download\('voc2012'"):
        PascalVOC(tmp_path, "train")
    with pytest.raises(ValueError, match="split must be one of"):
        PascalVOC(tmp_path, "test")


# --- MNIST ---------------------------------------------------------------------------------------


def _write_idx(raw: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    n = len(images)
    (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
        struct.pack(">iiii", 2051, n, 28, 28) + images.tobytes()
    )
    (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">ii", 2049, n) + labels.tobytes())


def test_mnist_full_reads_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    train_x = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    train_y = rng.integers(0, 10, 7, dtype=np.uint8)
    _write_idx(raw, "train", train_x, train_y)
    _write_idx(raw, "t10k", train_x[:3], train_y[:3])
    images, labels = mnist_full(tmp_path, train=True)
    assert images.shape == (7, 28, 28) and images.dtype == torch.uint8 and labels.dtype == torch.int64
    torch.testing.assert_close(images, torch.from_numpy(train_x))
    torch.testing.assert_close(labels, torch.from_numpy(train_y.astype(np.int64)))
    assert mnist_full(tmp_path, train=False)[0].shape == (3, 28, 28)


def test_mnist_full_missing_files(tmp_path):
    with pytest.raises(DatasetUnavailableError, match=r"MNIST not found in .*MNIST/raw.*download\('mnist'"):
        mnist_full(tmp_path / "empty")


# --- joint transforms ----------------------------------------------------------------------------


def _bands() -> tuple[torch.Tensor, torch.Tensor]:
    mask = torch.arange(20 * 24).reshape(20, 24) // 60  # 8 horizontal bands of labels 0..7
    return (mask.float() / 10).expand(3, -1, -1).clone(), mask


def test_transform_pads_with_void():
    torch.manual_seed(0)
    image, mask = _bands()
    t = segmentation_transforms(40, scale_range=(0.5, 0.5), hflip=False)  # shorter side 20: no resize
    out_image, out_mask = t(image, mask)
    assert type(out_image) is torch.Tensor and type(out_mask) is torch.Tensor
    assert out_image.shape == (3, 40, 40) and out_mask.shape == (40, 40) and out_mask.dtype == torch.int64
    assert int((out_mask == -1).sum()) == 40 * 40 - 20 * 24  # padding is void
    torch.testing.assert_close(torch.bincount(out_mask[out_mask >= 0]), torch.bincount(mask.flatten()))
    assert float(out_image[:, out_mask == -1].abs().max()) == 0.0  # image padded with 0


def test_transform_resizes_mask_with_nearest():
    torch.manual_seed(0)
    image, mask = _bands()
    out_image, out_mask = segmentation_transforms(40, scale_range=(1.0, 1.5), hflip=False)(image, mask)
    assert out_mask.shape == (40, 40) and out_mask.dtype == torch.int64
    assert set(out_mask.unique().tolist()) <= set(range(8))  # nearest: no blended or void labels
    agree = (out_image[0] * 10).round() == out_mask.float()
    assert agree.float().mean() > 0.9  # image and mask moved together


def test_transform_flip_and_eval():
    mask = torch.zeros(8, 8, dtype=torch.int64)
    mask[:, :2] = 3
    image = torch.rand(3, 8, 8)
    flips = set()
    t = segmentation_transforms(8, scale_range=(1.0, 1.0))
    for seed in range(12):
        torch.manual_seed(seed)
        out_image, out_mask = t(image, mask)
        flips.add(bool((out_mask[:, -2:] == 3).all()))
        if flips == {True}:
            torch.testing.assert_close(out_image, image.flip(-1))
    assert flips == {True, False}
    same_image, same_mask = segmentation_transforms(8, train=False)(image, mask)
    torch.testing.assert_close(same_image, image)
    torch.testing.assert_close(same_mask, mask)


def test_transform_errors():
    with pytest.raises(ValueError, match="crop_size must be positive"):
        segmentation_transforms(0)
    with pytest.raises(ValueError, match="crop_size must be an int or a pair"):
        segmentation_transforms(2.5)
    with pytest.raises(ValueError, match="scale_range must satisfy"):
        segmentation_transforms(8, scale_range=(1.2, 0.8))
    with pytest.raises(ValueError, match="same size"):
        segmentation_transforms(8)(torch.rand(3, 8, 8), torch.zeros(7, 8, dtype=torch.int64))
