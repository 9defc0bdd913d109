"""Release step 2: the student `pyproject.toml` (the package only) and a short student README.

The dependencies come from the kit's own pyproject, less the grader-only ones, so they never drift.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from autograder.errors import ReleaseError

from .policy import DEFAULT_POLICY, ReleasePolicy

STUDENT_README = """# Upsampling, segmentation and autoencoders: student kit

1. In a fresh virtual environment: `pip install -e .`, then open the notebooks in Jupyter.
2. Fill every `raise NotImplementedError(...)` in `exercise_code/`; the notebooks say when.
3. Check your work at any time: `python -m exercise_code.checks layers`
   (or, in a notebook, `from exercise_code.checks import run_checks; run_checks("layers")`).
4. Hand in: run `python -m exercise_code.submit` in this folder (in a notebook:
   `from exercise_code.submit import submit; submit()`). It runs the public checks, checks that every
   notebook and model file is there, that each model loads with `weights_only=True` and meets the limits,
   and that the notebooks were run and answered, then writes `submission.zip`; if something is missing it
   says which cell or command makes it, writes nothing and exits with code 1. Upload `submission.zip`
   as your course page says. The graded tests are not the public checks: passing every public check is
   necessary, not sufficient.
5. Some shortcuts are not allowed: an exercise may not call the torch function it re-implements. Each
   exercise's docstring ends with its `Not allowed here:` list, the notebook cell that introduces it shows
   the same list, and `exercise_code/forbidden/rules.toml` holds them all. The public checks
   (`no forbidden shortcuts`) and the submit helper name any such call with its file and line; the
   grader gives the tests of a function that makes one 0 points.
"""


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(@]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def student_pyproject(source: Path, policy: ReleasePolicy = DEFAULT_POLICY) -> str:
    """A minimal pyproject.toml that installs only `policy.package`, with the kit's student dependencies."""
    name, version, python, dependencies = "course-exercises", "0.1.0", ">=3.11", []
    kit = source / "pyproject.toml"
    if kit.is_file():
        try:
            project = tomllib.loads(kit.read_text(encoding="utf-8")).get("project", {})
        except tomllib.TOMLDecodeError as exc:
            raise ReleaseError(f"{kit}: invalid TOML: {exc}") from exc
        name = f"{project.get('name', 'course')}-exercises"
        version = project.get("version", version)
        python = project.get("requires-python", python)
        grader_only = set(policy.grader_only_dependencies)
        dependencies = [d for d in project.get("dependencies", []) if _requirement_name(d) not in grader_only]
    deps = "".join(f"    {json.dumps(d)},\n" for d in dependencies)
    return (
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f"[project]\nname = {json.dumps(name)}\nversion = {json.dumps(version)}\n"
        f"requires-python = {json.dumps(python)}\ndependencies = [\n{deps}]\n\n"
        f'[tool.setuptools.packages.find]\ninclude = ["{policy.package}*"]\n\n'
        '[tool.setuptools.package-data]\n"*" = ["*.json", "*.toml", "*.csv", "*.csv.gz", "*.txt", "*.png"]\n'
    )


def write_project_files(source: Path, staging: Path, policy: ReleasePolicy = DEFAULT_POLICY) -> list[Path]:
    """Write the student pyproject.toml and README.md into `staging`; returns their relative paths."""
    (staging / "pyproject.toml").write_text(student_pyproject(source, policy), encoding="utf-8")
    (staging / "README.md").write_text(STUDENT_README, encoding="utf-8")
    return [Path("pyproject.toml"), Path("README.md")]
