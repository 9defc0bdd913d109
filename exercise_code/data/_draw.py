"""Drawing primitives for digit scenes: backgrounds, anti-aliased distractor strokes, resized digits.

Everything works on one canvas at a time with numpy arrays (float32, channels first) and vectorised
distance fields; digits are resized with `F.interpolate`.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


@functools.cache
def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates of pixel centres, each float32 [size, size]."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    return ys, xs


def embolden(digits: Tensor, radius: float) -> Tensor:
    """Thicken strokes: grey-level dilation by a disc of `radius` pixels (0 keeps the digits as they are).

    digits (uint8 or float Tensor[..., H, W], ink high) -> float32 Tensor[..., H, W] in [0, 1].
    """
    x = digits.float()
    if digits.dtype == torch.uint8:
        x = x / 255.0
    r = int(np.floor(radius))
    if r <= 0:
        return x
    H, W = x.shape[-2:]
    padded = F.pad(x.reshape(-1, 1, H, W), (r, r, r, r))  # (B, 1, H + 2r, W + 2r)
    out = x.reshape(-1, 1, H, W).clone()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if (dy, dx) != (0, 0) and dy * dy + dx * dx <= radius * radius:
                out = torch.maximum(out, padded[..., r + dy : r + dy + H, r + dx : r + dx + W])
    return out.reshape(x.shape)


def resize_digit(ink: Tensor, size: int) -> Tensor:
    """A digit's ink as coverage in [0, 1], resized to `size` x `size` (bilinear, antialiased).

    ink (float Tensor[28, 28] in [0, 1], e.g. from `embolden`) -> float32 Tensor[size, size].
    The mask of a scene marks the pixels where this coverage is above the threshold.
    """
    out = F.interpolate(
        ink[None, None], size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    return out[0, 0].clamp_(0.0, 1.0)


def _upsample(low: np.ndarray, size: int) -> np.ndarray:
    """(C, g, g) -> (C, size, size) by bilinear interpolation (corners aligned)."""
    t = torch.from_numpy(low)[None]
    return F.interpolate(t, size=(size, size), mode="bilinear", align_corners=True)[0].numpy()


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random backdrop, float32 [3, size, size] in [0, 1]: colour gradient, blotches or soft stripes."""
    ys, xs = pixel_grid(size)
    kind = rng.integers(3)
    if kind == 0:  # linear gradient between two random colours
        c0, c1 = rng.random((2, 3), dtype=np.float32)
        theta = rng.uniform(0, 2 * np.pi)
        t = np.cos(theta) * xs + np.sin(theta) * ys
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        img = c0[:, None, None] * (1 - t) + c1[:, None, None] * t
    elif kind == 1:  # smooth blotches: a coarse random colour grid, upsampled
        g = int(rng.integers(2, 6))
        img = _upsample(rng.random((3, g, g), dtype=np.float32), size)
    else:  # soft stripes between two colours, random period and direction
        c0 = rng.random(3, dtype=np.float32)
        c1 = np.clip(c0 + rng.uniform(-0.35, 0.35, 3), 0, 1).astype(np.float32)
        theta = rng.uniform(0, np.pi)
        period = rng.uniform(0.12, 0.3) * size
        t = 0.5 + 0.5 * np.sin(
            2 * np.pi * (np.cos(theta) * xs + np.sin(theta) * ys) / period + rng.uniform(0, 6.3)
        )
        img = c0[:, None, None] * (1 - t) + c1[:, None, None] * t
    return img.astype(np.float32)


def _segment_distance(ys: np.ndarray, xs: np.ndarray, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    d = p1 - p0
    t = ((ys - p0[0]) * d[0] + (xs - p0[1]) * d[1]) / max(float(d @ d), 1e-6)
    t = np.clip(t, 0.0, 1.0)
    return np.hypot(ys - (p0[0] + t * d[0]), xs - (p0[1] + t * d[1]))


def distractor_coverage(rng: np.random.Generator, size: int, width: float) -> np.ndarray:
    """Coverage in [0, 1], float32 [size, size], of one random distractor stroke of about `width` pixels.

    A short line segment, an open arc or a small blob: stroke-like clutter that belongs to the background.
    """
    ys, xs = pixel_grid(size)
    unit = size / 64.0
    kind = rng.integers(3)
    if kind == 0:  # short segment, shorter than a digit "1"
        p0 = rng.uniform(0, size, 2)
        length, angle = rng.uniform(5, 13) * unit, rng.uniform(0, 2 * np.pi)
        p1 = p0 + length * np.array([np.sin(angle), np.cos(angle)])
        dist = _segment_distance(ys, xs, p0, p1)
    elif kind == 1:  # open arc (never a full ring, so it never reads as a zero)
        c = rng.uniform(0, size, 2)
        radius = rng.uniform(4, 9) * unit
        start, span = rng.uniform(0, 2 * np.pi), rng.uniform(np.pi / 3, 1.1 * np.pi)
        phi = np.mod(np.arctan2(ys - c[0], xs - c[1]) - start, 2 * np.pi)
        ring = np.abs(np.hypot(ys - c[0], xs - c[1]) - radius)
        ends = [c + radius * np.array([np.sin(a), np.cos(a)]) for a in (start, start + span)]
        to_end = np.minimum(*(np.hypot(ys - e[0], xs - e[1]) for e in ends))
        dist = np.where(phi <= span, ring, to_end)
    else:  # small blob: a filled ellipse
        c = rng.uniform(0, size, 2)
        ry, rx = rng.uniform(1.2, 3.0, 2) * unit
        angle = rng.uniform(0, np.pi)
        u = (ys - c[0]) * np.cos(angle) + (xs - c[1]) * np.sin(angle)
        v = -(ys - c[0]) * np.sin(angle) + (xs - c[1]) * np.cos(angle)
        dist = (np.hypot(u / ry, v / rx) - 1.0) * min(ry, rx) + width / 2
    return np.clip(width / 2 + 0.5 - dist, 0.0, 1.0).astype(np.float32)


def pick_colour(
    rng: np.random.Generator, under: np.ndarray, avoid: list[np.ndarray], min_contrast: float, tries: int = 24
) -> np.ndarray:
    """A random RGB colour (float32 [3]) standing out from the pixels `under` (P, 3) and the `avoid` colours.

    Candidates are drawn at random; the first whose 10th-percentile distance to `under` and whose distance to
    every `avoid` colour reach `min_contrast` wins, else the candidate with the best worst-case distance.
    """
    cands = rng.random((tries, 3), dtype=np.float32)
    if len(under):
        d_under = np.quantile(np.linalg.norm(cands[:, None, :] - under[None], axis=-1), 0.1, axis=1)
    else:
        d_under = np.full(tries, np.inf, dtype=np.float32)
    d_avoid = np.full(tries, np.inf, dtype=np.float32)
    for colour in avoid:
        d_avoid = np.minimum(d_avoid, np.linalg.norm(cands - colour, axis=-1))
    score = np.minimum(d_under, d_avoid)
    good = np.nonzero(score >= min_contrast)[0]
    return cands[good[0] if len(good) else int(np.argmax(score))]


def paint(canvas: np.ndarray, coverage: np.ndarray, colour: np.ndarray, top: int = 0, left: int = 0) -> None:
    """Alpha-composite a flat `colour` with `coverage` (h, w) onto `canvas` (3, H, W) at (top, left)."""
    h, w = coverage.shape
    region = canvas[:, top : top + h, left : left + w]
    region += coverage[None] * (colour[:, None, None] - region)
