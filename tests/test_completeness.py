"""Every exercise is complete: a public check, hidden tests with rubric points, a forbidden-shortcut entry
(an empty list is a decision too), at least one known bug in the corpus, and a notebook cell that uses it.

An exercise is a top-level function or class of `exercise_code` with a fenced solution. CONTRIBUTING.md
says, in order, what to add for a new one; this test names what is missing.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from autograder.grading.rubric import load_rubric
from autograder.verify import load_corpus

REPO = Path(__file__).resolve().parent.parent
HIDDEN = REPO / "autograder" / "hidden"


def exercises() -> dict[str, str]:
    """`name` -> dotted module path of every fenced exercise."""
    found = {}
    for path in sorted((REPO / "exercise_code").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "# BEGIN SOLUTION" not in text:
            continue
        lines = text.splitlines()
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                if "# BEGIN SOLUTION" in "\n".join(lines[node.lineno - 1 : node.end_lineno]):
                    found[node.name] = module
    return found


EXERCISES = exercises()


def _mentions(paths: list[Path], name: str) -> list[Path]:
    word = re.compile(rf"\b{re.escape(name)}\b")
    return [p for p in paths if word.search(p.read_text(encoding="utf-8"))]


def test_the_exercises_are_found():
    assert len(EXERCISES) >= 20 and {"conv_transpose2d", "FCN", "Classifier"} <= EXERCISES.keys()


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_exercise_has_a_public_check(name):
    checks = [p for p in (REPO / "exercise_code" / "checks").glob("*.py") if p.name not in ("runner.py",)]
    assert _mentions(checks, name), f"{name}: no public check in exercise_code/checks/ uses it"


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_exercise_has_hidden_tests_with_points(name):
    suites = _mentions(sorted(HIDDEN.glob("test_*.py")), name)
    assert suites, f"{name}: no hidden suite in autograder/hidden/ tests it"
    rubric = load_rubric(HIDDEN / "rubric.toml")
    files = {key.split("::")[0] for key, entry in rubric.items() if entry.points > 0}
    assert files & {p.name for p in suites}, f"{name}: its hidden suites have no points in rubric.toml"


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_exercise_has_a_forbidden_entry(name):
    rules = tomllib.loads((HIDDEN / "forbidden.toml").read_text(encoding="utf-8"))
    keys = {key.rsplit(".", 1)[-1] for key in rules}
    assert name in keys, f"{name}: no entry in autograder/hidden/forbidden.toml ([] if nothing is forbidden)"


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_exercise_has_a_known_bug(name):
    bugs = [e for e in load_corpus(REPO / "tests" / "corpus") if e.kind == "bug"]
    assert any(e.target.split(".")[-1] == name or f".{name}." in e.target for e in bugs), (
        f"{name}: no wrong solution in tests/corpus/ targets it"
    )


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_exercise_has_a_notebook_cell(name):
    assert _mentions(sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py")), name), (
        f"{name}: no notebook in notebooks/ uses it"
    )
