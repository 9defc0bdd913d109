"""How one digit scene is drawn: settings, layout record, and the renderer (real MNIST digits on clutter).

Class 0 is background (backdrop and distractor strokes); class `d + 1` marks the visible strokes of digit `d`.
Scene `i` comes from its own generator seeded by `(seed, split, i)`, and uses only its split's digit pool.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from ..config import CONFIG
from ._draw import background, distractor_coverage, embolden, paint, pick_colour, resize_digit
from .digits import _load_subset

GENERATOR_VERSION = 1
"""Bumped whenever the drawing changes, so cached scenes of an older generator are never reused."""
_SPLIT_CODE = {"train": 0, "val": 1, "test": 2}


def _check_range(name: str, value: tuple, low: float, kind: type = int) -> None:
    ok = (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(isinstance(v, kind | int) and not isinstance(v, bool) for v in value)
        and low <= value[0] <= value[1]
    )
    if not ok:
        raise ValueError(f"{name} must be a pair (lo, hi) with {low} <= lo <= hi, got {value!r}")


@dataclass(frozen=True)
class SceneConfig:
    """How digit scenes are drawn. Lengths are in pixels of a 64 x 64 canvas and scale with `image_size`."""

    image_size: int = CONFIG.scene_size
    """Height and width of a scene."""
    digits_per_scene: tuple[int, int] = (2, 4)
    """Inclusive range of the number of digits in a scene."""
    scale_range: tuple[int, int] = (24, 40)
    """Inclusive range of the side of a digit's 28 x 28 box after resizing (the ink fills about 70 %)."""
    clutter: float = 1.0
    """Multiplies the number of distractor strokes; 0 draws none."""
    distractors: tuple[int, int] = (3, 7)
    """Inclusive range of the number of distractor strokes at clutter 1."""
    stroke_width: tuple[float, float] = (1.5, 3.0)
    """Range of the width of distractor strokes, like the strokes of resized digits."""
    max_overlap: float = 0.25
    """Largest share of a digit's box another digit's box may cover (placement retries up to 20 times)."""
    min_contrast: float = 0.45
    """RGB distance a digit's colour keeps from the backdrop under it and from the scene's other digits."""
    noise_std: float = 0.03
    """Standard deviation of the pixel noise added last."""
    threshold: float = 0.5
    """A digit pixel is labelled where its resized ink coverage exceeds this."""
    boldness: float = 1.0
    """Radius (pixels of the 28 x 28 digit) of the disc that thickens strokes before resizing; 0: as is."""

    def __post_init__(self) -> None:
        if isinstance(self.image_size, bool) or not isinstance(self.image_size, int) or self.image_size < 32:
            raise ValueError(f"image_size must be an int >= 32, got {self.image_size!r}")
        _check_range("digits_per_scene", self.digits_per_scene, 1)
        _check_range("scale_range", self.scale_range, 8)
        _check_range("distractors", self.distractors, 0)
        _check_range("stroke_width", self.stroke_width, 0.5, float)
        lo, hi = self.pixel_scale_range()
        if hi > self.image_size:
            raise ValueError(f"scale_range {self.scale_range} does not fit a {self.image_size}-pixel canvas")
        for name in ("clutter", "max_overlap", "min_contrast", "noise_std", "boldness"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1e3:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        if not 0 < self.threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold!r}")

    def pixel_scale_range(self) -> tuple[int, int]:
        """`scale_range` in pixels of this canvas."""
        unit = self.image_size / 64
        return round(self.scale_range[0] * unit), round(self.scale_range[1] * unit)


@dataclass(frozen=True)
class SceneLayout:
    """What a scene holds, in drawing order (a later digit occludes an earlier one)."""

    digit_indices: tuple[int, ...]
    """Indices into `mnist_subset()` of the digits drawn."""
    labels: tuple[int, ...]
    """Their digit labels 0..9 (mask value `label + 1`)."""
    boxes: tuple[tuple[int, int, int], ...]
    """(top, left, size) of each digit's resized 28 x 28 box."""
    colours: tuple[tuple[float, float, float], ...]
    """RGB in [0, 1] of each digit's strokes."""


