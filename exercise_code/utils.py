"""Small helpers with one home: seeding, device pick, bfloat16 support (`rel_error` lives in `testing`)."""

from __future__ import annotations

import random

import numpy as np
import torch

from exercise_code.testing import rel_error as rel_error  # its home is `testing`; notebooks import it here


def seed_everything(seed: int) -> None:
    """Seed `random`, `numpy` and `torch` (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(prefer: str | None = None) -> torch.device:
    """The best available device: cuda, then mps, then cpu (or `prefer` when given)."""
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_bf16_supported() -> bool:
    """Whether this CPU runs bfloat16 convolutions natively (oneDNN with AVX512-BF16 or AMX).

    Elsewhere bfloat16 is emulated and slower than float32, so CPU autocast should stay off.
    """
    if not torch.backends.mkldnn.is_available():
        return False
    try:  # a private op (no public query exists); treat its absence in another torch release as "no"
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def as_pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    """`value` as a pair of ints; raises ValueError naming `name` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    if isinstance(value, int):
        return (value, value)
    if (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return (int(value[0]), int(value[1]))
    raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
