"""Find the fenced solution regions of a Python source and replace each by a hint and a raise."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import MarkerError

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
HINT = "# TODO: write your solution here (see the docstring above)"


@dataclass(frozen=True)
class Region:
    """A fenced region: marker lines `begin` and `end` (1-based), its indentation and enclosing function."""

    begin: int
    end: int
    indent: str
    function: str


def _enclosing_functions(source: str, path: Path) -> list[tuple[int, int, str]]:
    """(first line, last line, qualified name) of every function in `source`."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise MarkerError(f"{path}:{exc.lineno}: cannot parse: {exc.msg}") from exc
    spans: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                spans.append((child.lineno, child.end_lineno or child.lineno, name))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return spans


def find_regions(source: str, path: Path) -> list[Region]:
    """The solution regions of `source`; MarkerError (file:line) on unbalanced or nested markers."""
    regions: list[Region] = []
    open_at: int | None = None
    indent = ""
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if open_at is not None:
                raise MarkerError(f"{path}:{number}: nested {BEGIN!r} (region opened at line {open_at})")
            open_at, indent = number, line[: len(line) - len(line.lstrip())]
        elif stripped.startswith(END):
            if open_at is None:
                raise MarkerError(f"{path}:{number}: {END!r} without a matching {BEGIN!r}")
            regions.append(Region(open_at, number, indent, ""))
            open_at = None
    if open_at is not None:
        raise MarkerError(f"{path}:{open_at}: {BEGIN!r} is never closed by {END!r}")
    if not regions:
        return regions
    spans = _enclosing_functions(source, path)
    named = []
    for region in regions:
        inside = [s for s in spans if s[0] < region.begin <= s[1]]  # the END comment lies past the AST end
        if not inside:
            raise MarkerError(f"{path}:{region.begin}: a solution region must sit inside a function body")
        innermost = max(inside, key=lambda s: s[0])
        named.append(Region(region.begin, region.end, region.indent, innermost[2]))
    return named


def strip_solutions(source: str, path: Path) -> tuple[str, list[Region]]:
    """`source` with every region replaced by a hint and `raise NotImplementedError("<function>: ...")`."""
    regions = find_regions(source, path)
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    cursor = 0
    for region in regions:
        out.extend(lines[cursor : region.begin - 1])
        out.append(f"{region.indent}{HINT}\n")
        out.append(f'{region.indent}raise NotImplementedError("{region.function}: not implemented yet")\n')
        cursor = region.end
    out.extend(lines[cursor:])
    return "".join(out), regions


def solution_lines(source: str, path: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) of every line inside a region (markers excluded)."""
    lines = source.splitlines()
    return [
        (number, lines[number - 1].strip())
        for region in find_regions(source, path)
        for number in range(region.begin + 1, region.end)
    ]
