"""Digit scenes: determinism, disjoint pools, masks checked by re-rendering each digit, clutter, colour."""

from __future__ import annotations

import functools
import hashlib

import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from exercise_code.data import (
    CLASS_NAMES,
    PALETTE,
    DigitScenes,
    SceneConfig,
    colorize,
    digit_pools,
    hidden_scenes,
    mnist_subset,
    show_scenes,
)


@functools.cache
def _scenes(split: str, n: int, seed: int = 0) -> DigitScenes:
    return DigitScenes(split, n, seed=seed)


def _rerender_ink(index: int, size: int, radius: float) -> torch.Tensor:
    """A digit's coverage drawn independently: disc dilation by shifts, then antialiased bilinear resize."""
    x = mnist_subset()[0][index].float() / 255
    r = int(radius)
    padded = F.pad(x, (r, r, r, r))
    out = x.clone()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dy * dy + dx * dx <= radius * radius:
                out = torch.maximum(out, padded[r + dy : r + dy + 28, r + dx : r + dx + 28])
    resized = F.interpolate(out[None, None], size=(size, size), mode="bilinear", antialias=True)
    return resized[0, 0].clamp(0, 1)


def test_items_shapes_and_ranges():
    ds = _scenes("train", 40)
    assert len(ds) == 40
    image, mask = ds[5]
    assert image.shape == (3, 64, 64) and image.dtype == torch.float32
    assert mask.shape == (64, 64) and mask.dtype == torch.int64
    assert 0 <= float(image.min()) and float(image.max()) <= 1
    assert 0 <= int(mask.min()) and int(mask.max()) <= 10
    images, masks = ds.tensors()
    assert images.shape == (40, 3, 64, 64) and masks.shape == (40, 64, 64)
    torch.testing.assert_close(images[5], image)


def test_deterministic_and_independent_of_num_scenes():
    a = DigitScenes("val", 12, seed=7)
    b = DigitScenes("val", 12, seed=7)
    torch.testing.assert_close(a.images, b.images, rtol=0, atol=0)
    torch.testing.assert_close(a.masks, b.masks, rtol=0, atol=0)
    short = DigitScenes("val", 5, seed=7)
    torch.testing.assert_close(short.images, a.images[:5], rtol=0, atol=0)
    other = DigitScenes("val", 12, seed=8)
    differ = [not torch.equal(a.images[i], other.images[i]) for i in range(12)]
    assert all(differ)
    scene = a.render(3)
    torch.testing.assert_close(scene.image, a[3][0], rtol=0, atol=0)
    torch.testing.assert_close(scene.mask, a[3][1], rtol=0, atol=0)
    torch.testing.assert_close(scene.image, b.render(3).image, rtol=0, atol=0)


def test_splits_use_disjoint_digits():
    images, _ = mnist_subset()
    pools = digit_pools(0)
    used = {split: _scenes(split, 150).used_digits() for split in ("train", "test")}
    assert set(used["train"].tolist()) <= set(pools.train.tolist())
    assert set(used["test"].tolist()) <= set(pools.test.tolist())
    assert set(used["train"].tolist()).isdisjoint(used["test"].tolist())
    hashes = {s: {hashlib.sha1(images[j].numpy().tobytes()).hexdigest() for j in u} for s, u in used.items()}
    assert hashes["train"].isdisjoint(hashes["test"])
    assert len(used["train"]) > 200  # many distinct digits, not a handful repeated


def test_masks_match_independent_rerender():
    ds = _scenes("train", 40)
    config = ds.config
    _, labels = mnist_subset()
    for i in range(len(ds)):
        layout = ds.layouts[i]
        expected = torch.zeros(64, 64, dtype=torch.int64)
        strokes = []
        for j, (top, left, size) in zip(layout.digit_indices, layout.boxes, strict=True):
            ink = _rerender_ink(j, size, config.boldness)
            stroke = torch.zeros(64, 64, dtype=torch.bool)
            stroke[top : top + size, left : left + size] = ink > config.threshold
            expected[stroke] = int(labels[j]) + 1
            strokes.append((stroke, int(labels[j])))
        torch.testing.assert_close(ds.masks[i].long(), expected, rtol=0, atol=0)
        # every digit pixel is a stroke of a digit of that class that no later digit covers there
        mask = ds.masks[i].long()
        for y, x in torch.nonzero(mask > 0).tolist():
            top_digit = [d for stroke, d in strokes if stroke[y, x]][-1]
            assert int(mask[y, x]) == top_digit + 1
        assert layout.labels == tuple(int(labels[j]) for j in layout.digit_indices)


def test_later_digit_occludes_earlier():
    ds = _scenes("train", 150)
    overlaps = 0
    for i in range(len(ds)):
        scene = ds.render(i)
        visible = scene.coverage > ds.config.threshold  # (K, H, W), in drawing order
        stacked = visible.sum(0) >= 2
        if not stacked.any():
            continue
        order = torch.arange(1, len(visible) + 1)[:, None, None] * visible  # drawing rank where visible
        topmost = order.argmax(0)  # the last digit drawn over each pixel
        labels = torch.tensor(scene.layout.labels)
        overlaps += int(stacked.sum())
        torch.testing.assert_close(scene.mask[stacked], labels[topmost[stacked]] + 1, rtol=0, atol=0)
    assert overlaps > 200


def test_class_frequencies_in_sane_range():
    masks = _scenes("train", 300).masks.long()
    freq = torch.bincount(masks.flatten(), minlength=11).double() / masks.numel()
    assert 0.5 <= float(freq[0]) <= 0.9
    present = torch.stack([(masks == c).flatten(1).any(1) for c in range(11)], 1).sum(0)
    assert (freq[1:] > 0.005).all(), freq
    assert (present[1:] >= 30).all(), present


