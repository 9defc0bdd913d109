"""Notebook grading: synthetic nbgrader notebooks written here, student code run in the sandbox.

The source has a read-only setup cell importing a helper module from the submission, two solution
cells, three test cells (one with hidden tests) and a manually graded answer. Students' copies are
made from nbgrader's own released form, then edited as students and their editors do.
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from pathlib import Path

import nbformat
import pytest

from autograder.grading.notebooks import (
    NotebookGradingSettings,
    UnreadableNotebook,
    assemble,
    bwrap_available,
    find_submitted,
    grade_notebook,
    grade_notebooks,
    load_source,
    parse_results,
    read_submitted,
)
from autograder.grading.notebooks.execute import CellRecord
from autograder.grading.notebooks.score import score_record
from autograder.grading.notebooks.source import released_form

SOURCE = """\
# %% [markdown]
# # A synthetic notebook

# %% tags=["readonly:setup"]
import sys
import warnings

from helper import OFFSET

# %% tags=["solution:add"]
def add(a, b):
    ### BEGIN SOLUTION
    return a + b
    ### END SOLUTION


# %% tags=["tests:test_add:2"]
assert add(1, 2) == 3, "add(1, 2) should be 3"
### BEGIN HIDDEN TESTS
assert add(-1, 1) == 0, "hidden: add(-1, 1) should be 0"
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2: scaling

# %% tags=["solution:scale"]
def scale(x):
    ### BEGIN SOLUTION
    return 2 * x + OFFSET
    ### END SOLUTION


# %% tags=["tests:test_scale:3"]
assert scale(2) == 4

# %% [markdown]
# ## Part 3

# %% tags=["tests:test_last:1"]
assert add(scale(1), 0) == 2

