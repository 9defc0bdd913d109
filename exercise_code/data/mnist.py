"""Full MNIST (60,000 + 10,000 digits) through torchvision's loader when the files are on disk."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from .errors import DatasetUnavailableError

MNIST_RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def mnist_full(root: str | Path, train: bool = True) -> tuple[Tensor, Tensor]:
    """The full MNIST training (60,000) or test (10,000) set from `root/MNIST/raw`.

    Returns images (uint8 Tensor[N, 28, 28]) and labels (int64 Tensor[N]). Without the files, raises
    `DatasetUnavailableError` saying where to put them.
    """
    root = Path(root).expanduser()
    try:
        from torchvision.datasets import MNIST  # here: importing torchvision costs ~2 CPU-s

        dataset = MNIST(str(root), train=train, download=False)
    except RuntimeError as exc:
        raw = root / "MNIST" / "raw"
        raise DatasetUnavailableError(
            f"MNIST not found in {raw} ({exc}). "
            f"Put the four unpacked files {', '.join(MNIST_RAW_FILES)} there, "
            f"or run exercise_code.data.download('mnist', {str(root)!r}) on a machine with network."
        ) from None
    return dataset.data.clone(), dataset.targets.clone()
