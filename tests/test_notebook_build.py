"""Notebook sources -> nbgrader .ipynb: role tags become nbgrader metadata; malformed sources are refused."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from autograder.errors import MarkerError, ReleaseError
from autograder.release.notebooks import Role, build_notebooks, generate_student_notebooks, read_source
from autograder.release.notebooks.build import main, source_notebooks

ROOT = Path(__file__).resolve().parent.parent

GOOD = """# %% [markdown]
# # A notebook

# %% tags=["readonly:setup"]
import math

# %% tags=["solution:pick"]
### BEGIN SOLUTION
ANSWER = 42
### END SOLUTION

# %% tags=["tests:check_pick:2"]
assert ANSWER == 42
### BEGIN HIDDEN TESTS
assert ANSWER > 0
### END HIDDEN TESTS

# %% [markdown] tags=["answer:why:3"]
# ### BEGIN SOLUTION
# Because.
# ### END SOLUTION

# %% tags=["other"]
print(math.pi)
"""


def _write(tmp_path: Path, text: str, name: str = "01_demo.py") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_role_tags_become_nbgrader_metadata(tmp_path: Path) -> None:
    nb, graded = read_source(_write(tmp_path, GOOD))
    meta = [cell.metadata.get("nbgrader") for cell in nb.cells]
    assert meta[0] is None and meta[-1] is None
    assert meta[1] == {
        "grade": False,
        "grade_id": "setup",
        "locked": True,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    assert meta[2]["solution"] and not meta[2]["grade"] and not meta[2]["locked"]
    assert meta[3]["grade"] and meta[3]["locked"] and meta[3]["points"] == 2 and not meta[3]["solution"]
    assert meta[4]["grade"] and meta[4]["solution"] and meta[4]["points"] == 3
    assert nb.cells[4].cell_type == "markdown" and "### BEGIN SOLUTION" in nb.cells[4].source
    assert nb.cells[-1].metadata["tags"] == ["other"]  # ordinary tags stay, role tags go
    assert "tags" not in nb.cells[3].metadata
    assert [(g.role, g.grade_id, g.points) for g in graded] == [
        (Role.READONLY, "setup", 0.0),
        (Role.SOLUTION, "pick", 0.0),
        (Role.TESTS, "check_pick", 2.0),
        (Role.ANSWER, "why", 3.0),
    ]
    assert nb.metadata["kernelspec"]["name"] == "python3"
    nbformat.validate(nb)
    assert len({cell["id"] for cell in nb.cells}) == len(nb.cells)


@pytest.mark.parametrize(
    ("cell", "match"),
    [
        ('# %% tags=["tests:t"]\nassert True\n', "needs positive points"),
        ('# %% tags=["tests:t:0"]\nassert True\n', "needs positive points"),
        ('# %% tags=["readonly:r:2"]\nx = 1\n', "carry no points"),
        ('# %% tags=["solution:s x"]\nx = 1\n', "malformed role tag"),
        ('# %% tags=["solution:a", "tests:b:1"]\nx = 1\n', "one role tag per cell"),
        ('# %% tags=["solution:s"]\nx = 1\n', "needs '### BEGIN SOLUTION'"),
        ("# %%\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "without a role tag"),
        (
            '# %% tags=["tests:t:1"]\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n',
            "solution markers in a tests cell",
        ),
        (
            '# %% tags=["solution:s"]\n### BEGIN SOLUTION\nx = 1\n### BEGIN HIDDEN TESTS\n### END SOLUTION\n',
            "hidden-test markers",
        ),
        ('# %% tags=["solution:s"]\n### BEGIN SOLUTION\nx = 1\n', "unbalanced or malformed markers"),
        ('# %% tags=["tests:t:1"]\n### END HIDDEN TESTS\n### BEGIN HIDDEN TESTS\n', "unbalanced"),
        ('# %% [markdown] tags=["solution:s"]\n# ### BEGIN SOLUTION\n# ### END SOLUTION\n', "code cells"),
        ('# %% tags=["readonly:same"]\nx = 1\n\n# %% tags=["readonly:same"]\ny = 2\n', "duplicate id 'same'"),
    ],
)
def test_malformed_sources_are_refused(tmp_path: Path, cell: str, match: str) -> None:
    with pytest.raises(MarkerError, match=match):
        read_source(_write(tmp_path, cell))


def test_build_notebooks_writes_one_ipynb_per_numbered_source(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _write(src, GOOD, "01_first.py")
    _write(src, GOOD, "02_second.py")
    _write(src, "print('not a notebook')\n", "helper.py")
    built = build_notebooks(src, tmp_path / "out")
    assert [p.name for p in built] == ["01_first.ipynb", "02_second.ipynb"]
    nb = nbformat.read(built[0], as_version=4)
    assert nb.cells[3].metadata["nbgrader"]["grade_id"] == "check_pick"
    assert main([str(src), str(tmp_path / "cli")]) == 0
    assert sorted(p.name for p in (tmp_path / "cli").iterdir()) == ["01_first.ipynb", "02_second.ipynb"]


def test_a_notebook_given_twice_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, GOOD, "01_same.py")
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "01_same.ipynb")
    with pytest.raises(MarkerError, match="both as .py and .ipynb"):
        source_notebooks(tmp_path)


def test_release_without_sources_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="no source notebooks"):
        generate_student_notebooks(source_dir=tmp_path, out_dir=tmp_path / "out")


def test_the_course_notebooks_build() -> None:
    """Every source notebook of the kit converts, with unique ids and points on its graded cells."""
    sources = source_notebooks(ROOT / "notebooks")
    assert sources, "no notebooks in notebooks/"
    for path in sources:
        nb, graded = read_source(path)
        assert any(g.role is Role.TESTS for g in graded), f"{path.name} has no autograded tests"
        nbformat.validate(nb)
