"""The starter code that never counts: the released skeleton and the reference solutions of the kit
(both made from its source, as `autograder release` makes the skeleton), and any release folder named."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from .documents import NOTEBOOKS, Part, notebook_part, python_part, read_parts
from .settings import SimilaritySettings


@dataclass
class Starter:
    """Versions of the starter code: each a list of parts (the skeleton, the reference, each folder)."""

    sets: list[list[Part]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    """What each set is, for the report."""

    @cached_property
    def _by_file(self) -> dict[str, list[Part]]:
        versions: dict[str, list[Part]] = {}
        for parts in self.sets:
            for part in parts:
                versions.setdefault(part.file, []).append(part)
        return versions

    def distinct_sets(self) -> list[list[Part]]:
        """The sets, each without the parts an earlier set has verbatim (their fingerprints are the same)."""
        seen: set[tuple[str, tuple[str, ...]]] = set()
        distinct = []
        for parts in self.sets:
            distinct.append([p for p in parts if (p.file, p.lines) not in seen])
            seen.update((p.file, p.lines) for p in parts)
        return distinct

    def versions(self, file: str) -> list[Part]:
        """Every starter version of `file` (none for a file the student added)."""
        return self._by_file.get(file, [])


def kit_code(source: Path, settings: SimilaritySettings) -> tuple[list[Part], list[Part]]:
    """(skeleton, reference) of the kit at `source`: its package as released (solution regions stripped)
    and as written, then its notebooks' code cells as nbgrader releases them and as written."""
    from autograder.release.markers import strip_solutions
    from autograder.release.package import package_files

    source = Path(source).resolve()
    skeleton: list[Part] = []
    reference: list[Part] = []
    files, _ = package_files(source)
    for path in files:
        if path.suffix == ".py":
            rel = path.relative_to(source)
            text = path.read_text(encoding="utf-8")
            skeleton.append(python_part(rel.as_posix(), strip_solutions(text, rel)[0]))
            reference.append(python_part(rel.as_posix(), text))
    if settings.notebooks:
        from autograder.grading.notebooks.source import released_form
        from autograder.release.notebooks.build import read_source, source_notebooks

        for path in source_notebooks(source / NOTEBOOKS):
            nb = read_source(path)[0]
            file = f"{NOTEBOOKS}/{path.stem}.ipynb"
            skeleton.append(notebook_part(file, released_form(nb).cells))
            reference.append(notebook_part(file, nb.cells))
    return skeleton, reference


def load_starter(source: Path, settings: SimilaritySettings, extra: Sequence[Path] = ()) -> Starter:
    """The kit's skeleton and reference, and the code of each folder in `extra` (e.g. the release the
    students actually started from, if the kit has changed since)."""
    source = Path(source).resolve()
    skeleton, reference = kit_code(source, settings)
    sets = [skeleton, reference] + [read_parts(Path(folder), settings)[0] for folder in extra]
    names = [f"released skeleton of {source}", f"reference solutions of {source}"] + [str(f) for f in extra]
    return Starter(sets, names)
