"""Issue 18: a test cell failed with `NameError: name 'seed_everything' is not defined` in the sandbox
while the same notebook ran cleanly outside.

Cause: the read-only setup cell (it imports torch and the student's package into a fresh kernel: slow on
a loaded machine or a cold disk cache) ran under the same per-cell limit as every student cell (20 s in
the demo), was interrupted halfway through its imports, and every later test found the names it had not
reached undefined. The setup cell now has its own, larger limit; and a NameError whose defining cell did
not finish (or runs later, or is gone) says so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from autograder.grading.notebooks import (
    NotebookGradingSettings,
    assemble,
    bwrap_available,
    find_submitted,
    grade_notebook,
    load_source,
)
from autograder.grading.notebooks.execute import CellRecord, NotebookRun
from autograder.grading.notebooks.source import released_form
from autograder.grading.notebooks.undefined import defines, explain, with_explanation

SOURCE = """\
# %% [markdown]
# # Seeds

# %% tags=["readonly:setup"]
import math

from helper import seed_everything

# %% tags=["solution:add"]
def add(a, b):
    ### BEGIN SOLUTION
    return a + b
    ### END SOLUTION


# %% tags=["tests:test_add:2"]
seed_everything(0)
assert add(1, 2) == 3

# %%
def double(x):
    return 2 * x


