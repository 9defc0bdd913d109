"""`autograder release`: write the student version of the kit from the single source.

Steps, in order: strip the `.py` solutions of `exercise_code/`, copy its other files, write the
student `pyproject.toml` and README, release the notebooks, then run the leak check. The release is
built in a temporary folder and moved into place only when every step passed.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import LeakError, ReleaseError

from .leak import FORBIDDEN_PARTS, FORBIDDEN_SUFFIXES, find_leaks, secret_lines
from .markers import strip_solutions
from .notebooks import NotebookStep, release_notebooks

PACKAGE = "exercise_code"

STUDENT_PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "dense-prediction-exercises"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = [
    "torch>=2.4,<3", "torchvision>=0.19", "numpy>=1.26", "matplotlib>=3.8", "ipywidgets>=8",
    "jupyterlab>=4", "tqdm>=4.66", "scikit-learn>=1.3", "mlxtend>=0.23", "pillow>=10",
]

[tool.setuptools.packages.find]
include = ["exercise_code*"]

[tool.setuptools.package-data]
"*" = ["*.json", "*.toml", "*.csv.gz"]
"""

STUDENT_README = """# Upsampling, segmentation and autoencoders: student kit

1. `pip install -e .` (in a fresh virtual environment), then open `notebooks/` in Jupyter.
2. Fill every `raise NotImplementedError(...)` in `exercise_code/`; the notebooks say when.
3. Check your work at any time: `python -m exercise_code.checks` (or `run_checks("layers")` in a notebook).
4. Build your submission with `autograder submit` from the course kit, or as your instructor says.
"""


@dataclass
class ReleaseReport:
    """What the release wrote."""

    out: Path
    files: list[Path] = field(default_factory=list)
    regions: dict[str, int] = field(default_factory=dict)
    notebooks: NotebookStep = field(default_factory=NotebookStep)

    @property
    def total_regions(self) -> int:
        return sum(self.regions.values())


def _package_files(source: Path) -> list[Path]:
    package = source / PACKAGE
    if not package.is_dir():
        raise ReleaseError(f"no {PACKAGE}/ package under {source}")
    return sorted(
        p
        for p in package.rglob("*")
        if p.is_file()
        and not any(part in FORBIDDEN_PARTS for part in p.relative_to(source).parts)
        and p.suffix not in FORBIDDEN_SUFFIXES
    )


def release(*, source: Path, out: Path, notebooks: bool = True) -> ReleaseReport:
    """Write the student release of the kit at `source` into `out` (replacing it).

    Raises MarkerError for broken markers and LeakError (file and line named) if any solution
    line, marker or forbidden file would reach the release.
    """
    source, out = Path(source).resolve(), Path(out).resolve()
    if out == source or source in out.parents and out.parts[len(source.parts)] == PACKAGE:
        raise ReleaseError(f"refusing to release into {out}: it overlaps the source package")
    files = _package_files(source)
    py_files = [p for p in files if p.suffix == ".py"]
    secrets = secret_lines(py_files, source)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".release-", dir=out.parent))
    try:
        report = ReleaseReport(out=out)
        for path in files:
            rel = path.relative_to(source)
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix == ".py":
                text, regions = strip_solutions(path.read_text(encoding="utf-8"), rel)
                target.write_text(text, encoding="utf-8")
                if regions:
                    report.regions[rel.as_posix()] = len(regions)
            else:
                shutil.copy2(path, target)
            report.files.append(rel)
        (staging / "pyproject.toml").write_text(STUDENT_PYPROJECT)
        (staging / "README.md").write_text(STUDENT_README)
        report.files += [Path("pyproject.toml"), Path("README.md")]
        if notebooks:
            report.notebooks = release_notebooks(source / "notebooks", staging / "notebooks")
        leaks = find_leaks(staging, secrets)
        if leaks:
            shown = "\n".join(f"  {leak}" for leak in leaks[:20])
            more = f"\n  ... and {len(leaks) - 20} more" if len(leaks) > 20 else ""
            raise LeakError(f"release stopped: {len(leaks)} leak(s) found\n{shown}{more}")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
        return report
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
