"""The secret key of a grading run: where it lives, what it fixes, and that the hidden data it makes cannot
be matched against the public digits or derived from the public grading seed."""

from __future__ import annotations

import os
import stat

import pytest
import torch

from autograder.errors import GradingError
from autograder.grading.secret import KEY_FILE, batch_key_file, draw_key, read_key, write_key
from autograder.hidden.hidden_data import hidden_digits, hidden_scenes, hidden_seed
from autograder.hidden.references import derived_seed
from exercise_code.data import Digits, DigitScenes


def test_a_batch_draws_its_key_once_and_keeps_it_private(tmp_path):
    path = batch_key_file(tmp_path)
    assert path == (tmp_path / KEY_FILE).resolve()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert batch_key_file(tmp_path) == path and read_key(path) == read_key(batch_key_file(tmp_path))
    assert draw_key() != draw_key()


def test_a_ta_key_file_wins_and_bad_ones_are_named(tmp_path):
    mine = write_key(tmp_path / "course.key", 0x1234ABCD5678)
    assert batch_key_file(tmp_path / "out", mine) == mine.resolve()
    assert not (tmp_path / "out" / KEY_FILE).exists()
    (tmp_path / "bad.key").write_text("not hex\n")
    with pytest.raises(GradingError, match=r"bad\.key"):
        batch_key_file(tmp_path / "out", tmp_path / "bad.key")
    with pytest.raises(GradingError, match="8 to 16 hex digits"):
        (tmp_path / "short.key").write_text("ab\n")
        read_key(tmp_path / "short.key")


def test_hidden_data_follow_the_key_only():
    a, b = draw_key(), draw_key()
    assert hidden_seed(a, "hidden scenes") != hidden_seed(b, "hidden scenes")
    assert hidden_seed(a, "hidden scenes") < 2**63
    xa, ya = hidden_digits(a, 50)
    xa2, ya2 = hidden_digits(a, 50)
    xb, _ = hidden_digits(b, 50)
    assert torch.equal(xa, xa2) and torch.equal(ya, ya2) and not torch.equal(xa, xb)
    sa, sb = hidden_scenes(a, 4, 64).tensors()[0], hidden_scenes(b, 4, 64).tensors()[0]
    assert not torch.equal(sa, sb)


def test_hidden_digits_match_no_public_digit_exactly():
    """A copy of the public digits (a lookup table) finds none of them; their look and class stay."""
    x, y = hidden_digits(draw_key(), 200)
    public, labels = Digits("test").tensors()
    distance = torch.cdist(x.flatten(1), public.flatten(1))
    assert float(distance.min()) > 0.1  # not one pixel grid repeats
    nearest = distance.argmin(1)
    assert float((labels[nearest] == y).double().mean()) > 0.9  # still the same digits, moved a little
    assert float(x.min()) >= 0 and float(x.max()) <= 1 and tuple(x.shape) == (200, 1, 28, 28)


def test_the_public_seed_no_longer_gives_the_hidden_scenes():
    """What the grader used to do (scenes seeded from the grading seed) is not what it does now."""
    key = draw_key()
    old = DigitScenes("test", 4, 64, seed=derived_seed(0, "hidden scenes")).tensors()[0]
    assert not torch.equal(old, hidden_scenes(key, 4, 64).tensors()[0])
