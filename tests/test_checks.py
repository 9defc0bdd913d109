"""Public checks: pass on the reference, fail informatively on wrong code, never crash the runner."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from exercise_code import layers
from exercise_code.checks import CheckFailed, CheckReport, Status, check, compare, run_checks
from exercise_code.checks import runner as runner_module
from exercise_code.checks.__main__ import main
from exercise_code.checks.settings import GROUP_MODULES


def _result(name: str):
    return next(r for r in run_checks("layers").results if r.name == name)


def test_reference_passes_everything(capsys):
    report = run_checks("layers")
    assert report.ok and report.total >= 10, str(report)
    assert main(["layers"]) == 0
    out = capsys.readouterr().out
    assert f"layers: {report.total}/{report.total} checks passed" in out
    assert out.count("[PASS ]") == report.total


def test_wrong_corner_fails_only_its_check(monkeypatch):
    def bottom_right(x, scale):
        sh, sw = scale
        N, C, H, W = x.shape
        out = x.new_zeros(N, C, H * sh, W * sw)
        out[:, :, sh - 1 :: sh, sw - 1 :: sw] = x  # bug: bottom-right corner instead of top-left
        return out

    monkeypatch.setattr(layers, "bed_of_nails_unpool2d", bottom_right)
    report = run_checks("layers")
    failed = [r for r in report.results if r.status is not Status.PASSED]
    assert [r.name for r in failed] == ["bed_of_nails_unpool2d"]
    assert failed[0].status is Status.FAILED
    message = failed[0].message
    assert message.startswith(
        "bed_of_nails_unpool2d (values at the top-left corners) (scale=(2, 2)): 24 of 48"
    )
    assert "max abs error 1.52 at index (0, 1, 0, 0): expected -1.523, got 0" in message
    assert f"layers: {report.total - 1}/{report.total} checks passed" in str(report)


def test_shape_mismatch_is_reported(monkeypatch):
    monkeypatch.setattr(layers, "nearest_unpool2d", lambda x, scale: x)
    result = _result("nearest_unpool2d")
    assert result.status is Status.FAILED
    assert (
        result.message
        == "nearest_unpool2d vs F.interpolate (scale=2): expected shape (2, 3, 6, 10), got (2, 3, 3, 5)"
    )


def test_crashes_are_reported_with_type_message_and_place(monkeypatch, capsys):
    def crash(*args, **kwargs):
        raise IndexError("index 7 is out of bounds")

    monkeypatch.setattr(layers, "conv_transpose2d", crash)
    monkeypatch.setattr(layers, "max_unpool2d", lambda *a, **k: None)
    by_name = {r.name: r for r in run_checks("layers").results}
    assert by_name["conv_transpose2d"].status is Status.ERROR
    assert by_name["conv_transpose2d"].message.startswith(
        "IndexError: index 7 is out of bounds (at test_checks.py:"
    )
    assert by_name["max_unpool2d"].status is Status.FAILED
    assert "expected a torch.Tensor, got NoneType" in by_name["max_unpool2d"].message
    assert main(["layers"]) == 1
    assert "Traceback" not in capsys.readouterr().out


def test_exit_and_torch_not_implemented_are_errors_not_todos(monkeypatch):
    monkeypatch.setattr(layers, "bilinear_kernel", lambda *a: sys.exit(3))
    assert _result("bilinear_kernel vs F.interpolate").message.startswith("SystemExit: 3")

    def torch_lacks(*args):
        raise NotImplementedError("aten::foo is not implemented for 'Half'")

    monkeypatch.setattr(layers, "conv_transpose2d_loops", torch_lacks)
    result = _result("conv_transpose2d_loops")
    assert result.status is Status.ERROR and "NotImplementedError: aten::foo" in result.message


def test_stub_of_another_function_is_named(monkeypatch):
    def stub(*args, **kwargs):
        raise NotImplementedError("conv_transpose2d: not implemented yet")

    monkeypatch.setattr(layers, "conv_transpose2d_loops", stub)
    result = _result("conv_transpose2d_loops")
    assert result.status is Status.NOT_IMPLEMENTED
    assert result.line() == "[TODO ] conv_transpose2d_loops: not implemented yet (needs conv_transpose2d)"


def test_detached_output_fails_gradient_check(monkeypatch):
    real = layers.conv_transpose2d
    monkeypatch.setattr(layers, "conv_transpose2d", lambda *a, **k: real(*a, **k).detach())
    result = _result("conv_transpose2d gradients")
    assert result.status is Status.FAILED and "autograd" in result.message


def test_nan_output_fails(monkeypatch):
    monkeypatch.setattr(layers, "bilinear_kernel", lambda i, o, k: torch.full((i, o, k, k), float("nan")))
    assert _result("bilinear_kernel vs F.interpolate").status is Status.FAILED


def test_compare_messages():
    expected = torch.zeros(2, 3)
    compare(expected + 1e-7, expected, "x")  # within tolerance
    got = expected.clone()
    got[1, 2] = 0.5
    with pytest.raises(
        CheckFailed,
        match=r"^f \(stride=2\): 1 of 6 values wrong, max abs error 0.5 at index \(1, 2\): "
        r"expected 0, got 0.5",
    ):
        compare(got, expected, "f", "stride=2")
    with pytest.raises(CheckFailed, match=r"^f: expected shape \(2, 3\), got \(3, 2\)$"):
        compare(got.T, expected, "f")
    with pytest.raises(CheckFailed, match=r"^f: expected a torch.Tensor, got list$"):
        compare([0.0], expected, "f")


def test_unknown_group_and_empty_run():
    report = run_checks("nope")
    assert not report.ok and "unknown check group; known: layers" in report.results[0].message
    assert not CheckReport().ok and str(CheckReport()) == "no checks were run"


def test_a_new_group_is_one_registration(monkeypatch):
    monkeypatch.setitem(GROUP_MODULES, "toy", __name__)
    monkeypatch.setattr(runner_module, "_REGISTRY", {})

    @check("toy", "always passes")
    def _ok() -> None:
        pass

    @check("toy", "always fails")
    def _bad() -> None:
        raise CheckFailed("wrong on purpose")

    report = run_checks("toy")
    assert [r.status for r in report.results] == [Status.PASSED, Status.FAILED]
    assert str(report).splitlines() == [
        "[PASS ] always passes",
        "[FAIL ] always fails: wrong on purpose",
        "toy: 1/2 checks passed",
    ]


def test_group_whose_module_does_not_import(monkeypatch):
    monkeypatch.setitem(GROUP_MODULES, "broken", "exercise_code.checks.no_such_module")
    result = run_checks("broken").results[0]
    assert result.status is Status.ERROR and result.name == "import exercise_code.checks.no_such_module"
    assert "ModuleNotFoundError" in result.message


def test_json_round_trip_and_notebook_display(capsys):
    assert main(["layers", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    report = CheckReport.from_dict(data)
    assert report.ok and data["passed"] == data["total"] == report.total
    assert "checks passed</b>" in report._repr_html_() and repr(report) == str(report)
    report.show()
    assert capsys.readouterr().out == str(report) + "\n"
