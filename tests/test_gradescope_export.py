"""The Gradescope export: the zip's run_autograder, run with bash on a simulated /autograder layout,
always leaves a results.json that validates against the repo's schema.

To stay fast, the exported source gets a one-test hidden suite and a one-notebook assignment (both
testing the kit's real `exercise_code`); `make demo` runs the real suites and notebooks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import nbformat
import pytest

from autograder.cli import main as cli_main
from autograder.export import entry
from autograder.export.gradescope import export_gradescope
from autograder.reports import SCHEMA_PATH

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads(SCHEMA_PATH.read_text())
SUITE = """\
import torch


def test_nearest_unpool(submission):
    x = torch.arange(4.0).view(1, 1, 2, 2)
    y = submission.call("exercise_code.layers.nearest_unpool2d", x, 2)
    torch.testing.assert_close(y, x.repeat_interleave(2, 2).repeat_interleave(2, 3))
"""
RUBRIC = '["test_layers.py::test_nearest_unpool"]\npoints = 2\npart = "layers"\nconcept = "unpooling"\n'
NOTEBOOK = """\
# %% tags=["readonly:setup"]
import torch

from exercise_code import layers

# %% tags=["solution:factor"]
### BEGIN SOLUTION
FACTOR = 2
### END SOLUTION

# %% tags=["tests:nearest:3"]
assert layers.nearest_unpool2d(torch.ones(1, 1, 2, 2), FACTOR).shape == (1, 1, 4, 4)
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The exported zip unpacked as Gradescope does, with a small suite and notebook in its source."""
    base = tmp_path_factory.mktemp("gradescope")
    export = export_gradescope(repo=ROOT, out=base / "autograder.zip")
    source = base / "source"
    with zipfile.ZipFile(export.zip_path) as archive:
        archive.extractall(source)
    hidden = source / "autograder" / "hidden"
    shutil.rmtree(hidden)
    hidden.mkdir()
    (hidden / "test_layers.py").write_text(SUITE)
    (hidden / "rubric.toml").write_text(RUBRIC)
    (source / "notebooks").mkdir(exist_ok=True)
    (source / "notebooks" / "01_mini.py").write_text(NOTEBOOK)
    return source


def layout(tmp_path: Path, source: Path) -> Path:
    root = tmp_path / "autograder"
    root.mkdir()
    (root / "source").symlink_to(source, target_is_directory=True)
    (root / "submission").mkdir()
    return root


def run_autograder(root: Path, python: str = sys.executable) -> dict:
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": python}
    script = str(root / "source" / "run_autograder")
    done = subprocess.run(["bash", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    payload = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(payload, SCHEMA)
    return payload


def reference_zip(path: Path) -> Path:
    """The reference `exercise_code` and the solved notebook, zipped from files as `zip -r` would."""
    notebook = path.parent.parent / "01_mini.ipynb"
    nbformat.write(read_source_text(NOTEBOOK), notebook)
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted((ROOT / "exercise_code").rglob("*.py")):
            archive.write(file, file.relative_to(ROOT).as_posix())
        archive.write(notebook, "notebooks/01_mini.ipynb")
    return path


def read_source_text(text: str) -> nbformat.NotebookNode:
    """A percent-script notebook with role tags as an nbgrader notebook (solutions kept)."""
    import jupytext

    from autograder.release.notebooks.build import convert

    return convert(jupytext.reads(text, fmt="py:percent"), Path("01_mini.py"))[0]


def test_export_command_writes_the_zip(tmp_path: Path) -> None:
    out = tmp_path / "autograder.zip"
    assert cli_main(["export", "gradescope", "--out", str(out)]) == 0
    names = set(zipfile.ZipFile(out).namelist())
    assert {"setup.sh", "run_autograder", "autograder/export/entry.py", "pyproject.toml"} <= names


def test_reference_submission_is_graded(exported: Path, tmp_path: Path) -> None:
    root = layout(tmp_path, exported)
    reference_zip(root / "submission" / "upload.zip")
    payload = run_autograder(root)
    scores = {t["name"]: (t["score"], t["max_score"], t["status"]) for t in payload["tests"]}
    assert scores == {
        "test_layers.py::test_nearest_unpool": (2.0, 2.0, "passed"),
        "01_mini/nearest": (3.0, 3.0, "passed"),
    }
    assert payload["score"] == 5.0


def test_garbage_zip_gets_a_zero_that_validates(exported: Path, tmp_path: Path) -> None:
    root = layout(tmp_path, exported)
    (root / "submission" / "upload.zip").write_bytes(b"PK\x03\x04 this is not a zip file" * 10)
    payload = run_autograder(root)
    assert payload["score"] == 0
    assert "rejected" in payload["output"]
    assert {t["status"] for t in payload["tests"]} == {"failed"}


def test_missing_python_still_writes_results(exported: Path, tmp_path: Path) -> None:
    root = layout(tmp_path, exported)
    payload = run_autograder(root, python=str(tmp_path / "no" / "python"))
    assert payload["score"] == 0 and payload["tests"] == []
    assert "could not start" in payload["output"]


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt(), MemoryError()])
def test_any_crash_writes_a_failure_payload(tmp_path: Path, monkeypatch, error: BaseException) -> None:
    def crash(root: Path) -> dict:
        raise error

    monkeypatch.setattr(entry, "grade", crash)
    assert entry.main(["--root", str(tmp_path)]) == 1
    payload = json.loads((tmp_path / "results" / "results.json").read_text())
    jsonschema.validate(payload, SCHEMA)
    assert payload["score"] == 0 and type(error).__name__ in payload["output"]


def test_submission_path_and_seed(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="submission does not exist"):
        entry.submission_path(tmp_path)
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "work.zip").write_bytes(b"")
    assert entry.submission_path(tmp_path) == tmp_path / "submission" / "work.zip"
    (tmp_path / "submission" / "notes.txt").write_text("x")
    assert entry.submission_path(tmp_path) == tmp_path / "submission"
    assert entry.grading_seed(tmp_path) == 0
    (tmp_path / "submission_metadata.json").write_text(json.dumps({"id": 123456}))
    assert entry.grading_seed(tmp_path) == 123456
