"""Student notebooks through real nbgrader: build the sources into a course folder, `generate_assignment`.

nbgrader runs as `python -m nbgrader` in a subprocess (its own traitlets config, logs captured); the
course folder holds `nbgrader_config.py`, `gradebook.db`, `source/<assignment>/` and `release/<assignment>/`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder.errors import ReleaseError
from exercise_code.config import CONFIG

from .build import build_notebooks

ASSIGNMENT_ID = "dense_prediction"
"""The nbgrader assignment that holds all four notebooks."""
COURSE_ID = "dense_prediction_kit"
LOG_TAIL = 4000
"""Characters of nbgrader's log quoted in an error."""

COURSE_CONFIG = """\
# nbgrader settings of the course kit (written by autograder.release.notebooks.nbgrader_release).
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = {root!r}
c.Execute.timeout = {timeout}
c.Execute.interrupt_on_timeout = True
c.ClearSolutions.code_stub = dict(python={stub!r})
"""

CODE_STUB = '# YOUR CODE HERE\nraise NotImplementedError("replace this line by your solution")'
"""What nbgrader leaves in place of a notebook solution region."""


def write_course_config(course_dir: Path) -> Path:
    """Write `course_dir/nbgrader_config.py`; the per-cell timeout comes from the assignment config."""
    course_dir.mkdir(parents=True, exist_ok=True)
    path = course_dir / "nbgrader_config.py"
    path.write_text(
        COURSE_CONFIG.format(
            course_id=COURSE_ID,
            root=str(course_dir.resolve()),
            timeout=int(CONFIG.time.notebook_cell_s),
            stub=CODE_STUB,
        ),
        encoding="utf-8",
    )
    return path


def run_nbgrader(
    course_dir: Path, *args: str, env: dict[str, str] | None = None, timeout: float | None = None
) -> str:
    """Run `python -m nbgrader ARGS` in `course_dir`; returns the log; ReleaseError quoting it on failure."""
    root = f"--CourseDirectory.root={Path(course_dir).resolve()}"
    command = [sys.executable, "-m", "nbgrader", *args, root]
    merged = {**os.environ, **(env or {})}
    # nbgrader runs the `alembic` script by name: the interpreter's bin folder must be on PATH
    merged["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), merged.get("PATH", "")])
    try:
        done = subprocess.run(
            command,
            cwd=course_dir,
            env=merged,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ReleaseError(f"nbgrader {args[0] if args else ''} took longer than {timeout} s") from exc
    log = done.stdout + done.stderr
    if done.returncode != 0:
        raise ReleaseError(f"nbgrader {' '.join(args)} failed (exit {done.returncode}):\n{log[-LOG_TAIL:]}")
    return log


def prepare_course(course_dir: Path, source_dir: Path, assignment: str = ASSIGNMENT_ID) -> list[Path]:
    """Build the source notebooks into `course_dir/source/<assignment>/` and write the course config."""
    target = Path(course_dir) / "source" / assignment
    if target.exists():
        shutil.rmtree(target)
    built = build_notebooks(Path(source_dir), target)
    if not built:
        raise ReleaseError(f"no source notebooks (NN_name.py or .ipynb) in {source_dir}")
    write_course_config(Path(course_dir))
    return built


def generate_student_notebooks(
    *, source_dir: Path, out_dir: Path, course_dir: Path | None = None
) -> list[Path]:
    """Release the notebooks of `source_dir` with `nbgrader generate_assignment` into `out_dir`.

    `course_dir` keeps the nbgrader course folder (gradebook included, for autograding later);
    by default a temporary one is used and removed. Returns the released notebooks in `out_dir`.
    Raises MarkerError for malformed role tags or markers, ReleaseError if nbgrader fails.
    """
    if course_dir is None:
        with tempfile.TemporaryDirectory(prefix="nbgrader-course-") as tmp:
            return generate_student_notebooks(source_dir=source_dir, out_dir=out_dir, course_dir=Path(tmp))
    course_dir = Path(course_dir)
    built = prepare_course(course_dir, source_dir)
    run_nbgrader(course_dir, "generate_assignment", ASSIGNMENT_ID, "--force")
    released_dir = course_dir / "release" / ASSIGNMENT_ID
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    released = []
    for path in built:
        produced = released_dir / path.name
        if not produced.is_file():
            raise ReleaseError(f"nbgrader did not release {path.name} (expected {produced})")
        released.append(Path(shutil.copyfile(produced, out_dir / path.name)))
    return released