def test_intensity_alone_cannot_find_digits():
    images, masks = _scenes("train", 200).tensors()
    grey = images.mean(1).flatten()
    digit = (masks > 0).flatten()
    best = 0.0
    for t in torch.linspace(0, 1, 51):
        for pred in (grey > t, grey < t):
            tpr = (pred & digit).sum() / digit.sum()
            tnr = (~pred & ~digit).sum() / (~digit).sum()
            best = max(best, float(tpr + tnr) / 2)
    assert best < 0.6  # balanced accuracy of the best global threshold: barely better than chance


def test_digit_colours_vary_and_contrast():
    ds = _scenes("train", 150)
    colours = torch.tensor([c for layout in ds.layouts for c in layout.colours])
    assert colours.std(0).min() > 0.2  # hues spread over the cube, not one colour per class
    images, masks = ds.tensors()
    for i in range(20):  # a digit's strokes stand out from the backdrop around them
        for c in masks[i].unique()[1:]:
            inside = images[i][:, masks[i] == c].mean(1)
            ring = F.max_pool2d((masks[i] == c).float()[None], 5, 1, 2)[0].bool() & (masks[i] == 0)
            if ring.sum() > 10:
                assert torch.linalg.norm(inside - images[i][:, ring].mean(1)) > 0.1


def test_clutter_is_background():
    plain = DigitScenes("val", 20, config=SceneConfig(clutter=0.0, noise_std=0.0))
    busy = DigitScenes("val", 20, config=SceneConfig(noise_std=0.0))
    torch.testing.assert_close(plain.masks, busy.masks, rtol=0, atol=0)  # distractors never get a label
    changed = (plain.images != busy.images).any(1) & (busy.masks == 0)
    assert changed.flatten(1).sum(1).float().mean() > 20  # distractor strokes drawn on the background


def test_options_change_scenes():
    ds = DigitScenes("train", 30, digits_per_scene=(1, 1), scale_range=(30, 30))
    assert all(len(layout.digit_indices) == 1 for layout in ds.layouts)
    assert all(box[2] == 30 for layout in ds.layouts for box in layout.boxes)
    big = DigitScenes("train", 4, image_size=96)
    assert big[0][0].shape == (3, 96, 96)
    assert all(33 <= box[2] <= 60 for layout in big.layouts for box in layout.boxes)


def test_hidden_scenes_are_test_pool_scenes():
    images, masks = hidden_scenes(seed=1234, num_scenes=6)
    ref = DigitScenes("test", 6, seed=1234)
    torch.testing.assert_close(images, ref.tensors()[0], rtol=0, atol=0)
    torch.testing.assert_close(masks, ref.tensors()[1], rtol=0, atol=0)
    assert set(ref.used_digits().tolist()) <= set(digit_pools(0).test.tolist())


def test_cache_roundtrip(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_DATA_CACHE", str(tmp_path))
    first = DigitScenes("val", 8, seed=3, cache=True)
    assert first.cache_path().is_file() and first.cache_path().parent == tmp_path
    second = DigitScenes("val", 8, seed=3, cache=True)
    torch.testing.assert_close(second.images, first.images, rtol=0, atol=0)
    assert second.layouts == first.layouts
    assert DigitScenes("val", 8, seed=4).cache_path() != first.cache_path()
    assert DigitScenes("val", 8, seed=3, clutter=0.5).cache_path() != first.cache_path()


def test_transform_is_applied():
    flip = lambda image, mask: (image.flip(-1), mask.flip(-1))  # noqa: E731
    ds = DigitScenes("val", 3, transform=flip)
    torch.testing.assert_close(ds[1][1], ds.masks[1].long().flip(-1))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"split": "holdout"}, "split must be one of"),
        ({"num_scenes": -1}, "num_scenes must be an int"),
        ({"seed": -3}, "seed must be an int"),
        ({"digits_per_scene": (3, 2)}, "digits_per_scene must be a pair"),
        ({"scale_range": (30, 80)}, "does not fit"),
        ({"clutter": -1.0}, "clutter must be a non-negative"),
        ({"image_size": 16}, "image_size must be an int >= 32"),
    ],
)
def test_bad_options_raise(kwargs, match):
    args = {"split": "train", "num_scenes": 2} | kwargs
    with pytest.raises(ValueError, match=match):
        DigitScenes(**args)


def test_config_and_render_errors():
    with pytest.raises(ValueError, match="threshold must be in"):
        SceneConfig(threshold=1.5)
    with pytest.raises(IndexError, match="out of range"):
        _scenes("train", 40).render(40)


def test_palette_and_colorize():
    assert len(CLASS_NAMES) == 11 and CLASS_NAMES[0] == "background" and CLASS_NAMES[4] == "3"
    assert PALETTE.shape == (11, 3) and PALETTE.dtype == torch.uint8
    assert PALETTE[0].tolist() == [0, 0, 0] and len({tuple(c) for c in PALETTE.tolist()}) == 11
    mask = torch.tensor([[0, 3], [-1, 10]])
    rgb = colorize(mask)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == torch.uint8
    assert rgb[0, 1].tolist() == PALETTE[3].tolist() and rgb[1, 0].tolist() == [255, 255, 255]
    with pytest.raises(ValueError, match="mask labels must be in -1..10"):
        colorize(torch.tensor([[11]]))
    with pytest.raises(TypeError, match="integer tensor"):
        colorize(torch.zeros(2, 2))


def test_show_scenes_returns_figure(tmp_path):
    fig = show_scenes(_scenes("train", 40), 3)
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    assert len(fig.legends[0].get_texts()) == 11
    fig.savefig(tmp_path / "scenes.png")
    with pytest.raises(ValueError, match="n must be a positive int"):
        show_scenes(_scenes("train", 40), 0)
