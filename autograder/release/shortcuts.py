"""Release step, after the package: tell students the forbidden shortcuts, from the course's one rules file.

The rules (`autograder/hidden/forbidden.toml`, the file the grader reads) are copied into the kit as
`exercise_code/forbidden/rules.toml`, where the public checks and `submit` read them, and every exercise
whose rule forbids something gets a `Not allowed here: F.interpolate, nn.Upsample, ...` paragraph at the
end of its released docstring. A kit without the rules file releases without either.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import ReleaseError
from exercise_code.forbidden import (
    COURSE_RULES,
    RELEASED_RULES,
    Rules,
    find_definition,
    load_rules,
    not_allowed,
)

NOT_ALLOWED = "Not allowed here:"
"""How the docstring paragraph starts."""
WIDTH = 110
"""Longest docstring line written (the kit's line length)."""
HEADER = (
    "# The forbidden shortcuts of the exercises, copied by `autograder release` from the file the grader\n"
    "# reads. Each exercise's docstring lists its own; `python -m exercise_code.checks` and\n"
    "# `python -m exercise_code.submit` flag a call to one.\n#\n"
)


@dataclass
class ShortcutStep:
    """What the step wrote: the rules file (if the course has one) and the docstrings it extended."""

    files: list[Path] = field(default_factory=list)
    docstrings: dict[str, Path] = field(default_factory=dict)
    """Exercise (dotted name) -> the released file whose docstring lists its forbidden shortcuts."""


def course_rules(source: Path) -> Rules | None:
    """The rules of the course at `source`, or None when it has no rules file; ReleaseError if unreadable."""
    path = Path(source) / COURSE_RULES
    if not path.is_file():
        return None
    try:
        return load_rules(path)
    except ValueError as exc:
        raise ReleaseError(str(exc)) from None


def paragraph(names: tuple[str, ...], indent: str) -> list[str]:
    """`Not allowed here: F.interpolate, ...` wrapped at `WIDTH`, each line starting with `indent`."""
    text = f"{NOT_ALLOWED} {not_allowed(names)}."
    return textwrap.wrap(text, WIDTH - len(indent), break_on_hyphens=False, break_long_words=False)


def with_paragraph(text: str, node: ast.FunctionDef | ast.ClassDef, names: tuple[str, ...]) -> str:
    """`text` (a module's source) with the paragraph added at the end of `node`'s docstring."""
    if ast.get_docstring(node, clean=False) is None:
        raise ReleaseError(f"{node.name} has no docstring to list its forbidden shortcuts in")
    first = node.body[0]
    lines = text.split("\n")
    end = (first.end_lineno or first.lineno) - 1  # the line that closes the docstring
    closing = lines[end].rstrip()
    quote = closing[-3:]
    if quote not in ('"""', "'''"):
        raise ReleaseError(f"{node.name}: its docstring must end with triple quotes, got {closing!r}")
    indent = " " * first.col_offset
    body = closing[:-3]
    kept = [body] if body.strip() else []
    if kept or lines[end - 1].strip():
        kept.append("")  # a blank line before the paragraph
    added = [indent + line for line in paragraph(names, indent)]
    return "\n".join([*lines[:end], *kept, *added, indent + quote, *lines[end + 1 :]])


def tell_forbidden(source: Path, staging: Path) -> ShortcutStep:
    """Copy the course's rules into the release at `staging` and list each exercise's forbidden shortcuts
    in its released docstring. ReleaseError when a rule names an exercise the release does not define or
    whose docstring cannot take the paragraph."""
    rules = course_rules(source)
    step = ShortcutStep()
    if rules is None:
        return step
    target = staging / RELEASED_RULES
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(HEADER + (Path(source) / COURSE_RULES).read_text(encoding="utf-8"), encoding="utf-8")
    step.files.append(Path(RELEASED_RULES))
    for exercise, names in rules.items():
        if not names:
            continue
        located = find_definition(staging, exercise)
        if located is None:
            raise ReleaseError(f"{COURSE_RULES} has rules for {exercise}, which the release does not define")
        path, node = located
        text = with_paragraph(path.read_text(encoding="utf-8"), node, names)
        try:
            ast.parse(text)
        except SyntaxError as exc:  # pragma: no cover - a docstring form with_paragraph does not expect
            raise ReleaseError(f"{path}: the docstring of {exercise} no longer parses: {exc}") from None
        path.write_text(text, encoding="utf-8")
        step.docstrings[exercise] = path.relative_to(staging)
    return step
