"""The notebook review flag comes from the kernel's behaviour, not from names in the student's source.

Planted checks (`autograder.grading.notebooks.checks`) run in the student's kernel around every test
cell; a kernel patched to hide failures or fake results gets one wrong, however the patch spells its
names. Attacks here build every name from pieces, so the source scan (kept as a hint) sees nothing.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from test_nbgrade import SOURCE, by_name, grade, needs_bwrap, student, submit

from autograder.grading.notebooks import load_source
from autograder.grading.notebooks.checks import Check, CheckKind, by_position, plan_checks, verdict
from autograder.grading.notebooks.execute import CellRecord, NotebookRun
from autograder.grading.notebooks.match import GradingCell
from autograder.sandbox.bwrap import WORKER_PARENT
from autograder.sandbox.pyenv import WORKER_PACKAGE

SHELL = 'shell = getattr(__import__("IP" + "ython"), "get_" + "ipython")()\n'
HIDE_FAILURES = (
    SHELL
    + """\
kind = type(shell)
real = getattr(kind, "run_" + "cell" + "_async")


async def honest_looking(self, *args, **kwargs):
    result = await real(self, *args, **kwargs)
    result.error_in_exec = None  # every failure is reported as a success
    return result


setattr(kind, "run_" + "cell" + "_async", honest_looking)
setattr(kind, "show" + "traceback", lambda self, *args, **kwargs: None)


def scale(x):
    return x
"""
)
"""A student cell that makes every later failing cell report success, no suspicious name spelled out."""
HIDE_NEXT_FAILURE = (
    SHELL
    + """kind, name, quiet = type(shell), "run_" + "cell" + "_async", "show" + "traceback"
real = getattr(kind, name)


async def once(self, *args, **kwargs):
    setattr(self, quiet, lambda *args, **kwargs: None)
    result = await real(self, *args, **kwargs)
    delattr(self, quiet)
    if result.error_in_exec is not None:
        result.error_in_exec = None  # the next failing cell (the test below, thinks the student) passes
        setattr(kind, name, real)
    return result


setattr(kind, name, once)


def scale(x):
    return x
"""
)
"""A one-shot patch just before a test: the check planted before the test takes the shot."""


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("source")
    (folder / "01_synthetic.py").write_text(SOURCE, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def source(source_dir: Path):
    return load_source(source_dir / "01_synthetic.py")


def flags(result: dict) -> list[str]:
    return [n for n in result["notes"] if n.startswith("flagged for review")]


# --- execution in the sandbox -----------------------------------------------------------------------


@needs_bwrap
@pytest.mark.parametrize("patch", [HIDE_FAILURES, HIDE_NEXT_FAILURE], ids=["every-cell", "next-failure"])
def test_kernel_patched_by_names_from_pieces_is_flagged(source, source_dir, tmp_path, patch) -> None:
    result = grade(source, submit(tmp_path, student(source_dir, scale=patch)))
    tests = by_name(result)
    assert (tests["test_add"]["status"], tests["test_add"]["points"]) == ("passed", 2.0), (
        "the kernel was honest until the student's cell ran: the test before it keeps its points"
    )
    for name in ("test_scale", "test_last"):  # both fail honestly; the patched kernel said they passed
        assert (tests[name]["status"], tests[name]["points"]) == ("error", 0.0)
        assert "did not report a planted failing assert" in tests[name]["message"]
    (flag,) = flags(result)
    assert "after cell 4, before test 'test_scale'" in flag and "tampered with" in flag
    assert not any("mentions" in n for n in result["notes"]), "no name the source scan knows"


@needs_bwrap
def test_silenced_error_display_from_pieces_is_flagged(source, source_dir: Path, tmp_path: Path) -> None:
    quiet = SHELL + 'setattr(shell, "show" + "traceback", lambda *args, **kwargs: None)\n'
    quiet += "def scale(x):\n    return x\n"
    result = grade(source, submit(tmp_path, student(source_dir, scale=quiet)))
    tests = by_name(result)
    assert (tests["test_scale"]["status"], tests["test_scale"]["points"]) == ("failed", 0.0)
    assert "showed no traceback" in tests["test_scale"]["message"], "scored from the kernel's reply"
    assert tests["test_add"]["status"] == "passed"
    (flag,) = flags(result)
    assert "showed no traceback" in flag and "display was changed" in flag


PARTIAL = """\
# %% tags=["solution:share"]
def share():
    ### BEGIN SOLUTION
    return 1.0
    ### END SOLUTION


