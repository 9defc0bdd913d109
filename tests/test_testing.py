"""`exercise_code.testing`: the one tolerance, tie-free inputs and mismatch message that the public checks,
the hidden suites and these tests share."""

from __future__ import annotations

import pytest
import torch
from conftest import tie_free as conftest_tie_free

from autograder.hidden import references
from exercise_code import testing, utils
from exercise_code.checks import TOLERANCE as CHECKS_TOLERANCE
from exercise_code.checks import CheckFailed, compare
from exercise_code.testing import TOLERANCE, Tolerance, mismatch, rel_error, tie_free


def test_one_home_for_each_helper():
    assert CHECKS_TOLERANCE is TOLERANCE
    assert references.tie_free is tie_free and utils.rel_error is rel_error
    defaults = references.assert_matches.__kwdefaults__
    assert (defaults["atol"], defaults["rtol"]) == (TOLERANCE.atol, TOLERANCE.rtol)


def test_tie_free_is_distinct_in_range_and_typed():
    x = tie_free(3, 4, 5, generator=torch.Generator().manual_seed(0))
    assert x.shape == (3, 4, 5) and x.dtype == torch.float32
    assert x.unique().numel() == x.numel() and float(x.min()) >= -1 and float(x.max()) < 1
    again = tie_free(3, 4, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(again.float(), x)
    ours = conftest_tie_free(3, 4, 5, generator=torch.Generator().manual_seed(0))
    assert ours.dtype == torch.float64 and torch.equal(ours, again)  # the tests' copy: float64 by default
    assert tie_free(0, generator=torch.Generator()).shape == (0,)
    with pytest.raises(ValueError, match=r"shape must be non-negative ints, got \(2, -1\)"):
        tie_free(2, -1, generator=torch.Generator())


def test_tolerance_refuses_negative_or_nan():
    with pytest.raises(ValueError, match="atol and rtol must be non-negative, got atol=-1"):
        Tolerance(atol=-1)
    with pytest.raises(ValueError, match="rtol=nan"):
        Tolerance(rtol=float("nan"))


def test_mismatch_describes_the_first_problem():
    expected = torch.zeros(2, 3)
    assert mismatch(expected + 5e-5, expected) is None  # within the one tolerance
    assert mismatch(expected + 2e-4, expected) is not None
    assert mismatch([0.0], expected) == "expected a torch.Tensor, got list"
    assert mismatch(expected.T, expected) == "expected shape (2, 3), got (3, 2)"
    assert (
        mismatch(expected.long(), expected)
        == "expected a floating-point tensor (like torch.float32), got torch.int64"
    )
    assert (
        mismatch(expected, expected.long())
        == "expected an integer tensor (like torch.int64), got torch.float32"
    )
    got = expected.clone()
    got[1, 2] = 0.5
    assert mismatch(got, expected) == (
        "1 of 6 values wrong, max abs error 0.5 at index (1, 2): expected 0, got 0.5 "
        "(relative error 1; allowed 0.0001 + 0.0001 * |expected|)"
    )
    got[0, 1] = float("nan")
    assert (
        mismatch(got, expected)
        == "1 of 6 values are NaN or inf, the first at index (0, 1) (expected 0, got nan)"
    )
    assert mismatch(got, expected, Tolerance(atol=1.0)) is not None  # NaN is never close
    assert mismatch(expected + 0.5, expected, Tolerance(atol=1.0)) is None


def test_public_checks_and_hidden_suites_say_the_same():
    expected = torch.arange(6.0).view(2, 3)
    got = expected.clone()
    got[0, 0] = 3.0
    problem = mismatch(got, expected)
    with pytest.raises(CheckFailed) as public:
        compare(got, expected, "f", "stride=2")
    with pytest.raises(AssertionError) as hidden:
        references.assert_matches(got, expected, what="f (stride=2)")
    assert str(public.value) == str(hidden.value) == f"f (stride=2): {problem}"
    references.assert_matches(got, expected, what="f", atol=3.0)  # a case may widen the tolerance


def test_rel_error():
    assert rel_error(torch.ones(3), torch.ones(3)) == 0.0
    assert rel_error(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 1.0])) == pytest.approx(0.5)
    assert testing.rel_error(torch.zeros(2), torch.zeros(2)) == 0.0
