"""Grade a submission's notebooks: find each, match it to the source, run it in the sandbox, score it.

One result per notebook, `{notebook, status, isolation, seconds, tests, manual, tampering, notes}`,
with tests in the per-submission result format (part `notebook:<name>`), ready for `merge_results`.
A kernel that answers a planted check wrongly (`checks.py`) flags the notebook for review.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from autograder.release.notebooks.build import Role, source_notebooks

from .checks import Verdict, by_position, plan_checks, verdict
from .execute import NotebookRun, run_notebook
from .match import Assembly, UnreadableNotebook, assemble, read_submitted
from .score import CellScore, score_record, unrun_score
from .settings import NotebookGradingSettings
from .source import SourceCell, SourceNotebook, load_source

SUSPICIOUS = re.compile(
    r"get_ipython|InteractiveShell|showtraceback|run_cell|excepthook|sys\.modules\[|/proc/|cells\.jsonl|"
    r"os\._exit|signal\.signal"
)
"""Names of the kernel's and the runner's insides: a hint for the reviewer, not a check (a name built
from pieces at run time is not seen; the planted checks are what flags a notebook)."""
_SKIP_DIRS = {".ipynb_checkpoints", "__MACOSX", "__pycache__"}


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


def _result(nb: SourceNotebook, status: str, tests: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    manual = [
        {"name": f"{nb.name}/{c.grade_id}", "grade_id": c.grade_id, "max_points": c.points, "answer": None}
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


def _scores(assembly: Assembly, run: NotebookRun, found: Verdict, settings: NotebookGradingSettings):
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
            by_grade_id[origin.grade_id] = score_record(
                record, origin, timeout_s=settings.cell_timeout_s, limit=settings.max_message_chars
            )
    return by_grade_id


def grade_notebook(
    source: SourceNotebook,
    submitted: Path | None,
    *,
    submission_root: Path,
    settings: NotebookGradingSettings | None = None,
    budget_s: float | None = None,
) -> dict[str, Any]:
    """Grade the student's notebook `submitted` (None: not submitted) against the instructor's `source`.

    Student code runs only in the sandbox, on a private copy of `submission_root`; scores are computed
    here from the recorded outputs. Never raises for anything the student did.
    """
    settings = settings or NotebookGradingSettings()
    started = time.monotonic()
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
    cwd = submitted.parent.relative_to(submission_root).as_posix()
    checks = plan_checks(assembly.cells)
    run = run_notebook(
        assembly.notebook(), submission=submission_root, cwd=cwd, settings=settings, budget_s=budget_s,
        checks=by_position(checks),
    )  # fmt: skip
    found = verdict(checks, run, assembly.cells)
    scores = _scores(assembly, run, found, settings)
    tests = [
        _test(source, cell, scores.get(cell.grade_id) or unrun_score(run, 10**9)) for cell in source.tests
    ]
    result = _result(
        source,
        "crashed" if run.event("no_kernel") else "graded",
        tests,
        isolation=run.isolation,
        seconds=round(time.monotonic() - started, 3),
        tampering=assembly.tampering,
        notes=[*assembly.notes, *found.notes],
    )
    for item in result["manual"]:
        item["answer"] = assembly.answers.get(item["grade_id"])
    names = sorted(
        {m.group(0) for c in assembly.cells if not c.restored for m in SUSPICIOUS.finditer(c.source)}
    )
    if names:
        result["notes"].append(f"hint for a reviewer: student code mentions {', '.join(names)}")
    return result


def grade_notebooks(
    *,
    source_dir: Path,
    submission_root: Path,
    settings: NotebookGradingSettings | None = None,
    budget_s: float | None = None,
) -> list[dict[str, Any]]:
    """Grade every source notebook of `source_dir` (`NN_name.py` / `.ipynb`) for one submission.

    Notebooks run one after another, each in its own sandbox and kernel, sharing `budget_s`
    (default `settings.budget_s`): one that hangs or crashes fails its own cells only.
    """
    settings = settings or NotebookGradingSettings()
    deadline = time.monotonic() + (budget_s or settings.budget_s)
    root = Path(submission_root).resolve()
    results = []
    for path in source_notebooks(Path(source_dir)):
        source = load_source(path)
        left = deadline - time.monotonic()
        if left <= 1:
            message = "not run: the submission used up its time budget"
            results.append(
                _result(source, "timeout", _all_tests(source, "timeout", message), notes=[message])
            )
            continue
        results.append(
            grade_notebook(
                source,
                find_submitted(root, source.name),
                submission_root=root,
                settings=settings,
                budget_s=left,
            )
        )
    return results