@dataclass
class SceneRender:
    """One scene with its drawing details, for inspection and tests."""

    image: Tensor
    """float Tensor[3, H, W] in [0, 1] (quantised to 8 bits like the dataset's images)."""
    mask: Tensor
    """int64 Tensor[H, W] in 0..10."""
    layout: SceneLayout
    coverage: Tensor = field(repr=False)
    """float Tensor[K, H, W]: each digit's ink coverage alone, on the full canvas."""


@functools.cache
def bold_digits(boldness: float) -> Tensor:
    """float Tensor[5000, 28, 28] in [0, 1]: every digit of `mnist_subset()` thickened by `embolden`."""
    images, _ = _load_subset()
    return embolden(images, boldness)


def render_scene(config: SceneConfig, pool: Tensor, seed: int, split: str, i: int) -> SceneRender:
    """Draw scene `i` from its own generator, seeded by (seed, split, i). pool: digit indices to draw from."""
    rng = np.random.default_rng([seed, _SPLIT_CODE[split], i])
    size = config.image_size
    unit = size / 64
    _, labels = _load_subset()
    inks_28 = bold_digits(config.boldness)
    canvas = background(rng, size)  # (3, S, S)

    k = int(rng.integers(config.digits_per_scene[0], config.digits_per_scene[1] + 1))
    chosen = pool[torch.from_numpy(rng.choice(len(pool), size=k, replace=False))]
    lo, hi = config.pixel_scale_range()
    sizes = rng.integers(lo, hi + 1, size=k)
    boxes: list[tuple[int, int, int]] = []
    for s in sizes:
        best, best_cover = None, 2.0
        for _ in range(20):
            top, left = (int(v) for v in rng.integers(0, size - s + 1, size=2))
            cover = max((_overlap((top, left, int(s)), b) for b in boxes), default=0.0)
            if cover < best_cover:
                best, best_cover = (top, left, int(s)), cover
            if cover <= config.max_overlap:
                break
        boxes.append(best)
    inks = [resize_digit(inks_28[j], s).numpy() for j, s in zip(chosen.tolist(), sizes.tolist(), strict=True)]

    colours: list[np.ndarray] = []
    for (top, left, s), ink in zip(boxes, inks, strict=True):
        under = canvas[:, top : top + s, left : left + s][:, ink > config.threshold].T  # (P, 3)
        colours.append(pick_colour(rng, under, colours, config.min_contrast))

    n_clutter = round(config.clutter * int(rng.integers(config.distractors[0], config.distractors[1] + 1)))
    for _ in range(n_clutter):
        width = float(rng.uniform(*config.stroke_width)) * unit
        cover = distractor_coverage(rng, size, width)
        colour = colours[int(rng.integers(k))] if rng.random() < 0.5 else rng.random(3, dtype=np.float32)
        paint(canvas, cover, colour)

    mask = np.zeros((size, size), dtype=np.int64)
    coverage = np.zeros((k, size, size), dtype=np.float32)
    for j, ((top, left, s), ink) in enumerate(zip(boxes, inks, strict=True)):
        paint(canvas, ink, colours[j], top, left)
        coverage[j, top : top + s, left : left + s] = ink
        region = mask[top : top + s, left : left + s]
        region[ink > config.threshold] = int(labels[chosen[j]]) + 1

    canvas += rng.normal(0.0, config.noise_std, canvas.shape).astype(np.float32)
    image = torch.from_numpy(np.rint(np.clip(canvas, 0, 1) * 255)).to(torch.uint8)
    layout = SceneLayout(
        digit_indices=tuple(chosen.tolist()),
        labels=tuple(labels[chosen].tolist()),
        boxes=tuple(boxes),
        colours=tuple(tuple(round(float(v), 6) for v in c) for c in colours),
    )
    return SceneRender(image.float() / 255, torch.from_numpy(mask), layout, torch.from_numpy(coverage))


def _overlap(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """Share of the smaller of two square boxes (top, left, size) that their intersection covers."""
    h = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    w = min(a[1] + a[2], b[1] + b[2]) - max(a[1], b[1])
    return max(h, 0) * max(w, 0) / min(a[2], b[2]) ** 2