# %% tags=["tests:test_share:2"]
share() / 2 + 0.5
"""


@needs_bwrap
def test_faked_results_are_flagged(tmp_path: Path) -> None:
    for folder in ("src", "a", "b"):
        (tmp_path / folder).mkdir()
    (tmp_path / "src" / "01_partial.py").write_text(PARTIAL, encoding="utf-8")
    partial = load_source(tmp_path / "src" / "01_partial.py")
    from autograder.release.notebooks import read_source

    nb = read_source(tmp_path / "src" / "01_partial.py")[0]
    share = "def share():\n    return 0.0\n"
    honest = grade(partial, submit(tmp_path / "a", _with(nb, share)))
    assert (honest["tests"][0]["status"], honest["tests"][0]["points"]) == ("failed", 0.5)
    assert not flags(honest)
    fake = SHELL + 'text = getattr(shell, "display_" + "formatter").formatters["text/" + "plain"]\n'
    fake += 'text.for_type(float, lambda value, printer, cycle: printer.text("2"))\n'
    faked = grade(partial, submit(tmp_path / "b", _with(nb, fake + share)))
    assert (faked["tests"][0]["status"], faked["tests"][0]["points"]) == ("error", 0.0), "not 2 / 2"
    (flag,) = flags(faked)
    assert "planted expression" in flag


def _with(nb, share: str):
    import copy

    nb = copy.deepcopy(nb)
    nb.cells[0].source = share
    return nb


@needs_bwrap
def test_the_kernel_cannot_read_the_runner(source, source_dir: Path, tmp_path: Path) -> None:
    """The planted checks and the notebook wait in the runner: its memory and folder do not show them."""
    add = """\
import os


def add(a, b):
    runner = f"/proc/{os.getppid()}"
    found = []
    try:
        with open(f"{runner}/maps") as maps, open(f"{runner}/mem", "rb") as memory:
            memory.seek(int(maps.readline().split("-")[0], 16))
            memory.read(1)
        found.append("memory readable")
    except OSError as exc:
        found.append(type(exc).__name__)
    found.extend(sorted(os.listdir(GRADER)))
    raise RuntimeError(" ".join(found))
"""
    add = f"GRADER = {WORKER_PARENT + '/' + WORKER_PACKAGE!r}\n" + add
    tests = by_name(grade(source, submit(tmp_path, student(source_dir, add=add))))
    assert tests["test_add"]["message"] == "RuntimeError: PermissionError job.json runner.py zygote.py"


# --- planning and judging the checks (no kernel) -------------------------------------------------------


def _cells(source) -> list[GradingCell]:
    return [GradingCell(c.cell_type, c.source, c, restored=c.locked) for c in source.cells]


def test_checks_answer_right_in_an_honest_interpreter(source) -> None:
    """Every form, run by plain Python: the failures raise AssertionError with their tag, the values are
    exact; a student's `sum = 0` or `int = str` does not change them (no names are looked up)."""
    for seed in range(200):
        for check in plan_checks(_cells(source), random.Random(seed)):
            namespace = {"sum": 0, "int": str, "len": None, "hex": None}
            if check.kind is CheckKind.FAILURE:
                with pytest.raises(AssertionError, match=check.tag):
                    exec(check.source, namespace)
            else:
                value = eval(check.source, namespace)
                assert value == check.value and type(value) is (
                    int if check.kind is CheckKind.WHOLE else float
                )
                assert (value == int(value)) is (check.kind is CheckKind.WHOLE)


def _answer(check: Check, *, shown: bool = True) -> CellRecord:
    """What an honest kernel records for `check`."""
    if check.kind is CheckKind.FAILURE:
        error = {
            "output_type": "error",
            "ename": "AssertionError",
            "evalue": f"x {check.tag}",
            "traceback": [],
        }
        reply = {"status": "error", "ename": "AssertionError", "evalue": f"x {check.tag}"}
        return CellRecord("ok", 0.0, [error] if shown else [], reply)
    text = repr(int(check.value) if check.kind is CheckKind.WHOLE else check.value)
    result = {"output_type": "execute_result", "data": {"text/plain": text}}
    return CellRecord("ok", 0.0, [result], {"status": "ok", "ename": "", "evalue": ""})


