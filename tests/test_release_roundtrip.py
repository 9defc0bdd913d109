"""Release round trip on the real kit: the student version imports, every layer function raises
NotImplementedError, the public checks say "not implemented yet", and the leak check finds nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.errors import LeakError
from autograder.release import find_leaks, release, secret_lines
from autograder.release.package import package_files

REPO = Path(__file__).resolve().parent.parent
LAYER_FUNCTIONS = (
    "nearest_unpool2d",
    "bed_of_nails_unpool2d",
    "max_unpool2d",
    "conv1d_as_matrix",
    "conv2d_as_matrix",
    "conv_transpose2d_loops",
    "conv_transpose2d",
    "bilinear_kernel",
)


def _python(release_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run Python with only the release importable as `exercise_code` (-P: the cwd is not on sys.path)."""
    env = {**os.environ, "PYTHONPATH": str(release_dir)}
    return subprocess.run(
        [sys.executable, "-P", *args],
        cwd=release_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rel") / "release"
    report = release(source=REPO, out=out)
    stripped = {name for names in report.regions.values() for name in names}
    assert set(LAYER_FUNCTIONS) <= stripped
    return out


def test_release_contents(released):
    assert (released / "exercise_code" / "layers" / "__init__.py").is_file()
    assert (released / "exercise_code" / "checks" / "runner.py").is_file()
    assert (released / "pyproject.toml").is_file() and (released / "README.md").is_file()
    assert not (released / "autograder").exists()
    assert not [p for p in released.rglob("*") if p.suffix in {".pt", ".pth", ".pyc"} or p.name == "hidden"]


def test_leak_check_finds_nothing_in_the_release(released):
    files, _ = package_files(REPO)
    secrets = secret_lines([p for p in files if p.suffix == ".py"], REPO)
    assert len(secrets) >= 20  # the layer solutions have many distinctive lines
    assert find_leaks(released, secrets) == []


IMPORT_AND_CALL = """
import importlib, pkgutil, torch
import exercise_code, exercise_code.layers as L
assert exercise_code.__file__.startswith({root!r}), exercise_code.__file__
for info in pkgutil.walk_packages(exercise_code.__path__, "exercise_code."):
    if not info.name.endswith("__main__"):
        importlib.import_module(info.name)
x = torch.randn(1, 2, 4, 4); w = torch.randn(2, 2, 3, 3)
pooled, idx = torch.nn.functional.max_pool2d(x, 2, return_indices=True)
calls = {{
    "nearest_unpool2d": lambda: L.nearest_unpool2d(x, 2),
    "bed_of_nails_unpool2d": lambda: L.bed_of_nails_unpool2d(x, 2),
    "max_unpool2d": lambda: L.max_unpool2d(pooled, idx, 2),
    "conv1d_as_matrix": lambda: L.conv1d_as_matrix(torch.ones(3), 4),
    "conv2d_as_matrix": lambda: L.conv2d_as_matrix(torch.ones(3, 3), (4, 4)),
    "conv_transpose2d_loops": lambda: L.conv_transpose2d_loops(x, w),
    "conv_transpose2d": lambda: L.conv_transpose2d(x, w),
    "bilinear_kernel": lambda: L.bilinear_kernel(2, 2, 4),
}}
assert sorted(calls) == sorted({functions!r})
for name, call in calls.items():
    try:
        call()
    except NotImplementedError as exc:
        assert str(exc) == name + ": not implemented yet", exc
    else:
        raise SystemExit(name + " did not raise NotImplementedError")
print("all modules import; every layer function raises")
"""


def test_every_module_imports_and_every_layer_function_raises(released):
    code = IMPORT_AND_CALL.format(root=str(released), functions=LAYER_FUNCTIONS)
    result = _python(released, "-c", code)
    assert result.returncode == 0, result.stderr
    assert "every layer function raises" in result.stdout


def test_public_checks_say_not_implemented_on_the_skeleton(released):
    result = _python(released, "-m", "exercise_code.checks", "layers")
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert len(lines) >= 10 and all(
        line.startswith("[TODO ]") and "not implemented yet" in line for line in lines
    )
    assert f"layers: 0/{len(lines)} checks passed" in result.stdout


def test_planted_leak_in_the_real_package_fails(tmp_path):
    source = tmp_path / "kit"
    shutil.copytree(
        REPO / "exercise_code",
        source / "exercise_code",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(REPO / "pyproject.toml", source / "pyproject.toml")
    unpooling = (source / "exercise_code/layers/unpooling.py").read_text().split("\n")
    begin = unpooling.index("    # BEGIN SOLUTION") + 1
    solution = unpooling[begin]  # the first line of the first solution, as the lecture wrote it
    (source / "exercise_code" / "notes.txt").write_text(f"cheat sheet:\n{solution}\n")
    pattern = rf"exercise_code/notes.txt:2: solution line from exercise_code/layers/unpooling.py:{begin + 1}"
    with pytest.raises(LeakError, match=pattern):
        release(source=source, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written
