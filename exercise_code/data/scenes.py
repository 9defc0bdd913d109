"""Digit scenes for semantic segmentation: a Dataset of generated scenes, and the grader's hidden split.

11 classes: 0 background, `d + 1` for digit `d`. Train, val and test scenes use disjoint digit pools.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, replace
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..config import CONFIG
from ._cache import cache_dir, params_key
from .digits import check_split, digit_pools
from .scene_gen import GENERATOR_VERSION, SceneConfig, SceneLayout, SceneRender, render_scene
from .transforms import JointTransform

log = logging.getLogger(__name__)

NUM_SCENE_CLASSES = 11
"""Background plus ten digits."""


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return value


class DigitScenes(Dataset):
    """`num_scenes` generated scenes as `(image float Tensor[3, H, W] in [0, 1], mask int64 Tensor[H, W])`.

    Digits come only from `split`'s pool of `digit_pools(pool_seed)`. Scene `i` depends only on
    `(seed, split, i)` and the drawing settings, never on `num_scenes`. Options left at None keep the value of
    `config` (default `SceneConfig()`: 64 x 64, 2-4 digits). All scenes are drawn in the constructor, with a
    tqdm progress bar when `progress=True`, and kept as uint8; `cache=True` also stores them under the data
    cache dir, keyed by a hash of every parameter. `transform(image, mask) -> (image, mask)` runs on each
    item.
    """

    def __init__(
        self,
        split: str,
        num_scenes: int,
        image_size: int | None = None,
        seed: int = 0,
        *,
        digits_per_scene: tuple[int, int] | None = None,
        scale_range: tuple[int, int] | None = None,
        clutter: float | None = None,
        config: SceneConfig | None = None,
        pool_seed: int = 0,
        cache: bool = False,
        transform: JointTransform | None = None,
        progress: bool = False,
    ) -> None:
        self.split = check_split(split)
        self.num_scenes = _check_int("num_scenes", num_scenes, 0)
        self.seed = _check_int("seed", seed, 0)
        self.pool_seed = _check_int("pool_seed", pool_seed, 0)
        options = {
            "image_size": image_size,
            "digits_per_scene": digits_per_scene,
            "scale_range": scale_range,
            "clutter": clutter,
        }
        options = {k: (tuple(v) if isinstance(v, list) else v) for k, v in options.items() if v is not None}
        self.config: SceneConfig = replace(config or SceneConfig(), **options)
        self.pool: Tensor = digit_pools(pool_seed)[split]
        """int64 Tensor[P]: the digits (indices into `mnist_subset()`) scenes may use."""
        self.transform = transform
        loaded = self._load_cache() if cache else None
        if loaded is None:
            loaded = self._generate(progress)
            if cache:
                self._save_cache(*loaded)
        self.images, self.masks, self.layouts = loaded
        """uint8 Tensor[N, 3, H, W], uint8 Tensor[N, H, W], and one `SceneLayout` per scene."""

    def __len__(self) -> int:
        return self.num_scenes

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        image, mask = self.images[i].float().div_(255.0), self.masks[i].long()
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        return image, mask

    def tensors(self) -> tuple[Tensor, Tensor]:
        """All scenes, untransformed: images float Tensor[N, 3, H, W], masks int64 Tensor[N, H, W]."""
        return self.images.float().div_(255.0), self.masks.long()

    def render(self, i: int) -> SceneRender:
        """Draw scene `i` again from its generator, with its layout and each digit's coverage map."""
        if not 0 <= i < self.num_scenes:
            raise IndexError(f"scene index {i} out of range for {self.num_scenes} scenes")
        return render_scene(self.config, self.pool, self.seed, self.split, i)

    def digit_indices(self, i: int) -> Tensor:
        """int64 Tensor[K]: the digits of scene `i`, as indices into `mnist_subset()`, in drawing order."""
        return torch.tensor(self.layouts[i].digit_indices, dtype=torch.long)

    def used_digits(self) -> Tensor:
        """int64 Tensor[U]: every digit that appears in some scene, sorted, without repeats."""
        every = [j for layout in self.layouts for j in layout.digit_indices]
        return torch.tensor(sorted(set(every)), dtype=torch.long)

    # generation and cache -------------------------------------------------------------------------
    def _generate(self, progress: bool) -> tuple[Tensor, Tensor, list[SceneLayout]]:
        from tqdm.auto import tqdm

        size = self.config.image_size
        images = torch.empty(self.num_scenes, 3, size, size, dtype=torch.uint8)
        masks = torch.empty(self.num_scenes, size, size, dtype=torch.uint8)
        layouts = []
        for i in tqdm(range(self.num_scenes), desc=f"{self.split} scenes", disable=not progress):
            scene = render_scene(self.config, self.pool, self.seed, self.split, i)
            # the image holds k / 255, so adding 0.5 and truncating rounds exactly; torch.round on a tensor
            # this small was the slowest step of the whole loop with more than one thread
            images[i] = scene.image.mul(255).add_(0.5).to(torch.uint8)
            masks[i] = scene.mask.to(torch.uint8)
            layouts.append(scene.layout)
        return images, masks, layouts

    def cache_path(self) -> Path:
        """File that `cache=True` reads and writes: named by a hash of every generation parameter."""
        params = {
            "version": GENERATOR_VERSION,
            "split": self.split,
            "num_scenes": self.num_scenes,
            "seed": self.seed,
            "pool_seed": self.pool_seed,
            "config": asdict(self.config),
        }
        return cache_dir() / f"digit-scenes-{params_key(params)}.pt"

    def _load_cache(self) -> tuple[Tensor, Tensor, list[SceneLayout]] | None:
        path = self.cache_path()
        if not path.is_file():
            return None
        try:
            blob = torch.load(path, weights_only=True)
            layouts = [
                SceneLayout(
                    tuple(d["digit_indices"]),
                    tuple(d["labels"]),
                    tuple(tuple(b) for b in d["boxes"]),
                    tuple(tuple(c) for c in d["colours"]),
                )
                for d in blob["layouts"]
            ]
            images, masks = blob["images"], blob["masks"]
        except (OSError, RuntimeError, KeyError, TypeError, ValueError) as exc:
            log.info("ignoring unreadable scene cache %s: %s", path, exc)
            return None
        if images.shape[0] != self.num_scenes or len(layouts) != self.num_scenes:
            return None
        log.debug("loaded %d scenes from %s", self.num_scenes, path)
        return images, masks, layouts

    def _save_cache(self, images: Tensor, masks: Tensor, layouts: list[SceneLayout]) -> None:
        path = self.cache_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = {"images": images, "masks": masks, "layouts": [asdict(layout) for layout in layouts]}
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save(blob, tmp)
        os.replace(tmp, path)
        log.debug("cached %d scenes in %s", self.num_scenes, path)


def hidden_scenes(
    seed: int, num_scenes: int = CONFIG.hidden_scenes, image_size: int = CONFIG.scene_size
) -> tuple[Tensor, Tensor]:
    """The grader's hidden split: `DigitScenes("test", num_scenes, image_size, seed)` with default settings.

    Test-pool digits only (never in a training scene), arranged by a seed only the grader knows.
    Returns images float Tensor[N, 3, H, W] in [0, 1] and masks int64 Tensor[N, H, W].
    """
    return DigitScenes("test", num_scenes, image_size, seed).tensors()
