"""The forbidden shortcuts in the notebook text: a `Not allowed` list in the cell that introduces an exercise.

A markdown cell introduces the exercises it names in backticks between `**Exercise` and the first backticked
`exercise_code/` path (`**Exercise 1.** Implement `nearest_unpool2d` ... in `exercise_code/layers/...``),
or up to the next `**Exercise` when it names no path. An exercise with rules that no cell of its notebook
introduces by name (the `MaxUnpool2d` module, built on `max_unpool2d`) is listed with the exercise that has
the very same rules. The rules are the course's (`autograder/hidden/forbidden.toml`, the file the grader
reads), found beside the notebooks' folder; the build adds the lines, the sources stay as written.
"""

from __future__ import annotations

import re
from pathlib import Path

from nbformat import NotebookNode

from autograder.errors import MarkerError
from exercise_code.forbidden import COURSE_RULES, Rules, display_name, exercise_name, load_rules

EXERCISE = "**Exercise"
PATH = "`exercise_code/"
HEADING = "**Not allowed** (forbidden shortcuts: the graded tests of a function that calls one score 0):"
_NAME = re.compile(r"`([A-Za-z_]\w*)(?:\([^`]*\))?`")
"""A backticked name, maybe with its arguments: `pca(x, k)` -> pca."""


def course_rules(notebooks_dir: Path) -> Rules:
    """The rules of the course whose notebooks are in `notebooks_dir` ({} when it has no rules file)."""
    path = Path(notebooks_dir).resolve().parent / COURSE_RULES
    if not path.is_file():
        return {}
    try:
        return load_rules(path)
    except ValueError as exc:
        raise MarkerError(str(exc)) from None


def introduced(text: str) -> list[str]:
    """The names a markdown text introduces as exercises, in order (see the module docstring)."""
    names: list[str] = []
    for part in text.split(EXERCISE)[1:]:
        names += _NAME.findall(part.split(PATH, 1)[0])
    return list(dict.fromkeys(names))


def placements(texts: dict[int, str], rules: Rules) -> dict[int, list[str]]:
    """Cell index -> the exercises (rule keys) whose forbidden shortcuts that cell lists, for the markdown
    `texts` of one notebook. Only exercises whose rule forbids something are placed."""
    by_name: dict[str, list[str]] = {}
    for key, names in rules.items():
        if names:
            by_name.setdefault(exercise_name(key), []).append(key)
    placed: dict[int, list[str]] = {}
    for index, text in texts.items():
        keys = [key for name in introduced(text) for key in by_name.get(name, [])]
        if keys:
            placed[index] = keys
    named = {key for keys in placed.values() for key in keys}
    for key, names in rules.items():
        if names and key not in named:
            twin = next((i for i, keys in placed.items() if any(rules[k] == names for k in keys)), None)
            if twin is not None:
                placed[twin].append(key)
    return placed


def lines_for(keys: list[str], rules: Rules) -> list[str]:
    """The markdown lines of one cell: the heading, then one item per distinct rule with its exercises."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for key in keys:
        groups.setdefault(rules[key], []).append(f"`{exercise_name(key)}`")
    items = [
        f"- in {', '.join(names)}: {', '.join(f'`{display_name(n)}`' for n in forbidden)}"
        for forbidden, names in groups.items()
    ]
    return [HEADING, "", *items]


def add_forbidden_lines(nb: NotebookNode, rules: Rules) -> list[str]:
    """Append the `Not allowed` list to each markdown cell of `nb` that introduces an exercise with rules
    (cells with an nbgrader role are left alone); returns the exercises listed."""
    texts = {
        index: cell.source
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "markdown" and "nbgrader" not in cell.metadata
    }
    placed = placements(texts, rules)
    for index, keys in placed.items():
        cell = nb.cells[index]
        cell.source = cell.source.rstrip("\n") + "\n\n" + "\n".join(lines_for(keys, rules))
    return [key for keys in placed.values() for key in keys]