# %% [markdown] tags=["answer:why:2"]
# ### BEGIN SOLUTION
# Because doubling is linear.
# ### END SOLUTION
"""
ADD = "def add(a, b):\n    return a + b\n"
SCALE = "def scale(x):\n    return 2 * x + OFFSET\n"
FAST = NotebookGradingSettings(cell_timeout_s=4, budget_s=60, interrupt_grace_s=5)
needs_bwrap = pytest.mark.skipif(not bwrap_available(), reason="bubblewrap is not installed")


def write_sources(folder: Path) -> Path:
    """Two synthetic source notebooks in `folder`."""
    (folder / "01_synthetic.py").write_text(SOURCE, encoding="utf-8")
    (folder / "02_second.py").write_text(SOURCE.replace("A synthetic", "Another"), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sources(tmp_path_factory.mktemp("source"))


@pytest.fixture(scope="module")
def source(source_dir: Path):
    return load_source(source_dir / "01_synthetic.py")


def student(
    source_dir: Path,
    *,
    add: str = ADD,
    scale: str = SCALE,
    answer: str = "It is linear.",
    strip: bool = False,
    drop: str | None = None,
    replace: dict[str, str] | None = None,
) -> nbformat.NotebookNode:
    """A student's notebook: nbgrader's released form with solutions filled in and edits applied."""
    from autograder.release.notebooks import read_source

    nb = released_form(read_source(source_dir / "01_synthetic.py")[0])
    cells = []
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        texts = {"add": add, "scale": scale, "why": answer, **(replace or {})}
        if grade_id in texts:
            cell.source = texts[grade_id]
        if grade_id == drop:
            continue
        if strip:
            cell.metadata = {}
        cell.pop("id", None)
        cells.append(cell)
    nb.cells = cells
    return nb


def submit(tmp_path: Path, nb: nbformat.NotebookNode, name: str = "01_synthetic.ipynb") -> Path:
    root = tmp_path / "submission"
    root.mkdir(exist_ok=True)
    (root / "helper.py").write_text("OFFSET = 0\n")
    (root / name).write_text(json.dumps(nb), encoding="utf-8")  # as an editor writes it: no validation
    return root


def grade(source, root: Path, settings: NotebookGradingSettings = FAST) -> dict:
    return grade_notebook(source, find_submitted(root, source.name), submission_root=root, settings=settings)


def by_name(result: dict) -> dict[str, dict]:
    return {t["name"].split("/")[1]: t for t in result["tests"]}


# --- matching and restoring (no execution) --------------------------------------------------------


def test_source_roles_and_released_keys(source) -> None:
    assert [t.grade_id for t in source.tests] == ["test_add", "test_scale", "test_last"]
    assert [t.points for t in source.tests] == [2.0, 3.0, 1.0]
    assert [a.grade_id for a in source.answers] == ["why"]
    test_add = source.by_grade_id()["test_add"]
    assert "BEGIN HIDDEN TESTS" in test_add.source and len(test_add.keys) == 2


def test_assembly_restores_hidden_tests_and_finds_the_answer(source, source_dir: Path) -> None:
    assembly = assemble(source, student(source_dir))
    texts = "\n".join(c.source for c in assembly.cells)
    assert "hidden: add(-1, 1)" in texts
    assert not assembly.tampering and not assembly.notes
    assert assembly.answers == {"why": "It is linear."}


def test_stripped_metadata_is_matched_by_content(source, source_dir: Path) -> None:
    assembly = assemble(source, student(source_dir, strip=True))
    assert not assembly.tampering
    assert "lost their nbgrader metadata" in assembly.notes[0]
    restored = [c.origin.grade_id for c in assembly.cells if c.restored]
    assert restored == ["setup", "test_add", "test_scale", "test_last"]
    assert assembly.answers == {"why": "It is linear."}, "found by its position between matched cells"


def test_deleted_test_cell_is_restored_before_the_next_matched_cell(source, source_dir: Path) -> None:
    assembly = assemble(source, student(source_dir, drop="test_add"))
    assert assembly.tampering == [
        "test cell 'test_add' was deleted, or changed and its metadata lost; restored from the source"
    ]
    order = [(c.origin and c.origin.grade_id) or c.source[:12] for c in assembly.cells]
    assert order.index("add") < order.index("test_add") < order.index("## Part 2: s")


@pytest.mark.parametrize("strip", [False, True])
def test_modified_test_cell_is_restored_and_reported(source, source_dir: Path, strip: bool) -> None:
    assembly = assemble(source, student(source_dir, strip=strip, replace={"test_scale": "assert True"}))
    assert len(assembly.tampering) == 1 and "'test_scale'" in assembly.tampering[0]
    assert "changed" in assembly.tampering[0]
    restored = [c for c in assembly.cells if c.origin and c.origin.grade_id == "test_scale"]
    assert len(restored) == 1 and restored[0].source == "assert scale(2) == 4"


def test_sources_parsed_once_read_back_the_same(source_dir: Path, tmp_path: Path) -> None:
    """A batch parses the source notebooks once (sources.json) for all its children: what they read back
    is what parsing gives."""
    from autograder.grading.notebooks.source import read_sources, write_sources

    paths = sorted(source_dir.glob("*.py"))
    parsed = read_sources(write_sources(paths, tmp_path / "cache"))
    assert parsed == [load_source(p) for p in paths] and len(parsed) == 2
    assert {c.role for c in parsed[0].cells} > {None} and parsed[0].tests[0].keys


def test_unreadable_notebooks_are_refused_with_a_reason() -> None:
    with pytest.raises(UnreadableNotebook, match="not a readable notebook"):
        read_submitted(b"PK\x03\x04 garbage")
    with pytest.raises(UnreadableNotebook, match="not a readable notebook"):
        read_submitted(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": 3}).encode())


def test_find_submitted_prefers_the_exact_name(tmp_path: Path) -> None:
    (tmp_path / "nb").mkdir()
    (tmp_path / ".ipynb_checkpoints").mkdir()
    for name in ("nb/01_synthetic.ipynb", ".ipynb_checkpoints/01_synthetic.ipynb", "02_other.ipynb"):
        (tmp_path / name).write_text("{}")
    assert find_submitted(tmp_path, "01_synthetic") == tmp_path / "nb" / "01_synthetic.ipynb"
    (tmp_path / "02_other.ipynb").rename(tmp_path / "02_other (1).ipynb")
    assert find_submitted(tmp_path, "02_other") == tmp_path / "02_other (1).ipynb"
    assert find_submitted(tmp_path, "03_missing") is None


def test_forged_or_malformed_records_are_dropped() -> None:
    planted = [(9, 0), (9, 2), (3, 1)]
    lines = [
        b"not json",
        json.dumps({"event": "cell", "index": 3, "status": "ok", "outputs": []}).encode(),
        json.dumps({"event": "cell", "index": 3, "status": "ok", "outputs": [{"output_type": "x"}]}).encode(),
        json.dumps({"event": "cell", "index": 1, "status": "ok", "outputs": []}).encode(),  # out of order
        json.dumps({"event": "cell", "index": 9, "status": "passed", "outputs": []}).encode(),
        json.dumps({"event": "cell", "index": 7, "status": "ok", "outputs": []}).encode(),  # not a code cell
        json.dumps([1, 2]).encode(),
        *(json.dumps({"event": "check", "at": at, "k": k, "status": "ok"}).encode() for at, k in planted),
        json.dumps({"event": "cell", "index": 9, "status": "ok", "outputs": []}).encode(),
    ]
    slots = frozenset({(3, 1), (9, 0)})  # (9, 2) is not planted; (3, 1) comes after its cell 3 ran
    cells, events, checks = parse_results(b"\n".join(lines), code_cells={1, 3, 9}, check_slots=slots)
    assert list(cells) == [3, 9] and cells[3].outputs == []
    assert list(checks) == [(9, 0)], "a check runs before its cell, each once, in order"
    assert events == []


def test_scoring_rule(source) -> None:
    cell = source.by_grade_id()["test_scale"]

    def score(*outputs: dict, status: str = "ok"):
        return score_record(CellRecord(status, 0.1, list(outputs)), cell, timeout_s=4, limit=300)

    warn = {"output_type": "stream", "name": "stderr", "text": "UserWarning: careful\n"}
    assert score(warn).status == "passed" and "careful" in score(warn).message
    err = {"output_type": "error", "ename": "AssertionError", "evalue": "", "traceback": ["a", "b"]}
    assert (score(err).status, score(err).points) == ("failed", 0.0)
    todo = {"output_type": "error", "ename": "NotImplementedError", "evalue": "", "traceback": []}
    assert score(todo).message == "not implemented yet"
    partial = {"output_type": "execute_result", "data": {"text/plain": "1.5"}}
    assert (score(partial).points, score(partial).status) == (1.5, "failed")
    too_much = {"output_type": "execute_result", "data": {"text/plain": "99"}}
    assert score(too_much).points == 3.0
    assert score(status="timeout").status == "timeout"
    assert score(status="dead").status == "crashed"


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="cell_timeout_s must be positive"):
        NotebookGradingSettings(cell_timeout_s=0)
    with pytest.raises(ValueError, match="memory_mb must be at least 1024"):
        NotebookGradingSettings(memory_mb=256)


# --- execution in the sandbox -----------------------------------------------------------------------


@needs_bwrap
def test_reference_notebook_earns_every_point(source, source_dir: Path, tmp_path: Path) -> None:
    from autograder.release.notebooks import read_source

    root = submit(tmp_path, read_source(source_dir / "01_synthetic.py")[0])
    result = grade(source, root)
    assert result["isolation"].startswith("bubblewrap")
    earned = [(t["status"], t["points"]) for t in result["tests"]]
    assert earned == [("passed", 2.0), ("passed", 3.0), ("passed", 1.0)]
    assert result["notes"] == [], "every planted check answered right: not flagged"
    assert result["tampering"] == [] and result["manual"][0]["max_points"] == 2.0
    assert all(t["part"] == "notebook:01_synthetic" for t in result["tests"])


@needs_bwrap
def test_wrong_answer_fails_its_cell_only_and_a_warning_does_not(source, source_dir, tmp_path) -> None:
    scale = "def scale(x):\n    warnings.warn('slow path')\n    print('dbg', file=sys.stderr)\n"
    scale += "    return 2 * x\n"
    root = submit(tmp_path, student(source_dir, add="def add(a, b):\n    return a - b\n", scale=scale))
    tests = by_name(grade(source, root))
    assert tests["test_add"]["status"] == "failed" and tests["test_add"]["points"] == 0
    assert "add(1, 2) should be 3" in tests["test_add"]["message"]
    assert tests["test_scale"]["status"] == "passed" and tests["test_scale"]["points"] == 3.0
    assert "slow path" in tests["test_scale"]["message"], "stderr is quoted as a note"


DRAWS = """\
import os

