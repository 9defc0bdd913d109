"""A real nbgrader course: generate_assignment -> submissions -> autograde -> export, and validate both ways.

Two submissions: `reference` (the source notebooks, with the reference `exercise_code` the venv imports)
must earn every autograded point; `untouched` (the released notebooks beside the released, stripped
`exercise_code`) must earn none. `validate --invert` passes on every release as autograde ran it, and
the real `nbgrader validate` CLI passes on a source notebook (`--invert` on its release).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.preprocessors import CheckCellMetadata
from nbgrader.validator import Validator

from autograder.release.leak import LEAK_MARKERS, find_leaks, secret_lines
from autograder.release.notebooks import (
    ASSIGNMENT_ID,
    Role,
    generate_student_notebooks,
    read_source,
    run_nbgrader,
    source_notebooks,
)
from autograder.release.notebooks.nbgrader_release import CODE_STUB
from autograder.release.package import package_files, release_package

ROOT = Path(__file__).resolve().parent.parent
SOURCES = source_notebooks(ROOT / "notebooks")
NBGRADER_TIMEOUT_S = 900
KERNEL_ENV = {"OMP_NUM_THREADS": "1"}
"""One torch thread per kernel: the notebooks run beside other tests on 2 cores."""

pytestmark = pytest.mark.slow


def _points(role: Role) -> float:
    return sum(g.points for path in SOURCES for g in read_source(path)[1] if g.role is role)


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The course folder after release, two submissions, autograde and export (grades.csv)."""
    base = tmp_path_factory.mktemp("nbgrader")
    course = base / "course"
    released = generate_student_notebooks(
        source_dir=ROOT / "notebooks", out_dir=base / "released", course_dir=course
    )
    assert [p.name for p in released] == [f"{p.stem}.ipynb" for p in SOURCES]

    reference = course / "submitted" / "reference" / ASSIGNMENT_ID
    reference.mkdir(parents=True)
    for path in (course / "source" / ASSIGNMENT_ID).glob("*.ipynb"):
        shutil.copyfile(path, reference / path.name)

    untouched = course / "submitted" / "untouched" / ASSIGNMENT_ID
    untouched.mkdir(parents=True)
    for path in released:
        shutil.copyfile(path, untouched / path.name)
    release_package(ROOT, untouched)  # the student's exercise_code beside the notebooks: imported first

    run_nbgrader(course, "autograde", ASSIGNMENT_ID, env=KERNEL_ENV, timeout=NBGRADER_TIMEOUT_S)
    run_nbgrader(course, "export", timeout=NBGRADER_TIMEOUT_S)
    return course


def _grades(course: Path) -> dict[str, dict[str, str]]:
    with open(course / "grades.csv", encoding="utf-8") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def _failed_cells(notebook: Path) -> list[str]:
    """Graded code cells of an autograded notebook that lost points, with their error."""
    nb = nbformat.read(notebook, as_version=4)
    failed = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade"):
            bad = [o for o in cell.outputs if o.output_type == "error" or o.get("name") == "stderr"]
            if bad:
                failed.append(f"{notebook.name}:{meta['grade_id']}: {json.dumps(bad[0])[:400]}")
    return failed


def test_release_strips_solutions_and_hidden_tests(course: Path) -> None:
    released = sorted((course / "release" / ASSIGNMENT_ID).glob("*.ipynb"))
    assert len(released) == len(SOURCES)
    for path in released:
        text = path.read_text(encoding="utf-8")
        assert not [m for m in LEAK_MARKERS if m in text], path.name
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution") and cell.cell_type == "code":
                assert CODE_STUB.splitlines()[-1] in cell.source, (path.name, meta["grade_id"])
            if meta.get("solution") and cell.cell_type == "markdown":
                assert cell.source.strip() == "YOUR ANSWER HERE", (path.name, meta["grade_id"])
            if meta.get("grade") and not meta.get("solution"):
                assert cell.metadata.get("editable") is False, "test cells are locked in the release"
    files, _ = package_files(ROOT)
    secrets = secret_lines([p for p in files if p.suffix == ".py"], ROOT)
    leaks = find_leaks(course / "release" / ASSIGNMENT_ID, secrets)
    assert not leaks, "\n".join(map(str, leaks))


def test_reference_earns_every_autograded_point(course: Path) -> None:
    autograded = course / "autograded" / "reference" / ASSIGNMENT_ID
    failed = [line for path in sorted(autograded.glob("*.ipynb")) for line in _failed_cells(path)]
    assert not failed, "\n".join(failed)
    row = _grades(course)["reference"]
    assert float(row["raw_score"]) == pytest.approx(_points(Role.TESTS))
    assert float(row["max_score"]) == pytest.approx(_points(Role.TESTS) + _points(Role.ANSWER))


def test_untouched_release_earns_nothing(course: Path) -> None:
    row = _grades(course)["untouched"]
    assert float(row["raw_score"]) == 0.0
    assert float(row["max_score"]) == pytest.approx(_points(Role.TESTS) + _points(Role.ANSWER))


def test_validate_invert_passes_on_every_autograded_release(course: Path) -> None:
    """`validate --invert` logic on the untouched release as autograde executed it (no second run)."""
    validator = Validator(invert=True, preprocessors=[CheckCellMetadata])
    autograded = course / "autograded" / "untouched" / ASSIGNMENT_ID
    notebooks = sorted(autograded.glob("*.ipynb"))
    assert len(notebooks) == len(SOURCES)
    for path in notebooks:
        assert validator.validate(str(path)) == {}, path.name


def test_validate_cli_on_a_source_and_its_release(course: Path, tmp_path: Path) -> None:
    """The real `nbgrader validate` passes on a source notebook; `--invert` on its student release.

    (test_notebooks.py applies the validator to every executed source notebook.)
    """
    name = f"{SOURCES[0].stem}.ipynb"
    source = course / "source" / ASSIGNMENT_ID / name
    log = run_nbgrader(course, "validate", str(source), env=KERNEL_ENV, timeout=NBGRADER_TIMEOUT_S)
    assert "Success! Your notebook passes all the tests." in log, log[-3000:]
    student = tmp_path / "student"
    student.mkdir()
    release_package(ROOT, student)  # the stripped exercise_code beside the notebook, as a student has it
    copy = shutil.copyfile(course / "release" / ASSIGNMENT_ID / name, student / name)
    log = run_nbgrader(course, "validate", "--invert", str(copy), env=KERNEL_ENV, timeout=NBGRADER_TIMEOUT_S)
    assert "Success! The notebook does not pass any tests." in log, log[-3000:]
