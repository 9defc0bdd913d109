"""Release tool on small synthetic kits: allow-list, stripping, leak check, staged write, safe targets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import autograder.release.assignment as assignment
import autograder.release.package as package
from autograder.errors import LeakError, MarkerError, ReleaseError
from autograder.release import NotebookStep, release

GEOMETRY = '''"""Synthetic exercise module."""

import math


def area(radius):
    """Area of a circle."""
    # BEGIN SOLUTION
    result = math.pi * radius ** 2
    return result
    # END SOLUTION


class Scaler:
    def __init__(self, factor):
        self.factor = factor

    def apply(self, values):
        """Every value times the factor."""
        # BEGIN SOLUTION
        scaled = [v * self.factor for v in values]
        return scaled
        # END SOLUTION
'''

STATS = '''"""Boilerplate shared by a solution and a public helper is not a secret."""


def mean(values):
    # BEGIN SOLUTION
    total = sum(values) / len(values)
    return total
    # END SOLUTION


def public_mean(values):
    total = sum(values) / len(values)
    return total
'''

PYPROJECT = """[project]
name = "synthetic-kit"
version = "1.2.3"
requires-python = ">=3.11"
dependencies = ["numpy>=1.26", "nbgrader>=0.9", "jsonschema", "torch>=2.4,<3"]
"""


def make_kit(root: Path, extra: dict[str, str | bytes] | None = None) -> Path:
    files: dict[str, str | bytes] = {
        "pyproject.toml": PYPROJECT,
        "exercise_code/__init__.py": '"""Synthetic package."""\n',
        "exercise_code/geometry.py": GEOMETRY,
        "exercise_code/stats.py": STATS,
        "exercise_code/data/card.json": '{"name": "toy"}\n',
        "exercise_code/hidden/test_secret.py": "def test_x():\n    assert True\n",
        "exercise_code/checkpoints/notes.txt": "reference run\n",
        "exercise_code/weights.pt": b"\x80\x02weights",
        "exercise_code/__pycache__/geometry.cpython-311.pyc": b"\x00",
        "exercise_code/.env": "TOKEN=1\n",
        "exercise_code/report.docx": b"PK",
        "autograder/hidden/test_layers.py": "SECRET = 1\n",
        **(extra or {}),
    }
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return root


@pytest.fixture
def kit(tmp_path: Path) -> Path:
    return make_kit(tmp_path / "kit")


def test_release_writes_only_the_allow_listed_files(kit, tmp_path):
    os.symlink(kit / "autograder/hidden/test_layers.py", kit / "exercise_code/linked.py")
    report = release(source=kit, out=tmp_path / "out")
    out = tmp_path / "out"
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == [
        "README.md",
        "exercise_code/__init__.py",
        "exercise_code/data/card.json",
        "exercise_code/geometry.py",
        "exercise_code/stats.py",
        "pyproject.toml",
    ]
    assert sorted(p.as_posix() for p in report.files) == written
    skipped = {path.as_posix(): reason for path, reason in report.skipped}
    assert set(skipped) == {
        "exercise_code/.env",
        "exercise_code/checkpoints/notes.txt",
        "exercise_code/hidden/test_secret.py",
        "exercise_code/linked.py",
        "exercise_code/report.docx",
        "exercise_code/weights.pt",
    }
    assert "hidden/ folder" in skipped["exercise_code/hidden/test_secret.py"]
    assert skipped["exercise_code/linked.py"] == "a symbolic link"
    assert "allow-list" in skipped["exercise_code/report.docx"]
    assert report.regions == {
        Path("exercise_code/geometry.py"): ("area", "Scaler.apply"),
        Path("exercise_code/stats.py"): ("mean",),
    }
    assert report.total_regions == 3 and report.notebooks.note == "no notebooks"
    assert any("skipped exercise_code/weights.pt" in line for line in report.summary_lines())


def test_student_pyproject_has_only_the_package_and_student_dependencies(kit, tmp_path):
    import tomllib

    release(source=kit, out=tmp_path / "out")
    project = tomllib.loads((tmp_path / "out" / "pyproject.toml").read_text())
    assert project["project"]["name"] == "synthetic-kit-exercises"
    assert project["project"]["version"] == "1.2.3"
    assert project["project"]["dependencies"] == ["numpy>=1.26", "torch>=2.4,<3"]
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["exercise_code*"]


def test_released_package_imports_and_raises(kit, tmp_path):
    release(source=kit, out=tmp_path / "out")
    code = (
        "import exercise_code.geometry as g, exercise_code.stats as s\n"
        "for call, name in ((lambda: g.area(1), 'area'), (lambda: g.Scaler(2).apply([1]), 'Scaler.apply'),"
        " (lambda: s.mean([1]), 'mean')):\n"
        "    try:\n        call()\n    except NotImplementedError as exc:\n"
        "        assert str(exc) == name + ': not implemented yet', exc\n"
        "    else:\n        raise SystemExit(name + ' did not raise')\n"
        "assert s.public_mean([1, 3]) == 2\nprint('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "out")}
    result = subprocess.run(
        [sys.executable, "-P", "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr


def test_a_second_release_replaces_the_first(kit, tmp_path):
    out = tmp_path / "out"
    release(source=kit, out=out)
    (kit / "exercise_code/stats.py").unlink()
    release(source=kit, out=out)
    assert not (out / "exercise_code/stats.py").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left behind


def test_planted_solution_line_fails_with_file_and_line(kit, tmp_path):
    out = tmp_path / "out"
    release(source=kit, out=out)
    before = sorted(out.rglob("*"))
    (kit / "exercise_code/data/notes.txt").write_text(
        "hints\n    scaled = [v * self.factor for v in values]\n"
    )
    with pytest.raises(
        LeakError,
        match=r"exercise_code/data/notes.txt:2: solution line from exercise_code/geometry.py:21",
    ):
        release(source=kit, out=out)
    assert sorted(out.rglob("*")) == before  # the previous release is untouched
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_boilerplate_and_short_lines_are_not_leaks(kit, tmp_path):
    (kit / "exercise_code/data/notes.txt").write_text("total = sum(values) / len(values)\nreturn result\n")
    release(source=kit, out=tmp_path / "out")  # public elsewhere / too short: no LeakError


def test_sabotaged_stripping_is_caught(kit, tmp_path, monkeypatch):
    def keep_body(text, path):  # removes the markers but keeps the solution
        lines = [line for line in text.split("\n") if "SOLUTION" not in line]
        return "\n".join(lines), []

    monkeypatch.setattr(package, "strip_solutions", keep_body)
    with pytest.raises(
        LeakError,
        match=r"exercise_code/geometry.py:8: solution line from exercise_code/geometry.py:9",
    ) as info:
        release(source=kit, out=tmp_path / "out")
    assert "exercise_code/stats.py" not in str(info.value)  # its only long line is public
    assert not (tmp_path / "out").exists()


def test_markers_left_in_the_output_are_caught(kit, tmp_path, monkeypatch):
    monkeypatch.setattr(package, "strip_solutions", lambda text, path: (text, []))
    with pytest.raises(
        LeakError, match=r"exercise_code/geometry.py:8: solution marker text left in the release"
    ):
        release(source=kit, out=tmp_path / "out")


def test_forbidden_files_written_by_a_step_are_caught(kit, tmp_path, monkeypatch):
    def leaky_notebooks(source_dir, out_dir, *, enabled=True):
        (out_dir / "checkpoints").mkdir(parents=True)
        (out_dir / "checkpoints" / "model.pth").write_bytes(b"\x80")
        return NotebookStep()

    monkeypatch.setattr(assignment, "release_notebooks", leaky_notebooks)
    with pytest.raises(LeakError, match=r"notebooks/checkpoints:0: must not be released"):
        release(source=kit, out=tmp_path / "out")


def test_broken_markers_stop_the_release(kit, tmp_path):
    (kit / "exercise_code/broken.py").write_text("def f():\n    # BEGIN SOLUTION\n    return 1\n")
    with pytest.raises(MarkerError, match=r"exercise_code/broken.py:2: .* never closed"):
        release(source=kit, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "target, match",
    [
        (".", "it holds the source kit"),
        ("..", "it holds the source kit"),
        ("exercise_code/out", "inside the source package"),
        ("pyproject.toml", "it is a file"),
        ("autograder", r"not a previous release \(it holds hidden\)"),
    ],
)
def test_unsafe_targets_are_refused(kit, target, match):
    with pytest.raises(ReleaseError, match=match):
        release(source=kit, out=kit / target)


def test_missing_package_is_an_error(tmp_path):
    with pytest.raises(ReleaseError, match="no exercise_code/ package under"):
        release(source=tmp_path, out=tmp_path / "out")


def test_notebook_step_can_be_skipped_and_refuses_bad_tags(kit, tmp_path):
    (kit / "notebooks").mkdir()
    (kit / "notebooks/01_unpooling.py").write_text('# %% tags=["tests:"]\nassert True\n')
    report = release(source=kit, out=tmp_path / "out", notebooks=False)
    assert report.notebooks.note.startswith("skipped") and report.notebooks.released == []
    assert not (tmp_path / "out" / "notebooks").exists()
    with pytest.raises(MarkerError, match="01_unpooling"):
        release(source=kit, out=tmp_path / "out2")
    assert not (tmp_path / "out2").exists()