# %% tags=["tests:test_double:1"]
assert double(add(1, 1)) == 4
"""
HELPER = "def seed_everything(seed):\n    return seed\n"
SLOW_HELPER = (
    "import time\n\n"
    "_start = time.process_time()\n"
    "while time.process_time() - _start < 3:  # torch's first import on a loaded machine, say\n"
    "    pass\n\n" + HELPER
)
BROKEN_HELPER = "def seed_everything(seed)\n    return seed\n"
ADD = "def add(a, b):\n    return a + b\n"
LIMITS = NotebookGradingSettings(cell_timeout_s=2, budget_s=90, interrupt_grace_s=5)
"""Student cells may use 2 s of CPU each: the setup cell's imports take 3 s."""
needs_bwrap = pytest.mark.skipif(not bwrap_available(), reason="bubblewrap is not installed")


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("source")
    (folder / "01_seeds.py").write_text(SOURCE, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def source(source_dir: Path):
    return load_source(source_dir / "01_seeds.py")


def student(source_dir: Path, *, strip: bool = False) -> nbformat.NotebookNode:
    """The released notebook with the solution written, as the student hands it in."""
    from autograder.release.notebooks import read_source

    nb = released_form(read_source(source_dir / "01_seeds.py")[0])
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "add":
            cell.source = ADD
        if strip:
            cell.metadata = {}
        cell.pop("id", None)
    return nb


def index_of(nb: nbformat.NotebookNode, start: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.source.startswith(start))


def submit(tmp_path: Path, nb: nbformat.NotebookNode, helper: str = HELPER) -> Path:
    root = tmp_path / "submission"
    root.mkdir(exist_ok=True)
    (root / "helper.py").write_text(helper)
    (root / "01_seeds.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    return root


def grade(source, root: Path, settings: NotebookGradingSettings = LIMITS) -> dict[str, dict]:
    result = grade_notebook(
        source, find_submitted(root, source.name), submission_root=root, settings=settings
    )
    return {t["name"].split("/")[1]: t for t in result["tests"]}


# --- in the sandbox ---------------------------------------------------------------------------------


@needs_bwrap
def test_a_slow_setup_cell_is_not_cut_off_by_the_cell_limit(source, source_dir: Path, tmp_path: Path) -> None:
    """The bug: the setup cell was interrupted at the students' cell limit, every test a bare NameError."""
    tests = grade(source, submit(tmp_path, student(source_dir), SLOW_HELPER))
    assert [(t["status"], t["message"]) for t in tests.values()] == [("passed", "")] * 2


@needs_bwrap
@pytest.mark.parametrize(
    ("helper", "reason"),
    [
        (SLOW_HELPER, r"it hit its time limit after \d+ s and was interrupted"),  # CPU or wall-clock
        (BROKEN_HELPER, re.escape("it stopped with SyntaxError: expected ':' (helper.py, line 1)")),
    ],
    ids=["too-slow-even-for-setup", "broken-package"],
)
def test_a_setup_cell_that_did_not_finish_is_named(source, source_dir, tmp_path, helper, reason) -> None:
    """The genuine case (the student's package hangs or is broken): the test says which cell and why."""
    strict = NotebookGradingSettings(cell_timeout_s=2, readonly_timeout_s=2, budget_s=90, interrupt_grace_s=5)
    tests = grade(source, submit(tmp_path, student(source_dir), helper), strict)
    assert tests["test_add"]["status"] == "error"
    assert re.fullmatch(
        re.escape(
            "NameError: name 'seed_everything' is not defined, because cell 2 (the read-only cell 'setup'), "
            "which defines it, did not finish: "
        )
        + reason,
        tests["test_add"]["message"],
    ), tests["test_add"]["message"]
    assert tests["test_double"]["status"] == "passed", "tests that do not need the setup's names still pass"


@needs_bwrap
def test_fractional_cell_limits_run(source, source_dir: Path, tmp_path: Path) -> None:
    """nbclient's own `timeout` takes whole seconds only: 1.5 s (x3 = 4.5 s wall) used to stop the runner."""
    fractional = NotebookGradingSettings(cell_timeout_s=1.5, budget_s=90, interrupt_grace_s=5)
    tests = grade(source, submit(tmp_path, student(source_dir)), fractional)
    assert [t["status"] for t in tests.values()] == ["passed", "passed"]


# --- assembly and messages (no execution) -----------------------------------------------------------


@pytest.mark.parametrize("strip", [False, True], ids=["metadata", "no-metadata"])
@pytest.mark.parametrize("to", ["after-first-test", "end"])
def test_a_moved_setup_cell_still_runs_before_every_test(source, source_dir, strip: bool, to: str) -> None:
    nb = student(source_dir, strip=strip)
    setup = nb.cells.pop(index_of(nb, "import math"))
    nb.cells.insert(index_of(nb, "seed_everything(0)") + 1 if to != "end" else len(nb.cells), setup)
    cells = assemble(source, nb).cells
    runs = [c.origin.grade_id for c in cells if c.restored]
    assert runs[0] == "setup" and set(runs[1:]) == {"test_add", "test_double"}


def _run(cells, **failed: CellRecord) -> NotebookRun:
    """Every code cell ran fine except the ones named (by grade id or first characters) in `failed`."""
    run = NotebookRun()
    for i, cell in enumerate(cells):
        if cell.cell_type == "code" and cell.source.strip():
            key = cell.origin.grade_id if cell.origin and cell.origin.grade_id else cell.source[:6]
            run.cells[i] = failed.get(key, CellRecord("ok", 0.1, [], {"status": "ok"}))
    return run


NAME_ERROR = "NameError: name '{}' is not defined"


def test_name_error_explanations(source, source_dir: Path) -> None:
    cells = assemble(source, student(source_dir)).cells
    test_add = next(i for i, c in enumerate(cells) if c.origin and c.origin.grade_id == "test_add")
    test_double = next(i for i, c in enumerate(cells) if c.origin and c.origin.grade_id == "test_double")
    message = NAME_ERROR.format("seed_everything")

    timed_out = _run(
        cells, setup=CellRecord("timeout", 20.4, [], {"status": "error", "ename": "KeyboardInterrupt"})
    )
    assert explain(message, test_add, cells, timed_out, source) == (
        "cell 2 (the read-only cell 'setup'), which defines it, did not finish: "
        "it hit its time limit after 20 s and was interrupted"
    )
    error = {"status": "error", "ename": "ModuleNotFoundError", "evalue": "No module named 'helper'"}
    failed = _run(cells, setup=CellRecord("ok", 0.2, [], error))
    assert explain(message, test_add, cells, failed, source).endswith(
        "did not finish: it stopped with ModuleNotFoundError: No module named 'helper'"
    )
    assert explain(message, test_add, cells, _run(cells), source) is None, "defined, then deleted: bare"
    assert explain("AssertionError: nope", test_add, cells, timed_out, source) is None
    assert explain(NAME_ERROR.format("typo"), test_add, cells, timed_out, source) is None, (
        "no cell defines it"
    )

    moved = student(source_dir)
    moved.cells.append(moved.cells.pop(index_of(moved, "def double")))
    cells = assemble(source, moved).cells
    test_double = next(i for i, c in enumerate(cells) if c.origin and c.origin.grade_id == "test_double")
    assert explain(NAME_ERROR.format("double"), test_double, cells, _run(cells), source) == (
        f'cell {len(cells)} ("def double(x):"), which defines it, runs only after this test (moved below it?)'
    )
    deleted = student(source_dir)
    deleted.cells.pop(index_of(deleted, "def double"))
    cells = assemble(source, deleted).cells
    test_double = next(i for i, c in enumerate(cells) if c.origin and c.origin.grade_id == "test_double")
    assert explain(NAME_ERROR.format("double"), test_double, cells, _run(cells), source) == (
        "no cell of the notebook defines it; in the course's notebook its cell 5 does (deleted?)"
    )
    unwritten = student(source_dir)
    unwritten.cells[index_of(unwritten, ADD)].source = "# YOUR CODE HERE\nraise NotImplementedError()"
    cells = assemble(source, unwritten).cells
    assert explain(NAME_ERROR.format("add"), test_add, cells, _run(cells), source) == (
        "cell 3 (the solution cell 'add') should define it but does not (not written yet?)"
    )


def test_which_cells_define_a_name() -> None:
    assert defines("import torch\nfrom x.utils import pick_device, seed_everything as se\n", "se")
    assert defines("from torch import nn\n", "nn") and defines("import os.path\n", "os")
    assert defines("if FAST:\n    N = 1\nelse:\n    N = 2\n", "N") and defines("for k, v in d: pass", "v")
    assert defines("%matplotlib inline\nclass Net:\n    pass\n", "Net") and defines("from m import *", "z")
    assert not defines("def f():\n    hidden = 1\n", "hidden") and not defines("[q for q in r]", "q")
    assert not defines("seed_everything(0)\n", "seed_everything")
    assert defines("def broken(:\n    seed_everything = 1", "seed_everything"), "unparsable: any mention"
    assert with_explanation("NameError: name 'x' is not defined (note: stderr said: w)", "cell 2 did it") == (
        "NameError: name 'x' is not defined, because cell 2 did it (note: stderr said: w)"
    )
