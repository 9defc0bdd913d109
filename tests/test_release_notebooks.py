"""`autograder release` runs real nbgrader on the course notebooks, and the leak check covers them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import autograder.release.notebooks.nbgrader_release as nbgrader_release
from autograder.errors import LeakError
from autograder.release import notebook_secret_lines, release
from autograder.release.notebooks.build import build_notebooks

REPO = Path(__file__).resolve().parent.parent


def test_release_writes_the_four_student_notebooks(tmp_path):
    report = release(source=REPO, out=tmp_path / "release")
    names = sorted(p.name for p in report.notebooks.released)
    assert names == sorted(p.with_suffix(".ipynb").name for p in (REPO / "notebooks").glob("[0-9][0-9]_*.py"))
    assert len(names) == 4
    for name in names:
        text = (tmp_path / "release" / "notebooks" / name).read_text()
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
        cells = json.loads(text)["cells"]
        assert any(c["metadata"].get("nbgrader", {}).get("locked") for c in cells)


def test_notebook_secrets_are_the_solution_and_hidden_test_lines():
    secrets = notebook_secret_lines(REPO / "notebooks", REPO)
    where = {w.split(":")[0] for w in secrets.values()}
    assert len(where) == 4 and len(secrets) > 20


def test_unstripped_notebooks_are_caught_by_the_leak_check(tmp_path, monkeypatch):
    def no_stripping(*, source_dir: Path, out_dir: Path, course_dir: Path | None = None) -> list[Path]:
        return build_notebooks(source_dir, out_dir)  # the sources as they are: solutions, hidden tests

    monkeypatch.setattr(nbgrader_release, "generate_student_notebooks", no_stripping)
    with pytest.raises(LeakError, match=r"notebooks/0\d_\w+\.ipynb:\d+: "):
        release(source=REPO, out=tmp_path / "release")
    assert not (tmp_path / "release").exists()
