"""Find the fenced solution regions of a Python source and replace each by a hint and a raise.

A region is `# BEGIN SOLUTION` ... `# END SOLUTION` (exact text, each on its own line) inside a
function body; it becomes a hint comment plus `raise NotImplementedError("<Class.function>: ...")`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import MarkerError

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
MARKER_WORDS = ("BEGIN SOLUTION", "END SOLUTION")
HINT = "# TODO: write your solution here (see the docstring above)"


@dataclass(frozen=True)
class Region:
    """A fenced region: marker lines `begin` and `end` (1-based), its indentation and enclosing function."""

    begin: int
    end: int
    indent: str
    function: str


@dataclass(frozen=True)
class _Span:
    start: int  # the `def` line
    end: int  # last line of the body, trailing comments indented deeper than the `def` included
    column: int
    name: str  # qualified: Class.method, outer.inner


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _lines(source: str, keepends: bool = False) -> list[str]:
    """Physical lines split at "\n" only, as the tokenizer counts them (unlike str.splitlines)."""
    parts = source.split("\n")
    if keepends:
        parts = [part + "\n" for part in parts[:-1]] + [parts[-1]]
    return parts[:-1] + ([parts[-1]] if parts[-1] else [])


def _is_code(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _function_spans(source: str, lines: list[str], path: Path) -> list[_Span]:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise MarkerError(f"{path}:{exc.lineno}: cannot parse: {exc.msg}") from exc
    spans: list[_Span] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                end = child.end_lineno or child.lineno
                # a comment-only tail (an empty region) indented deeper than the `def` still belongs to it
                while end < len(lines) and not _is_code(lines[end]):
                    if lines[end].strip() and len(_indent(lines[end])) <= child.col_offset:
                        break
                    end += 1
                spans.append(_Span(child.lineno, end, child.col_offset, f"{prefix}{child.name}"))
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return spans


def _marker_pairs(lines: list[str], path: Path) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = []
    open_at: int | None = None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if open_at is not None:
                raise MarkerError(f"{path}:{number}: nested {BEGIN!r} (region opened at line {open_at})")
            open_at = number
        elif stripped == END:
            if open_at is None:
                raise MarkerError(f"{path}:{number}: {END!r} without a matching {BEGIN!r}")
            pairs.append((open_at, number))
            open_at = None
        elif any(word in line for word in MARKER_WORDS):
            raise MarkerError(
                f"{path}:{number}: malformed marker {stripped!r}: write exactly {BEGIN!r} or {END!r} "
                "as a comment on its own line"
            )
    if open_at is not None:
        raise MarkerError(f"{path}:{open_at}: {BEGIN!r} is never closed by {END!r}")
    return pairs


def find_regions(source: str, path: Path) -> list[Region]:
    """The solution regions of `source`; MarkerError (file:line) on unbalanced, nested or stray markers."""
    lines = _lines(source)
    pairs = _marker_pairs(lines, path)
    if not pairs:
        return []
    spans = _function_spans(source, lines, path)
    regions = []
    for begin, end in pairs:
        indent = _indent(lines[begin - 1])
        inside = [s for s in spans if s.start < begin <= s.end and len(indent) > s.column]
        if not inside:
            raise MarkerError(f"{path}:{begin}: a solution region must sit inside a function body")
        span = max(inside, key=lambda s: s.start)
        code = [n for n in range(begin + 1, end) if _is_code(lines[n - 1])]
        if code and code[-1] > span.end:
            raise MarkerError(
                f"{path}:{begin}: the region opened in {span.name} runs past its end "
                f"(line {span.end}); close it with {END!r} inside the function"
            )
        regions.append(Region(begin, end, indent, span.name))
    return regions


def strip_solutions(source: str, path: Path) -> tuple[str, list[Region]]:
    """`source` with every region replaced by a hint and `raise NotImplementedError("<function>: ...")`.

    Raises MarkerError (file:line of the source) when the stripped file would not compile, e.g. a
    BEGIN marker indented less than the block it sits in.
    """
    regions = find_regions(source, path)
    if not regions:
        return source, regions
    lines = _lines(source, keepends=True)
    out: list[str] = []
    origin: list[int] = []  # source line number of every output line
    cursor = 0
    for region in regions:
        out.extend(lines[cursor : region.begin - 1])
        origin.extend(range(cursor + 1, region.begin))
        out.append(f"{region.indent}{HINT}\n")
        out.append(f'{region.indent}raise NotImplementedError("{region.function}: not implemented yet")\n')
        origin.extend([region.begin, region.begin])
        cursor = region.end
    out.extend(lines[cursor:])
    origin.extend(range(cursor + 1, len(lines) + 1))
    text = "".join(out)
    try:
        compile(text, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        line = origin[min(max((exc.lineno or 1) - 1, 0), len(origin) - 1)]
        raise MarkerError(
            f"{path}:{line}: the stripped file does not compile ({exc.msg}); indent each "
            f"{BEGIN!r} like the first statement it replaces"
        ) from exc
    return text, regions


def solution_lines(source: str, path: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) of every line inside a region (markers excluded)."""
    lines = _lines(source)
    return [
        (number, lines[number - 1].strip())
        for region in find_regions(source, path)
        for number in range(region.begin + 1, region.end)
    ]
