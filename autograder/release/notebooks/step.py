"""Release step 3: the student notebooks, through real `nbgrader generate_assignment`.

The source notebooks under `notebooks/` (jupytext percent scripts with role tags, see
`autograder.release.notebooks.build`) are built into a temporary nbgrader course, released by nbgrader
(solutions stripped, hidden tests removed, cells locked) and copied into `<release>/notebooks/`; the
leak check then scans them like every other file, with the notebooks' own solution and hidden-test
lines among the secrets (`notebook_secret_lines`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..policy import DEFAULT_POLICY, ReleasePolicy

NO_NOTEBOOKS = "no notebooks"
REGIONS = (("### BEGIN SOLUTION", "### END SOLUTION"), ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"))
"""nbgrader's regions whose lines must never reach students: solutions and hidden tests."""


@dataclass
class NotebookStep:
    """What the notebook step did: notebooks written (relative to the release root) and a note."""

    released: list[Path] = field(default_factory=list)
    note: str = NO_NOTEBOOKS


def source_notebooks(source_dir: Path) -> list[Path]:
    """The source notebooks under `source_dir` (`NN_name.py` percent scripts or `.ipynb`)."""
    from autograder.release.notebooks.build import source_notebooks as numbered

    return numbered(source_dir) if source_dir.is_dir() else []


def notebook_secret_lines(
    source_dir: Path, root: Path, policy: ReleasePolicy = DEFAULT_POLICY
) -> dict[str, str]:
    """Distinctive lines inside the notebooks' solution and hidden-test regions -> "file:line".

    Markdown answers are `# `-prefixed in the percent scripts; both the line and its unprefixed text
    count. Lines that also appear outside the regions of the same notebook are left out.
    """
    secrets: dict[str, str] = {}
    for path in source_notebooks(source_dir):
        if path.suffix != ".py":
            continue
        lines = path.read_text(encoding="utf-8").split("\n")
        inside: list[tuple[int, str]] = []
        public: set[str] = set()
        end: str | None = None
        for number, raw in enumerate(lines, start=1):
            text = raw.strip()
            bare = text[2:].strip() if text.startswith("# ") else text
            if end is None:
                begin = next((e for b, e in REGIONS if bare == b), None)
                if begin is not None:
                    end = begin
                else:
                    public.update({text, bare})
            elif bare == end:
                end = None
            else:
                inside.append((number, bare))
        for number, bare in inside:
            if len(bare) >= policy.min_secret_length and bare not in public and not bare.startswith("#"):
                secrets.setdefault(bare, f"{path.relative_to(root).as_posix()}:{number}")
    return secrets


def release_notebooks(source_dir: Path, out_dir: Path, *, enabled: bool = True) -> NotebookStep:
    """Generate the student notebooks of `source_dir` into `out_dir` with nbgrader.

    `enabled=False` skips the step (`autograder release --no-notebooks`). Raises MarkerError for a
    malformed role tag and ReleaseError when nbgrader fails (its log quoted).
    """
    if not enabled:
        return NotebookStep(note="skipped (--no-notebooks)")
    if not source_notebooks(source_dir):
        return NotebookStep(note=NO_NOTEBOOKS)
    from autograder.release.notebooks.nbgrader_release import generate_student_notebooks

    written = generate_student_notebooks(source_dir=source_dir, out_dir=out_dir)
    root = out_dir.parent
    return NotebookStep(
        released=[p.relative_to(root) for p in written],
        note=f"nbgrader generate_assignment: {len(written)} notebook(s), solutions and hidden tests removed",
    )
