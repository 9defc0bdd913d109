"""Public checks: pass on the reference, fail informatively on wrong code, never crash."""

from __future__ import annotations

import torch

from exercise_code import layers
from exercise_code.checks import run_checks
from exercise_code.checks.__main__ import main


def test_reference_passes_everything(capsys):
    report = run_checks("layers")
    assert report.ok, str(report)
    assert main(["layers"]) == 0
    assert "layers: 11/11 checks passed" in capsys.readouterr().out


def test_wrong_corner_fails_only_its_check(monkeypatch):
    def wrong(x, scale):
        N, C, H, W = x.shape
        out = x.new_zeros(N, C, H * scale[0], W * scale[1])
        out[:, :, scale[0] - 1 :: scale[0], scale[1] - 1 :: scale[1]] = x  # bottom-right corner
        return out

    monkeypatch.setattr(layers, "bed_of_nails_unpool2d", wrong)
    report = run_checks("layers")
    failed = [r for r in report.results if r.status != "passed"]
    assert [r.name for r in failed] == ["bed_of_nails_unpool2d"]
    assert "max abs error" in failed[0].message and "scale=(2, 2)" in failed[0].message


def test_shape_mismatch_is_reported(monkeypatch):
    monkeypatch.setattr(layers, "nearest_unpool2d", lambda x, scale: x)
    result = next(r for r in run_checks("layers").results if r.name == "nearest_unpool2d")
    assert result.status == "failed"
    assert "expected shape (2, 3, 6, 10), got (2, 3, 3, 5)" in result.message


def test_crashes_are_reported_not_raised(monkeypatch, capsys):
    def crash(*args, **kwargs):
        raise IndexError("index 7 is out of bounds")

    monkeypatch.setattr(layers, "conv_transpose2d", crash)
    monkeypatch.setattr(layers, "max_unpool2d", lambda *a, **k: None)
    report = run_checks("layers")
    by_name = {r.name: r for r in report.results}
    assert by_name["conv_transpose2d"].status == "error"
    assert "IndexError: index 7 is out of bounds" in by_name["conv_transpose2d"].message
    assert by_name["max_unpool2d"].status == "failed"
    assert "expected a torch.Tensor, got NoneType" in by_name["max_unpool2d"].message
    assert main(["layers"]) == 1
    assert "checks passed" in capsys.readouterr().out


def test_detached_output_fails_gradient_check(monkeypatch):
    real = layers.conv_transpose2d
    monkeypatch.setattr(layers, "conv_transpose2d", lambda *a, **k: real(*a, **k).detach())
    result = next(r for r in run_checks("layers").results if r.name == "conv_transpose2d gradients")
    assert result.status == "failed" and "autograd" in result.message


def test_unknown_group():
    report = run_checks("nope")
    assert not report.ok and "unknown check group" in report.results[0].message


def test_nan_output_fails(monkeypatch):
    monkeypatch.setattr(layers, "bilinear_kernel", lambda i, o, k: torch.full((i, o, k, k), float("nan")))
    result = next(r for r in run_checks("layers").results if r.name == "bilinear_kernel")
    assert result.status == "failed"
