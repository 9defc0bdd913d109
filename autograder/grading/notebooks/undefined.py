"""Why a test cell failed with `NameError`: the cell that defines the name did not finish (it timed out
or raised: its later lines never ran), runs only after the test (moved below it), or is gone.

A bare `NameError: name 'seed_everything' is not defined` in a test says nothing about its cause, which
is usually in another cell: the setup cell stopped halfway through its imports. This module finds that
cell from the assembled notebook and the run's records; the text is parsed (`ast`), never executed.
"""

from __future__ import annotations

import ast
import functools
import re

from autograder.release.notebooks.build import Role

from .execute import CellRecord, NotebookRun
from .match import GradingCell
from .source import SourceNotebook

_NOT_DEFINED = re.compile(r"^NameError: name '([A-Za-z_][A-Za-z0-9_]*)' is not defined")
_MAGIC = re.compile(r"^(\s*)[%!]")
MAX_PARSED = 100_000
"""Longer cells are searched for the name as a word instead of parsed."""
_KINDS = {
    Role.READONLY: "read-only cell",
    Role.SOLUTION: "solution cell",
    Role.TESTS: "test cell",
    Role.ANSWER: "answer cell",
}
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _bound(tree: ast.AST) -> set[str]:
    """Names a module binds in its own namespace, at any depth outside functions, classes and
    comprehensions; `*` for a star import (it may bind any name)."""
    found: set[str] = set()
    stack = list(ast.iter_child_nodes(tree))
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPES):
            if not isinstance(node, ast.Lambda):
                found.add(node.name)
            continue
        if isinstance(node, _COMPREHENSIONS):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.update(a.asname or a.name.split(".")[0] for a in node.names)
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            found.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            found.add(node.rest)
        stack.extend(ast.iter_child_nodes(node))
    return found


@functools.lru_cache(maxsize=4096)
def _names(text: str) -> frozenset[str] | None:
    """`_bound` of a cell's text, IPython lines (`%magic`, `!shell`) skipped; None: not parsed."""
    if len(text) > MAX_PARSED:
        return None
    python = "\n".join(_MAGIC.sub(r"\1pass  #", line) for line in text.splitlines())
    try:
        return frozenset(_bound(ast.parse(python)))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def defines(text: str, name: str) -> bool:
    """Whether the code cell `text` binds `name` (import, assignment, def, class, loop or `with` target).

    Text Python cannot parse counts when it mentions the name as a word (it would have bound it had it
    run)."""
    found = _names(text)
    if found is not None:
        return name in found or "*" in found
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text) is not None


def _label(cell: GradingCell, index: int) -> str:
    origin = cell.origin
    if origin is not None and origin.grade_id and origin.role in _KINDS:
        return f"cell {index + 1} (the {_KINDS[origin.role]} {origin.grade_id!r})"
    first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
    return f'cell {index + 1} ("{first if len(first) <= 40 else first[:37] + "..."}")'


def _short(text: str, limit: int = 150) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _unfinished(record: CellRecord | None) -> str | None:
    """Why a cell did not run to its end (None: it did)."""
    if record is None:
        return "it did not run"
    if record.status == "timeout":
        return f"it hit its time limit after {record.seconds:.0f} s and was interrupted"
    if record.status == "dead":
        return "the kernel died in it"
    error = next((o for o in record.outputs if o["output_type"] == "error"), None)
    if record.reply.get("status") == "error" or error is not None:
        ename = record.reply.get("ename") or (error or {}).get("ename") or "an error"
        evalue = record.reply.get("evalue") or (error or {}).get("evalue") or ""
        if ename == "KeyboardInterrupt":
            return "it was interrupted"
        return f"it stopped with {ename}: {_short(evalue)}" if evalue else f"it stopped with {ename}"
    if record.reply.get("status") == "aborted":
        return "the kernel aborted it"
    return None


def explain(
    message: str, index: int, cells: list[GradingCell], run: NotebookRun, source: SourceNotebook
) -> str | None:
    """Why the test cell at assembly index `index`, which failed with `message`, found a name undefined;
    None when `message` is no NameError or no cell explains it (a name used before any cell defines it,
    or defined by a cell that finished: the student's own mistake, which the bare error says well)."""
    found = _NOT_DEFINED.match(message)
    if found is None:
        return None
    name = found.group(1)
    code = [i for i, c in enumerate(cells) if c.cell_type == "code" and c.source.strip() and i != index]
    earlier = [i for i in code if i < index and defines(cells[i].source, name)]
    if earlier:
        reasons = [(i, _unfinished(run.cells.get(i))) for i in earlier]
        if any(reason is None for _, reason in reasons):
            return None  # it was defined; a later cell deleted or shadowed it
        i, reason = reasons[0]
        return f"{_label(cells[i], i)}, which defines it, did not finish: {reason}"
    later = [i for i in code if i > index and defines(cells[i].source, name)]
    if later:
        where = _label(cells[later[0]], later[0])
        return f"{where}, which defines it, runs only after this test (moved below it?)"
    test = cells[index].origin
    upto = test.index if test is not None else len(source.cells)
    for cell in source.cells[:upto]:
        if cell.cell_type != "code" or not defines(cell.source, name):
            continue
        here = [i for i in code if i < index and cells[i].origin is cell]
        if here:  # the student's copy of that cell is there, without the definition
            return f"{_label(cells[here[0]], here[0])} should define it but does not (not written yet?)"
        kind = _KINDS.get(cell.role) if cell.grade_id else None
        what = f"the {kind} {cell.grade_id!r}" if kind else f"its cell {cell.index + 1}"
        return f"no cell of the notebook defines it; in the course's notebook {what} does (deleted?)"
    return None


def with_explanation(message: str, explanation: str | None) -> str:
    """`message` with `explanation` after the error's own text (before any note in parentheses)."""
    if not explanation:
        return message
    head, sep, tail = message.partition(" is not defined")
    return f"{head}{sep}, because {explanation}{tail}" if sep else f"{message}, because {explanation}"
