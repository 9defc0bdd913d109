"""Seeded inputs and small guards shared by the check groups (a check builds the same inputs every run)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from exercise_code.testing import tie_free

from .runner import CheckFailed, NotDoneYet

__all__ = ["calling", "expect_tensor", "randn", "seeded", "tie_free"]


def randn(*shape: int, seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Standard normal Tensor[*shape] drawn from its own generator (the global RNG is left alone)."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed the global CPU RNG inside the block (for model initialisation) and restore it afterwards,
    so that a check neither depends on nor changes the student's random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def expect_tensor(value: object, what: str) -> torch.Tensor:
    """`value` if it is a tensor; CheckFailed naming `what` otherwise."""
    if not isinstance(value, torch.Tensor):
        raise CheckFailed(f"{what}: expected a torch.Tensor, got {type(value).__name__}")
    return value


@contextlib.contextmanager
def calling(what: str) -> Iterator[None]:
    """Name the call when the student's code crashes inside the block: the report's ERROR line then ends
    with `; while calling <what>` (the argument combination). Wrong answers and stubs pass through."""
    try:
        yield
    except (CheckFailed, NotDoneYet, NotImplementedError):
        raise
    except Exception as exc:
        exc.add_note(f"while calling {what}")
        raise
