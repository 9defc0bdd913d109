"""What is compared: a submission's Python files under exercise_code/ and its notebooks' code cells
(each notebook one part), and the document of a submission's own lines that copydetect fingerprints."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .settings import SimilaritySettings

PACKAGE = "exercise_code"
NOTEBOOKS = "notebooks"


@dataclass(frozen=True)
class Part:
    """A Python file, or the code cells of one notebook one after another."""

    file: str
    """Path relative to the submission root, with `/`."""
    lines: tuple[str, ...]
    where: tuple[tuple[int | None, int], ...]
    """(cell number or None, line number in the file or cell), 1-based, of each line."""


def _lines(text: str) -> list[str]:
    """The lines of `text` as the lexer reads them (a byte-order mark dropped, `\r\n` and `\r` as `\n`)."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")


def python_part(file: str, text: str) -> Part:
    """A Python file as a part."""
    lines = tuple(_lines(text))
    return Part(file, lines, tuple((None, n) for n in range(1, len(lines) + 1)))


def notebook_part(file: str, cells: Iterable[Any]) -> Part:
    """The code cells (dicts as in the .ipynb JSON, numbered among all cells) of a notebook as one part;
    malformed cells are left out."""
    lines: list[str] = []
    where: list[tuple[int | None, int]] = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, Mapping) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if isinstance(source, str) and source.strip():
            for n, line in enumerate(_lines(source), start=1):
                lines.append(line)
                where.append((number, n))
    return Part(file, tuple(lines), tuple(where))


def read_parts(root: Path, settings: SimilaritySettings) -> tuple[list[Part], list[str]]:
    """The parts of the submission (or release) folder `root`, and a note for each file left out."""
    parts: list[Part] = []
    notes: list[str] = []
    candidates = sorted((root / PACKAGE).rglob("*.py"))
    if settings.notebooks:
        candidates += sorted((root / NOTEBOOKS).glob("*.ipynb"))
    for path in candidates:
        rel = path.relative_to(root).as_posix()
        if path.is_symlink() or not path.is_file():
            continue
        if path.stat().st_size > settings.max_file_kb * 1024:
            notes.append(f"{rel}: left out (over {settings.max_file_kb} KB)")
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        if path.suffix == ".py":
            parts.append(python_part(rel, text))
            continue
        try:
            cells = json.loads(text).get("cells", [])
        except (ValueError, AttributeError):
            notes.append(f"{rel}: left out (not a notebook)")
            continue
        parts.append(notebook_part(rel, cells if isinstance(cells, list) else []))
    return parts, notes


@dataclass(frozen=True)
class Place:
    """Lines `first_line`..`last_line` (1-based, inclusive) of a file, or of one cell of a notebook."""

    file: str
    cell: int | None
    first_line: int
    last_line: int

    def label(self) -> str:
        """`exercise_code/layers/unpooling.py:12-15` or `notebooks/01.ipynb cell 7:3-4`."""
        cell = f" cell {self.cell}" if self.cell is not None else ""
        lines = f"{self.first_line}" + (f"-{self.last_line}" if self.last_line != self.first_line else "")
        return f"{self.file}{cell}:{lines}"


@dataclass
class Document:
    """The own lines of some parts, other lines left blank (line numbers kept).

    `origin[i]` is (part index, line index in the part) of line i; `block[i]` numbers the run of own lines
    that line i belongs to (None: not an own line). A run ends at a line of starter code and at the end
    of a file or cell; blank and comment lines inside it do not end it.
    """

    parts: list[Part]
    lines: list[str]
    origin: list[tuple[int, int]]
    block: list[int | None]

    def __post_init__(self) -> None:
        self.text = "\n".join(self.lines)
        self.starts = np.cumsum([0] + [len(line) + 1 for line in self.lines[:-1]])
        self.block_end: dict[int, int] = {b: i for i, b in enumerate(self.block) if b is not None}

    def line_of(self, offsets: np.ndarray) -> np.ndarray:
        """The line index of each character offset in `text`."""
        return np.searchsorted(self.starts, offsets, side="right") - 1

    def place(self, first: int, last: int) -> Place:
        """Lines `first`..`last` (indices in this document, in one run of own lines) in their file."""
        part = self.parts[self.origin[first][0]]
        cell, first_line = part.where[self.origin[first][1]]
        return Place(part.file, cell, first_line, part.where[self.origin[last][1]][1])

    def code(self, place: Place, limit: int) -> str:
        """The submitted text of `place` (own and starter lines), at most `limit` lines."""
        part = next(p for p in self.parts if p.file == place.file)
        lines = [
            line
            for line, (cell, n) in zip(part.lines, part.where, strict=True)
            if cell == place.cell and place.first_line <= n <= place.last_line
        ]
        if len(lines) > limit:
            lines = lines[:limit] + [f"... ({len(lines) - limit} more lines)"]
        return "\n".join(lines)


def own_document(parts: Sequence[Part], own: Sequence[set[int]]) -> Document:
    """The document of `parts` with only the line indices in `own[i]` kept for part i (others blank)."""
    lines: list[str] = []
    origin: list[tuple[int, int]] = []
    block: list[int | None] = []
    runs = 0
    for index, (part, keep) in enumerate(zip(parts, own, strict=True)):
        open_cell: object = ()  # the cell of the open run; () when no run is open
        for n, line in enumerate(part.lines):
            origin.append((index, n))
            if n in keep:
                if open_cell != part.where[n][0]:
                    runs, open_cell = runs + 1, part.where[n][0]
                lines.append(line)
                block.append(runs)
                continue
            lines.append("")
            block.append(None)
            if line.strip() and not line.strip().startswith("#"):
                open_cell = ()  # a line of starter code ends the run
    return Document(list(parts), lines, origin, block)


def full_document(parts: Sequence[Part]) -> Document:
    """The document of `parts` with every line kept (the starter code's)."""
    return own_document(parts, [set(range(len(part.lines))) for part in parts])
