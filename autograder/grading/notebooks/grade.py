"""Grade a submission's notebooks: find each, match it to the source, run it in the sandbox, score it.

One result per notebook, `{notebook, status, isolation, seconds, tests, manual, tampering, notes}`,
with tests in the per-submission result format (part `notebook:<name>`), ready for `merge_results`.
A kernel that answers a planted check wrongly (`checks.py`) flags the notebook for review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from autograder.release.notebooks.build import Role, source_notebooks

from .checks import Check, Verdict, by_position, plan_checks, verdict
from .execute import NotebookJob, NotebookRun, run_notebooks
from .match import Assembly, UnreadableNotebook, assemble, read_submitted
from .score import CellScore, score_record, unrun_score
from .settings import NotebookGradingSettings
from .source import SourceCell, SourceNotebook, load_source
from .undefined import explain, with_explanation

SUSPICIOUS = re.compile(
    r"get_ipython|InteractiveShell|showtraceback|run_cell|excepthook|sys\.modules\[|/proc/|cells\.jsonl|"
    r"os\._exit|signal\.signal"
)
"""Names of the kernel's and the runner's insides: a hint for the reviewer, not a check (a name built
from pieces at run time is not seen; the planted checks are what flags a notebook)."""
_SKIP_DIRS = {".ipynb_checkpoints", "__MACOSX", "__pycache__"}
MAX_ANSWER_CHARS = 20_000
"""Longest hand-graded answer kept in the result (for `autograder manual`); the rest is cut, and said so."""
MAX_PROMPT_CHARS = 2_000
"""Longest question prompt (the instructor's markdown above an answer cell) kept in the result."""


def find_submitted(root: Path, name: str) -> Path | None:
    """The student's copy of notebook `name` under `root`: `<name>.ipynb` (shallowest), else the one
    `.ipynb` whose name starts with the same number (`01_...`); None when there is none."""
    found = [
        p
        for p in sorted(Path(root).rglob("*.ipynb"), key=lambda p: (len(p.parts), str(p)))
        if p.is_file()
        and not p.is_symlink()
        and not (_SKIP_DIRS & set(p.relative_to(root).parts) or p.name.startswith("."))
    ]
    exact = [p for p in found if p.stem == name]
    if exact:
        return exact[0]
    prefix = name.split("_", 1)[0] + "_"
    numbered = [p for p in found if p.name.startswith(prefix)]
    return numbered[0] if len(numbered) == 1 else None


def _test(nb: SourceNotebook, cell: SourceCell, score: CellScore) -> dict[str, Any]:
    return {
        "name": f"{nb.name}/{cell.grade_id}",
        "part": f"notebook:{nb.name}",
        "concept": (cell.grade_id or "").replace("_", " "),
        "points": round(score.points, 4),
        "max_points": cell.points,
        "status": score.status,
        "message": score.message,
        "seconds": round(score.seconds, 3),
    }


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n[... cut at {limit} of {len(text)} characters]"


def question_prompt(nb: SourceNotebook, cell: SourceCell) -> str:
    """The question an answer cell answers: the nearest markdown cell above it that is not itself an
    answer (code cells in between are passed over); "" when another answer comes first or none is found."""
    for above in reversed(nb.cells[: cell.index]):
        if above.role is Role.ANSWER:
            return ""
        if above.cell_type == "markdown" and above.source.strip():
            return _cut(above.source.strip(), MAX_PROMPT_CHARS)
    return ""


def _result(nb: SourceNotebook, status: str, tests: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    manual = [
        {
            "name": f"{nb.name}/{c.grade_id}",
            "grade_id": c.grade_id,
            "max_points": c.points,
            "answer": None,
            "prompt": question_prompt(nb, c),
        }
        for c in nb.answers
    ]
    result = {
        "notebook": nb.name,
        "status": status,
        "isolation": "",
        "seconds": 0.0,
        "tests": tests,
        "manual": manual,
        "tampering": [],
        "notes": [],
    }
    result.update(extra)
    return result


def _all_tests(nb: SourceNotebook, status: str, message: str) -> list[dict[str, Any]]:
    return [_test(nb, cell, CellScore(0.0, status, message)) for cell in nb.tests]


def notebook_with_limits(assembly: Assembly, settings: NotebookGradingSettings) -> NotebookNode:
    """The assembled notebook, the instructor's read-only cells (the setup cell) with their own time limit
    (`settings.readonly_timeout_s`, when above the cell limit) in `metadata.autograder`, which the runner
    reads: a cold start of torch and the student's package in a fresh kernel is no student's cell, and a
    setup cell interrupted halfway leaves every later test a bare NameError."""
    nb = assembly.notebook()
    cpu_s = max(settings.readonly_timeout_s, settings.cell_timeout_s)
    for cell, planned in zip(nb.cells, assembly.cells, strict=True):
        readonly = planned.restored and planned.origin is not None and planned.origin.role is Role.READONLY
        if cell.cell_type == "code" and readonly:
            cell.metadata["autograder"] = {"cpu_s": cpu_s, "wall_s": cpu_s * settings.wall_factor}
    return nb


def _scores(
    source: SourceNotebook,
    assembly: Assembly,
    run: NotebookRun,
    found: Verdict,
    settings: NotebookGradingSettings,
) -> dict[str, CellScore]:
    by_grade_id: dict[str, CellScore] = {}
    for index, cell in enumerate(assembly.cells):
        origin = cell.origin
        if origin is None or origin.role is not Role.TESTS or not cell.restored:
            continue
        record = run.cells.get(index)
        if found.untrusted_from is not None and index >= found.untrusted_from:
            by_grade_id[origin.grade_id] = CellScore(0.0, "error", f"not scored: {found.reason}")
        elif record is None:
            by_grade_id[origin.grade_id] = unrun_score(run, index)
        else:
            score = score_record(
                record, origin, timeout_s=settings.cell_timeout_s, limit=settings.max_message_chars
            )
            if score.status == "error":  # a NameError: which cell should have defined the name, and why not
                why = explain(score.message, index, assembly.cells, run, source)
                score = replace(score, message=with_explanation(score.message, why))
            by_grade_id[origin.grade_id] = score
    return by_grade_id


@dataclass
class _Planned:
    """A notebook ready to run: what it was assembled from and the job for the sandbox."""

    source: SourceNotebook
    assembly: Assembly
    checks: list[Check]
    job: NotebookJob


def _plan(
    source: SourceNotebook, submitted: Path | None, root: Path, settings: NotebookGradingSettings
) -> _Planned | dict[str, Any]:
    """The student's notebook `submitted` assembled against `source`, or its result when there is nothing
    to run (not submitted, unreadable)."""
    if submitted is None:
        message = f"notebook {source.name}.ipynb not found in the submission"
        return _result(source, "missing", _all_tests(source, "missing", message), notes=[message])
    size_mb = submitted.stat().st_size / 2**20
    try:
        if size_mb > settings.max_notebook_mb:
            raise UnreadableNotebook(
                f"the file is {size_mb:.1f} MiB (limit {settings.max_notebook_mb:g} MiB)"
            )
        assembly = assemble(source, read_submitted(submitted.read_bytes()))
    except UnreadableNotebook as exc:
        message = f"{submitted.name}: {exc}"
        return _result(source, "unreadable", _all_tests(source, "error", message), notes=[message])
    checks = plan_checks(assembly.cells)
    cwd = submitted.parent.relative_to(root).as_posix()
    job = NotebookJob(notebook_with_limits(assembly, settings), cwd, by_position(checks))
    return _Planned(source, assembly, checks, job)


def _graded(planned: _Planned, run: NotebookRun | None, settings: NotebookGradingSettings) -> dict[str, Any]:
    """The result of a planned notebook from what its run recorded (None: never started)."""
    source, assembly = planned.source, planned.assembly
    if run is None:
        message = "not run: the submission used up its time budget"
        return _result(source, "timeout", _all_tests(source, "timeout", message), notes=[message])
    found = verdict(planned.checks, run, assembly.cells)
    scores = _scores(source, assembly, run, found, settings)
    tests = [
        _test(source, cell, scores.get(cell.grade_id) or unrun_score(run, 10**9)) for cell in source.tests
    ]
    result = _result(
        source,
        "crashed" if run.event("no_kernel") else "graded",
        tests,
        isolation=run.isolation,
        seconds=round(run.seconds, 3),
        cpu_s=round(sum(c.cpu_s for c in run.cells.values()), 3),
        tampering=assembly.tampering,
        notes=[*assembly.notes, *found.notes],
    )
    for item in result["manual"]:
        answer = assembly.answers.get(item["grade_id"])
        item["answer"] = None if answer is None else _cut(answer, MAX_ANSWER_CHARS)
    names = sorted(
        {m.group(0) for c in assembly.cells if not c.restored for m in SUSPICIOUS.finditer(c.source)}
    )
    if names:
        result["notes"].append(f"hint for a reviewer: student code mentions {', '.join(names)}")
    return result


def grade_notebook(
    source: SourceNotebook,
    submitted: Path | None,
    *,
    submission_root: Path,
    settings: NotebookGradingSettings | None = None,
    budget_s: float | None = None,
    stopped: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Grade the student's notebook `submitted` (None: not submitted) against the instructor's `source`.

    Student code runs only in the sandbox, on a private copy of `submission_root`; scores are computed
    here from the recorded outputs. `stopped`: student functions (`module:qualname` -> message) that
    hung in the hidden suites, stubbed out in the kernel before the first cell so they fail at once.
    Never raises for anything the student did.
    """
    return grade_notebooks(
        sources=[source],
        found=[submitted],
        submission_root=submission_root,
        settings=settings,
        budget_s=budget_s,
        stopped=stopped,
    )[0]


def grade_notebooks(
    *,
    source_dir: Path | None = None,
    submission_root: Path,
    settings: NotebookGradingSettings | None = None,
    budget_s: float | None = None,
    stopped: dict[str, str] | None = None,
    sources: list[SourceNotebook] | None = None,
    found: list[Path | None] | None = None,
) -> list[dict[str, Any]]:
    """Grade every source notebook of `source_dir` (`NN_name.py` / `.ipynb`) for one submission.

    The notebooks run one after another in one sandbox, each with a fresh kernel and a fresh copy of the
    submission, sharing `budget_s` (default `settings.budget_s`) fairly: each may use what is left
    divided by the notebooks still to run (what one leaves unused goes to the next), so one that hangs or
    crashes fails its own cells only and never starves the notebooks after it. `stopped`: as for
    `grade_notebook`. `sources`: the notebooks of `source_dir` already parsed (`read_sources`), as a
    batch hands them to its children; `found`: the student's copy of each (default: `find_submitted`).
    """
    settings = settings or NotebookGradingSettings()
    root = Path(submission_root).resolve()
    if sources is None:
        if source_dir is None:
            raise ValueError("grade_notebooks needs source_dir or sources")
        sources = [load_source(path) for path in source_notebooks(Path(source_dir))]
    if found is None:
        found = [find_submitted(root, source.name) for source in sources]
    planned = [_plan(source, path, root, settings) for source, path in zip(sources, found, strict=True)]
    to_run = [p for p in planned if isinstance(p, _Planned)]
    runs = run_notebooks(
        [p.job for p in to_run], submission=root, settings=settings, budget_s=budget_s, stopped=stopped
    )
    ran = {id(p): run for p, run in zip(to_run, runs, strict=True)}
    return [_graded(p, ran[id(p)], settings) if isinstance(p, _Planned) else p for p in planned]
