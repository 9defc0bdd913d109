"""Suite-local fixtures: per-case random sources derived from the grading seed.

The `submission`, `grading_seed`, `config`, `record_fraction` and `record_message` fixtures come from the
grading plugin (`autograder.grading.plugin`); nothing here touches student code.
"""

from __future__ import annotations

import random

import pytest
import torch

from autograder.hidden.references import derived_seed


@pytest.fixture
def case_seed(grading_seed: int, request: pytest.FixtureRequest) -> int:
    """A seed for this test case (`test_f[3]`), different for every case and every grading seed."""
    return derived_seed(grading_seed, request.node.name)


@pytest.fixture
def rng(case_seed: int) -> random.Random:
    """Draws the case's shapes, strides, paddings, ... (hard-coded answers cannot match them)."""
    return random.Random(case_seed)


@pytest.fixture
def gen(case_seed: int) -> torch.Generator:
    """Draws the case's tensors."""
    return torch.Generator().manual_seed(case_seed)
