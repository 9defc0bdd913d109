"""Where the real datasets come from: URLs (mirrors in order), recorded hashes, sizes, and how they unpack.

SHA-256 is recorded where a published value was found; MSRC-v2 has none, so its files are verified by the md5
a third-party loader records (replace with SHA-256 once known).
"""

from __future__ import annotations

import enum
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class Unpack(enum.Enum):
    """What to do with a file once it is verified."""

    NONE = "none"
    GUNZIP = "gunzip"
    TAR = "tar"
    ZIP = "zip"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: mirrors tried in order, and the hash the download must match."""

    filename: str
    urls: tuple[str, ...]
    sha256: str | None = None
    """Hex SHA-256 of the file; verified when present."""
    md5: str | None = None
    """Hex md5 (what torchvision records); verified when no SHA-256 is known."""
    size: int | None = None
    """Size in bytes, for the manual instructions."""
    unpack: Unpack = Unpack.NONE


@dataclass(frozen=True)
class RemoteDataset:
    """A downloadable dataset: its files, where they go under `root`, and how to place them by hand."""

    name: str
    files: tuple[RemoteFile, ...]
    subdir: str
    """Directory under `root` that receives (and unpacks) the files."""
    manual: str
    """How to install the files by hand; `{root}` and `{dest}` are filled in."""
    loader: str
    """The call that loads the dataset once installed."""
    arrange: Callable[[Path], None] | None = None
    """Rearranges the unpacked files under `root` into the loader's layout."""


_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
_MNIST = (  # filename, sha256, md5 (torchvision), size
    (
        "train-images-idx3-ubyte.gz",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        9_912_422,
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "d53e105ee54ea40749a09fcbcd1e9432",
        28_881,
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "9fb629c4189551a2d022fa330f9573f3",
        1_648_877,
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        "ec29112dd5afa0611ce80d1b7f02629c",
        4_542,
    ),
)


def arrange_msrc(root: Path) -> None:
    """Lay out the official MSRC-v2 zip and the TextonBoost splits as the loader expects.

    From `MSRC_ObjCategImageDatabase_v2/Images/*.bmp`, `.../GroundTruth/*_GT.bmp` and `Train.txt`,
    `Validation.txt`, `Test.txt` (anywhere under root) to `images/`, `targets/`, `train.txt`, `val.txt`,
    `test.txt` in root. Files are copied; the unpacked originals stay.
    """

    def find(name: str, want_dir: bool) -> Path:
        ours = {root / "images", root / "targets"}
        hits = sorted(p for p in root.rglob(name) if p.is_dir() == want_dir and p not in ours)
        if not hits:
            raise FileNotFoundError(f"no {name} under {root}")
        return hits[0]

    for src_name, dst_name in (("Images", "images"), ("GroundTruth", "targets")):
        src, dst = find(src_name, True), root / dst_name
        dst.mkdir(exist_ok=True)
        for bmp in src.glob("*.bmp"):
            shutil.copy2(bmp, dst / bmp.name)
    for src_name, dst_name in (
        ("Train.txt", "train.txt"),
        ("Validation.txt", "val.txt"),
        ("Test.txt", "test.txt"),
    ):
        shutil.copy2(find(src_name, False), root / dst_name)


DATASETS: dict[str, RemoteDataset] = {
    "mnist": RemoteDataset(
        name="mnist",
        files=tuple(
            RemoteFile(f, tuple(m + f for m in _MNIST_MIRRORS), sha256=s, md5=h, size=n, unpack=Unpack.GUNZIP)
            for f, s, h, n in _MNIST
        ),
        subdir="MNIST/raw",
        manual="download the four files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (from " + _MNIST_MIRRORS[0] + ") and "
        "put them, gunzipped, in {dest}",
        loader="mnist_full(root, train=True)",
    ),
    "voc2012": RemoteDataset(
        name="voc2012",
        files=(
            RemoteFile(
                "VOCtrainval_11-May-2012.tar",
                (
                    "https://thor.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar",
                    "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar",
                ),
                sha256="e14f763270cf193d0b5f74b169f44157a4b0c6efa708f4dd0ff78ee691763bcb",
                md5="6cd6e144f989b92b3379bac3b3de84fd",
                size=1_999_639_040,
                unpack=Unpack.TAR,
            ),
        ),
        subdir=".",
        manual="download VOCtrainval_11-May-2012.tar (1.9 GB) from "
        "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/ and unpack it in {dest} "
        "(it creates VOCdevkit/VOC2012/JPEGImages, SegmentationClass, ImageSets/Segmentation)",
        loader="PascalVOC(root, 'train')",
    ),
    "msrc_v2": RemoteDataset(
        name="msrc_v2",
        files=(
            RemoteFile(
                "msrc_objcategimagedatabase_v2.zip",
                (
                    "https://download.microsoft.com/download/3/3/9/339D8A24-47D7-412F-A1E8-1A415BC48A15/"
                    "msrc_objcategimagedatabase_v2.zip",
                    "http://research.microsoft.com/en-us/um/people/antcrim/data_objrec/"
                    "msrc_objcategimagedatabase_v2.zip",
                ),
                md5="8fcd292c7f1e69f91a2ef513746bd52c",
                unpack=Unpack.ZIP,
            ),
            RemoteFile(
                "TextonBoostSplits.zip",
                ("http://jamie.shotton.org/work/data/TextonBoostSplits.zip",),
                md5="4d392500f08030b410f6d8c521b9f4c3",
                unpack=Unpack.ZIP,
            ),
        ),
        subdir=".",
        manual="put the images in {dest}/images/<id>.bmp, the ground truth in {dest}/targets/<id>_GT.bmp and "
        "the split lists (one id a line) in {dest}/train.txt, val.txt, test.txt; the official "
        "msrc_objcategimagedatabase_v2.zip (Microsoft Research Cambridge) and TextonBoostSplits.zip "
        "hold them",
        loader="MSRCv2(root, 'train')",
        arrange=arrange_msrc,
    ),
}
"""Every dataset `download` knows, by name."""