def _run(checks: list[Check], cells: list[GradingCell], **answers: CellRecord) -> NotebookRun:
    """A run where every code cell and check has a record; `answers["at_k"]` replaces one check's."""
    run = NotebookRun(
        cells={i: CellRecord("ok", 0.0, []) for i, c in enumerate(cells) if c.cell_type == "code"}
    )
    for at, group in by_position(checks).items():
        for k in range(len(group)):
            check = [c for c in checks if c.position == at][k]
            run.checks[(at, k)] = answers.get(f"at{at}_{k}", _answer(check))
    return run


def test_checks_surround_every_test_and_differ_every_run(source) -> None:
    cells = _cells(source)  # code cells 1 (setup), 2, 3 (test_add), 5, 6 (test_scale), 8 (test_last)
    first, second = plan_checks(cells), plan_checks(cells)
    assert sorted(by_position(first)) == [1, 3, 5, 6, 8, 10], "first cell, each test's sides, the end"
    assert all(len(sources) == 3 for sources in by_position(first).values())
    assert not {c.source for c in first} & {c.source for c in second}
    assert verdict(first, _run(first, cells), cells).notes == []


def test_a_wrong_answer_distrusts_the_tests_from_the_last_right_one(source) -> None:
    cells = _cells(source)
    checks = plan_checks(cells, random.Random(1))
    failure = next(
        k for k, c in enumerate(c for c in checks if c.position == 6) if c.kind is CheckKind.FAILURE
    )
    passed = CellRecord("ok", 0.0, [], {"status": "ok", "ename": "", "evalue": ""})
    found = verdict(checks, _run(checks, cells, **{f"at6_{failure}": passed}), cells)
    assert found.untrusted_from == 5, "the checks before cell 6 (index 5) were answered right"
    assert found.reason == (
        "the kernel did not report a planted failing assert after cell 6, before test 'test_scale': "
        "the kernel's execution or reporting was tampered with"
    )
    assert found.notes == [f"flagged for review: {found.reason}; test cells from cell 6 on score 0"]


def test_a_stopped_run_is_not_a_wrong_answer_but_a_withheld_one_is(source) -> None:
    cells = _cells(source)
    checks = plan_checks(cells, random.Random(2))
    run = _run(checks, cells)
    stopped = NotebookRun(
        cells={i: r for i, r in run.cells.items() if i < 6},
        checks={s: r for s, r in run.checks.items() if s[0] < 6},
    )
    assert verdict(checks, stopped, cells) == verdict(checks, run, cells), (
        "the kernel died or ran out of time"
    )
    del run.checks[(6, 1)]
    found = verdict(checks, run, cells)
    assert found.untrusted_from == 5 and found.reason.startswith(
        "the runner sent no record of a planted check"
    )


def test_a_hidden_traceback_is_noted_without_changing_scores(source) -> None:
    cells = _cells(source)
    checks = plan_checks(cells, random.Random(3))
    failure = next(
        k for k, c in enumerate(c for c in checks if c.position == 8) if c.kind is CheckKind.FAILURE
    )
    check = [c for c in checks if c.position == 8][failure]
    found = verdict(checks, _run(checks, cells, **{f"at8_{failure}": _answer(check, shown=False)}), cells)
    assert found.untrusted_from is None
    assert found.notes == [
        "flagged for review: the kernel reported a planted failing assert after cell 7 (test 'test_scale'), "
        "before test 'test_last' but showed no traceback: its error display was changed (tests are still "
        "scored from its reply)"
    ]


@needs_bwrap
def test_submitted_modules_cannot_replace_the_kernel(source, source_dir: Path, tmp_path: Path) -> None:
    """A submitted `ipykernel_launcher.py` or `IPython/` is not what the kernel runs: site-packages come
    first on the kernel's path and the working folder is not prepended."""
    root = submit(tmp_path, student(source_dir))
    (root / "ipykernel_launcher.py").write_text("raise SystemExit('a fake kernel')\n")
    (root / "IPython").mkdir()
    (root / "IPython" / "__init__.py").write_text("raise ImportError('a fake IPython')\n")
    result = grade(source, root)
    assert [t["status"] for t in result["tests"]] == ["passed"] * 3, result["tests"]
    assert not flags(result)