from IPython.display import display


class Picture:
    def __repr__(self):
        open("described.txt", "w").write("x")
        return "Picture"

    def _repr_png_(self):
        open("drawn.txt", "w").write("x")
        return b"not a png"


display(Picture())


def add(a, b):
    drawn, described = os.path.exists("drawn.txt"), os.path.exists("described.txt")
    if drawn or not described:
        raise RuntimeError(f"drawn: {drawn}, described: {described}")
    return a + b
"""


@needs_bwrap
@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
def test_the_kernel_formats_only_the_text_it_keeps(source, source_dir, tmp_path, warm: bool) -> None:
    """Only text/plain of a displayed object is recorded, so only that is computed: a figure is never
    drawn to a PNG that grading throws away. The check fails where the PNG formatter still runs (seen by
    removing the kernelspec's `--DisplayFormatter.active_types`: `drawn: True`)."""
    settings = NotebookGradingSettings(cell_timeout_s=4, budget_s=60, interrupt_grace_s=5, warm_kernels=warm)
    tests = by_name(grade(source, submit(tmp_path, student(source_dir, add=DRAWS)), settings))
    assert tests["test_add"]["status"] == "passed", tests["test_add"]["message"]


@needs_bwrap
def test_hidden_tests_and_silenced_tracebacks(source, source_dir: Path, tmp_path: Path) -> None:
    add = "def add(a, b):\n    return 3 if (a, b) == (1, 2) else 7\n"
    scale = "get_ipython().showtraceback = lambda *args, **kwargs: None\ndef scale(x):\n    return x\n"
    result = grade(source, submit(tmp_path, student(source_dir, add=add, scale=scale)))
    tests = by_name(result)
    assert tests["test_add"]["message"].startswith("AssertionError: hidden"), "the hidden test ran"
    assert (tests["test_scale"]["status"], tests["test_scale"]["points"]) == ("failed", 0.0)
    assert "showed no traceback" in tests["test_scale"]["message"]
    flag, hint = result["notes"]
    assert flag.startswith("flagged for review: the kernel reported a planted failing assert after cell 4")
    assert hint == "hint for a reviewer: student code mentions get_ipython, showtraceback"


@needs_bwrap
def test_stripped_metadata_still_scores(source, source_dir: Path, tmp_path: Path) -> None:
    result = grade(source, submit(tmp_path, student(source_dir, strip=True)))
    assert [t["status"] for t in result["tests"]] == ["passed"] * 3
    assert result["manual"][0]["answer"] == "It is linear."


@needs_bwrap
@pytest.mark.parametrize("edit", [{"drop": "test_scale"}, {"replace": {"test_scale": "assert True"}}])
def test_tampered_test_cell_is_restored_and_still_tests(source, source_dir, tmp_path, edit) -> None:
    nb = student(source_dir, scale="def scale(x):\n    return x\n", **edit)
    result = grade(source, submit(tmp_path, nb))
    assert by_name(result)["test_scale"]["status"] == "failed"
    assert len(result["tampering"]) == 1 and "'test_scale'" in result["tampering"][0]


@needs_bwrap
def test_infinite_loop_times_out_that_cell_only(source, source_dir: Path, tmp_path: Path) -> None:
    scale = "def scale(x):\n    while x == 2:\n        pass\n    return 2 * x\n"
    tests = by_name(grade(source, submit(tmp_path, student(source_dir, scale=scale))))
    assert tests["test_scale"]["status"] == "timeout"
    assert tests["test_add"]["status"] == "passed" and tests["test_last"]["status"] == "passed"


@needs_bwrap
@pytest.mark.parametrize(
    "body, status, says",
    [
        ("time.sleep(2.5 if x == 2 else 0)", "passed", ""),  # waits 2.5 s past a 1 s limit: no CPU used
        ("while x == 2:\n        pass", "timeout", "more than 1 s of CPU time"),
        ("time.sleep(60 if x == 2 else 0)", "timeout", "the wall-clock guard"),
    ],
    ids=["waiting-is-not-computing", "cpu-limit", "wall-clock-guard"],
)
def test_cell_limit_is_cpu_time_with_a_wall_clock_guard(source, source_dir, tmp_path, body, status, says):
    """A loaded machine makes a cell wait, not compute: only CPU time decides a `timeout`; the wall
    clock (limit x wall_factor) is the guard for a cell that waits for ever."""
    settings = NotebookGradingSettings(cell_timeout_s=1, wall_factor=10, budget_s=90, interrupt_grace_s=5)
    scale = f"import time\ndef scale(x):\n    {body}\n    return 2 * x\n"
    tests = by_name(grade(source, submit(tmp_path, student(source_dir, scale=scale)), settings=settings))
    assert tests["test_scale"]["status"] == status, tests["test_scale"]["message"]
    assert says in tests["test_scale"]["message"]
    assert tests["test_add"]["status"] == "passed" and tests["test_last"]["status"] == "passed"


@needs_bwrap
def test_kernel_death_crashes_the_rest_of_that_notebook_only(source_dir: Path, tmp_path: Path) -> None:
    root = submit(tmp_path, student(source_dir, scale="import os\ndef scale(x):\n    os._exit(1)\n"))
    other = copy.deepcopy(student(source_dir))
    other.cells[0].source = "# Another synthetic notebook"
    (root / "02_second.ipynb").write_text(json.dumps(other), encoding="utf-8")
    first, second = grade_notebooks(source_dir=source_dir, submission_root=root, settings=FAST)
    assert [t["status"] for t in first["tests"]] == ["passed", "crashed", "crashed"]
    assert "kernel died" in first["tests"][2]["message"]
    assert [t["status"] for t in second["tests"]] == ["passed"] * 3


@needs_bwrap
def test_a_notebook_that_hangs_does_not_starve_the_next_one(source_dir: Path, tmp_path: Path) -> None:
    """The notebooks share the budget fairly: the first may use half of it here, not all of it."""
    root = submit(tmp_path, student(source_dir, scale="def scale(x):\n    while x == 2:\n        pass\n"))
    other = copy.deepcopy(student(source_dir))
    other.cells[0].source = "# Another synthetic notebook"
    (root / "02_second.ipynb").write_text(json.dumps(other), encoding="utf-8")
    settings = NotebookGradingSettings(cell_timeout_s=300, budget_s=60, interrupt_grace_s=5)
    first, second = grade_notebooks(source_dir=source_dir, submission_root=root, settings=settings)
    assert [t["status"] for t in first["tests"]] == ["passed", "timeout", "timeout"]
    assert [t["status"] for t in second["tests"]] == ["passed"] * 3, "the second notebook still runs"


@needs_bwrap
def test_a_function_that_hung_in_the_suites_fails_at_once_in_the_notebook(source, source_dir, tmp_path):
    """`stopped` (what hung in the hidden suites) is stubbed out in the kernel before the first cell:
    the cells that reach it, through a caller too, fail at once with the suites' message instead of
    each using a whole cell limit."""
    scale = "from exercise_code.ops import twice\ndef scale(x):\n    return twice(x)\n"
    root = submit(tmp_path, student(source_dir, scale=scale))
    spin = "def spin(x):\n    while True:\n        pass\n\n\ndef twice(x):\n    return spin(x)\n"
    (root / "exercise_code").mkdir()
    (root / "exercise_code" / "__init__.py").write_text("")
    (root / "exercise_code" / "ops.py").write_text(spin)
    said = "exercise_code.ops.spin was not run again: it hung in test_layers.py::test_spin"
    settings = NotebookGradingSettings(cell_timeout_s=30, budget_s=200, interrupt_grace_s=5)
    started = time.monotonic()
    result = grade_notebook(
        source,
        find_submitted(root, source.name),
        submission_root=root,
        settings=settings,
        stopped={"exercise_code.ops:spin": said},
    )
    tests = by_name(result)
    for name in ("test_scale", "test_last"):
        assert tests[name]["status"] == "error" and said in tests[name]["message"], tests[name]
    assert tests["test_add"]["status"] == "passed"
    assert time.monotonic() - started < settings.cell_timeout_s  # not even one cell limit waited for


@needs_bwrap
def test_a_notebooks_only_regrade_stubs_out_what_the_suites_stopped(source_dir, tmp_path):
    """`grade --parts notebooks` after a suites run: the functions that run stopped are stubbed out in the
    notebooks too (from the stored result), and the combined record keeps them."""
    from autograder.grading import GradeSettings, Part, grade_batch

    spin = "def spin(x):\n    while True:\n        pass\n\n\ndef twice(x):\n    return spin(x)\n"
    root = submit(tmp_path, student(source_dir, scale="from exercise_code.ops import twice\nscale = twice\n"))
    dan = root.rename(tmp_path / "dan")
    (dan / "exercise_code").mkdir()
    (dan / "exercise_code" / "__init__.py").write_text("")
    (dan / "exercise_code" / "ops.py").write_text(spin)
    suites = tmp_path / "suites"
    suites.mkdir()
    call = "def test_spin(submission):\n    submission.call('exercise_code.ops.spin', 1)\n"
    (suites / "test_spin_once.py").write_text(call)
    (suites / "rubric.toml").write_text('["test_spin_once.py::test_spin"]\npoints = 1\n')
    options = dict(out=tmp_path / "out", suites=suites, settings=GradeSettings(call_s=2, wall_factor=20))
    first = grade_batch([dan], parts=(Part.SUITES,), **options).results["dan"]
    assert list(first.stopped) == ["exercise_code.ops:spin"]
    started = time.monotonic()
    notebooks = NotebookGradingSettings(cell_timeout_s=30, budget_s=200, interrupt_grace_s=5)
    options |= dict(notebooks=source_dir, notebook_settings=notebooks)
    result = grade_batch([dan], parts=(Part.NOTEBOOKS,), **options).results["dan"]
    scale = next(t for t in result.tests if t.name.endswith("/test_scale"))
    assert scale.status == "error" and "exercise_code.ops.spin was not run again" in scale.message, scale
    assert time.monotonic() - started < notebooks.cell_timeout_s
    assert result.parts == ["suites", "notebooks"] and result.stopped == first.stopped


ESCAPES = """\
def add(a, b):
    import socket
    found = []
    for attempt in (
        lambda: open("/etc/shadow").read(),
        lambda: socket.create_connection(("1.1.1.1", 80), timeout=2),
        lambda: open("/submission/helper.py", "a").write("x"),
        lambda: __import__("exercise_code.config"),
        lambda: __import__("autograder.hidden"),
    ):
        try:
            attempt()
            found.append("ESCAPED")
        except Exception as exc:
            found.append(f"{type(exc).__name__} {getattr(exc, 'name', '') or ''}".strip())
    raise RuntimeError(" | ".join(found))
"""


@needs_bwrap
def test_escapes_fail_inside_the_sandbox(source, source_dir: Path, tmp_path: Path) -> None:
    tests = by_name(grade(source, submit(tmp_path, student(source_dir, add=ESCAPES))))
    assert tests["test_add"]["status"] == "error"
    assert tests["test_add"]["message"] == (
        "RuntimeError: FileNotFoundError | OSError | PermissionError | "
        "ModuleNotFoundError exercise_code | ModuleNotFoundError autograder"
    ), "no secret file, no network, read-only submission, neither the reference kit nor the hidden suites"
    assert (tmp_path / "submission" / "helper.py").read_text() == "OFFSET = 0\n"


@needs_bwrap
def test_without_bubblewrap_it_says_not_sandboxed(source, source_dir, tmp_path, monkeypatch) -> None:
    from autograder.sandbox import IsolationChoice, detect_isolation
    from autograder.sandbox import notebook as sandbox

    monkeypatch.setattr(sandbox, "detect_isolation", lambda choice: detect_isolation(IsolationChoice.PROCESS))
    add = "def add(a, b):\n    import exercise_code  # the grader's editable install must not leak in\n"
    result = grade(source, submit(tmp_path, student(source_dir, add=add + "    return a + b\n")))
    assert result["isolation"].startswith("NOT SANDBOXED")
    assert by_name(result)["test_add"]["message"].startswith("ModuleNotFoundError")
    assert by_name(result)["test_scale"]["status"] == "passed"


def test_missing_and_unreadable_notebooks(source, tmp_path: Path) -> None:
    root = tmp_path / "submission"
    root.mkdir()
    missing = grade(source, root)
    assert missing["status"] == "missing" and {t["status"] for t in missing["tests"]} == {"missing"}
    (root / "01_synthetic.ipynb").write_bytes(b"\x00garbage")
    unreadable = grade(source, root)
    assert unreadable["status"] == "unreadable" and {t["status"] for t in unreadable["tests"]} == {"error"}


@needs_bwrap
def test_one_batch_grades_notebooks_resumes_and_reports_without_running_code(
    source_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from autograder.cli import main
    from autograder.grading import GradeSettings, grade_batch
    from autograder.reports import stored_results

    subs = tmp_path / "subs"
    for name, add in (("ann", ADD), ("bob", "def add(a, b):\n    return 0\n")):
        (subs / name / "notebooks").mkdir(parents=True)
        (subs / name / "helper.py").write_text("OFFSET = 0\n")
        nb = json.dumps(student(source_dir, add=add))
        (subs / name / "notebooks" / "01_synthetic.ipynb").write_text(nb, encoding="utf-8")
    out = tmp_path / "out"
    folders = [subs / "ann", subs / "bob"]
    seen: list[tuple[str, bool]] = []
    options = dict(out=out, parts=("notebooks",), notebooks=source_dir, notebook_settings=FAST)
    grade_batch(
        folders,
        workers=2,
        settings=GradeSettings(submission_s=120),
        **options,
        on_result=lambda result, resumed: seen.append((result.student, resumed)),
    )
    assert sorted(seen) == [("ann", False), ("bob", False)]
    ann, bob = stored_results(out)
    assert (ann["score"], ann["max_score"]) == (6.0, 12.0), "02_second is missing: 0 / 6"
    assert (bob["score"], bob["max_score"]) == (3.0, 12.0)
    assert ann["parts"] == ["notebooks"] and bob["status"] == "graded"
    assert set(ann["stages"]) == {"intake", "notebooks"} and ann["stages"]["notebooks"]["cpu_s"] > 0
    assert (out / "cache" / "sources.json").is_file(), "the children read the notebooks parsed once"
    seen.clear()
    grade_batch(folders, on_result=lambda r, resumed: seen.append(resumed), **options)
    assert seen == [True, True], "an unchanged submission is not graded again"
    ann_file = out / "results" / "ann.json"
    before = ann_file.stat().st_mtime_ns
    nb = json.dumps(student(source_dir, add=ADD))  # bob fixes add(): regrade him alone
    (subs / "bob" / "notebooks" / "01_synthetic.ipynb").write_text(nb, encoding="utf-8")
    again = grade_batch(folders, only=["bob"], **options)
    assert list(again.results) == ["bob"] and again.results["bob"].score == 6.0
    assert ann_file.stat().st_mtime_ns == before, "the others are not touched"
    (old,) = (out / "results" / "history").glob("bob.*.json")
    assert json.loads(old.read_text())["score"] == 3.0, "the previous result is kept for the record"
    capsys.readouterr()
    argv = ["grade", *map(str, folders), "--out", str(out), "--only", "bob", "--parts", "notebooks"]
    assert main([*argv, "--notebooks", str(source_dir), "--cell-timeout", "4"]) == 0
    printed = capsys.readouterr()
    assert "1 regraded in" in printed.out and "the other students' are unchanged" in printed.out
    assert "0/1" in printed.err, "the progress bar counts the students asked for"
    assert ann_file.stat().st_mtime_ns == before and len(list(out.glob("results/history/bob.*.json"))) == 2
    for folder in folders:  # the report reads stored results only: the submissions may be gone
        shutil.rmtree(folder)
    assert main(["report", str(out)]) == 0
    assert (out / "reports" / "grades.csv").read_text().count("\n") == 3
