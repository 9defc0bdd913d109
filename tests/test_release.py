"""Release round trip: the student version imports, raises NotImplementedError, and leaks nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import autograder.release.assignment as assignment
from autograder.errors import LeakError
from autograder.release import release

REPO = Path(__file__).resolve().parent.parent


def _run_released(release_dir: Path, code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(release_dir)}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=release_dir.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rel") / "release"
    report = release(source=REPO, out=out, notebooks=False)
    assert report.total_regions >= 8
    return out


def test_release_contents(released):
    assert (released / "exercise_code" / "layers" / "__init__.py").is_file()
    assert (released / "pyproject.toml").is_file()
    assert not (released / "autograder").exists()
    assert not list(released.rglob("*.pt")) and not list(released.rglob("hidden"))
    text = "\n".join(p.read_text() for p in released.rglob("*.py"))
    assert "BEGIN SOLUTION" not in text and "F.fold(cols" not in text


LAYER_CALLS = """
import torch
import exercise_code, exercise_code.layers as L
assert "release" in exercise_code.__file__, exercise_code.__file__
x = torch.randn(1, 2, 4, 4); w = torch.randn(2, 2, 3, 3)
pooled, idx = torch.nn.functional.max_pool2d(x, 2, return_indices=True)
calls = {
    "nearest_unpool2d": lambda: L.nearest_unpool2d(x, 2),
    "bed_of_nails_unpool2d": lambda: L.bed_of_nails_unpool2d(x, 2),
    "max_unpool2d": lambda: L.max_unpool2d(pooled, idx, 2),
    "conv1d_as_matrix": lambda: L.conv1d_as_matrix(torch.ones(3), 4),
    "conv2d_as_matrix": lambda: L.conv2d_as_matrix(torch.ones(3, 3), (4, 4)),
    "conv_transpose2d_loops": lambda: L.conv_transpose2d_loops(x, w),
    "conv_transpose2d": lambda: L.conv_transpose2d(x, w),
    "bilinear_kernel": lambda: L.bilinear_kernel(2, 2, 4),
}
for name, call in calls.items():
    try:
        call()
    except NotImplementedError as exc:
        assert str(exc).startswith(name), exc
    else:
        raise SystemExit(f"{name} did not raise NotImplementedError")
print("all raise")
"""


def test_every_layer_function_raises_not_implemented(released):
    result = _run_released(released, LAYER_CALLS)
    assert result.returncode == 0, result.stderr
    assert "all raise" in result.stdout


def test_public_checks_say_not_implemented_on_the_skeleton(released):
    result = _run_released(
        released, "from exercise_code.checks.__main__ import main; raise SystemExit(main([]))"
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert len(lines) >= 10 and all("not implemented yet" in line for line in lines)
    assert "layers: 0/" in result.stdout


def test_every_released_module_imports(released):
    modules = [
        ".".join(p.relative_to(released).with_suffix("").parts).removesuffix(".__init__")
        for p in (released / "exercise_code").rglob("*.py")
        if p.name != "__main__.py"
    ]
    code = (
        "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules) + "print('ok')"
    )
    result = _run_released(released, code)
    assert result.returncode == 0, result.stderr


def test_planted_leak_in_a_data_file_fails(tmp_path):
    source = tmp_path / "kit"
    shutil.copytree(
        REPO / "exercise_code", source / "exercise_code", ignore=shutil.ignore_patterns("__pycache__")
    )
    (source / "exercise_code" / "notes.txt").write_text(
        "cheat sheet:\n    out = F.pad(full, (-pW, oW - pW, -pH, oH - pH))\n"
    )
    with pytest.raises(LeakError, match=r"exercise_code/notes.txt:2: solution line from .*transpose_conv.py"):
        release(source=source, out=tmp_path / "out", notebooks=False)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_broken_stripping_is_caught(tmp_path, monkeypatch):
    monkeypatch.setattr(assignment, "strip_solutions", lambda text, path: (text, []))
    with pytest.raises(LeakError, match="solution marker left in the release") as info:
        release(source=REPO, out=tmp_path / "out", notebooks=False)
    assert "exercise_code/layers/" in str(info.value)


def test_checkpoints_never_released(tmp_path):
    source = tmp_path / "kit"
    shutil.copytree(
        REPO / "exercise_code", source / "exercise_code", ignore=shutil.ignore_patterns("__pycache__")
    )
    (source / "exercise_code" / "weights.pt").write_bytes(b"\x80")
    report = release(source=source, out=tmp_path / "out", notebooks=False)
    assert Path("exercise_code/weights.pt") not in report.files
    assert not (tmp_path / "out" / "exercise_code" / "weights.pt").exists()
