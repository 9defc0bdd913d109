"""The grading half of `make demo`: data, sample submissions, parallel sandboxed grading of the hidden
suites and the notebooks, then the reports, with the outcome each sample submission should show.

Each step returns `(ok, lines)`; `autograder.demo` wraps them in its StepResult.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exercise_code.config import CONFIG


@dataclass(frozen=True)
class DemoGrading:
    """Knobs of the demo's grading (shorter budgets than a real run, so it fits in 10 minutes on 2 cores)."""

    out: Path = Path("build/demo")
    workers: int = 2
    train_seconds: float = 4.0
    """Training time of each reference model."""
    call_s: float = 20.0
    """One sandbox call (real runs: CONFIG.time.call_s)."""
    cell_timeout_s: float = 20.0
    """One notebook cell (real runs: CONFIG.time.notebook_cell_s)."""
    seed: int = 0


@dataclass
class DemoState:
    """What the grading steps hand on to each other."""

    submissions: list[Any] = field(default_factory=list)
    merged: list[dict[str, Any]] = field(default_factory=list)
    paths: Any = None


def _out(source: Path, settings: DemoGrading) -> Path:
    return settings.out if settings.out.is_absolute() else source / settings.out


def generate_data(source: Path, settings: DemoGrading) -> tuple[bool, list[str]]:
    """Load the digits and draw (and cache) the training and hidden scenes."""
    from exercise_code.data import DigitScenes, hidden_scenes, mnist_subset

    from .models import TRAIN_SCENES

    start = time.perf_counter()
    images, _ = mnist_subset()
    train = DigitScenes("train", TRAIN_SCENES, CONFIG.scene_size, settings.seed, cache=True)
    hidden, _ = hidden_scenes(settings.seed)
    return True, [
        f"{len(images)} MNIST digits, {len(train)} training scenes, {len(hidden)} hidden scenes "
        f"({CONFIG.scene_size}x{CONFIG.scene_size}) in {time.perf_counter() - start:.1f} s"
    ]


def build_submissions(
    source: Path, release: Path | None, settings: DemoGrading, state: DemoState
) -> tuple[bool, list[str]]:
    from .submissions import build_demo_submissions

    if release is None:
        raise ValueError("the release step must run before the sample submissions are built")
    start = time.perf_counter()
    state.submissions = build_demo_submissions(
        source=source,
        release=release,
        out=_out(source, settings) / "submissions",
        train_seconds=settings.train_seconds,
        seed=settings.seed,
    )
    lines = [f"{s.name:<24} {s.path}" for s in state.submissions]
    lines.append(
        f"built in {time.perf_counter() - start:.1f} s (models trained {settings.train_seconds:g} s each)"
    )
    return True, lines


def grade(source: Path, settings: DemoGrading, state: DemoState) -> tuple[bool, list[str]]:
    """Every sample submission in one pass (`grade_batch`: hidden suites, notebooks, examples), in
    parallel; then the reports from the stored results, as `autograder grade` does."""
    import dataclasses

    from autograder.grading import GradeSettings, grade_batch
    from autograder.grading.notebooks import NotebookGradingSettings
    from autograder.reports import stored_results, write_reports
    from autograder.sandbox import detect_isolation

    out = _out(source, settings) / "grading"
    shutil.rmtree(out, ignore_errors=True)  # a demo grades afresh (a TA's batch resumes instead)
    grade_settings = dataclasses.replace(GradeSettings(), call_s=settings.call_s)
    notebook_settings = NotebookGradingSettings(cell_timeout_s=settings.cell_timeout_s)
    paths = [s.path for s in state.submissions]
    lines = [f"isolation: {detect_isolation(grade_settings.isolation).summary()}"]
    start = time.perf_counter()

    def done(result: Any, resumed: bool) -> None:
        notebook = sum(t.max_points for t in result.tests if t.part.startswith("notebook:"))
        earned = sum(t.points for t in result.tests if t.part.startswith("notebook:"))
        suites = result.max_score - notebook
        lines.append(
            f"{result.student:<24} {result.status:<8} suites {result.score - earned:g}/{suites:g}  "
            f"notebooks {earned:g}/{notebook:g}"
        )

    grade_batch(
        paths,
        out=out,
        workers=settings.workers,
        seed=settings.seed,
        settings=grade_settings,
        notebook_settings=notebook_settings,
        on_result=done,
    )
    state.merged = stored_results(out)
    state.paths = write_reports(state.merged, out / "reports")
    lines.append(f"graded {len(paths)} submissions in {time.perf_counter() - start:.1f} s")
    return True, lines


def _percent(result: dict[str, Any]) -> float:
    return 100.0 * float(result.get("score", 0)) / float(result.get("max_score") or 1)


def expectations(state: DemoState) -> list[tuple[bool, str]]:
    """(met, sentence) for what the sample submissions must show."""
    from jsonschema import ValidationError

    from autograder.grading.student import EXAMPLES
    from autograder.reports import validate_gradescope

    from .submissions import escaped_markers

    by_name = {r["student"]: r for r in state.merged}
    checks: list[tuple[bool, str]] = []
    broken = sorted(r["student"] for r in state.merged if r.get("status") != "graded")
    unfinished = f" (not: {broken})" if broken else ""
    checks.append((not broken, f"every submission was graded to the end{unfinished}"))
    reference = by_name.get("reference", {})
    others = [r for name, r in by_name.items() if name != "reference"]
    checks.append(
        (
            bool(reference) and all(_percent(reference) > _percent(r) for r in others),
            f"the reference scores highest ({_percent(reference):.0f} %)",
        )
    )
    drawn = len(reference.get("examples", []))
    checks.append((drawn == EXAMPLES, f"the reference's feedback page draws {drawn} hidden scenes"))
    skeleton = by_name.get("skeleton", {})
    checks.append(
        (bool(skeleton) and _percent(skeleton) <= 10, f"the skeleton scores ~0 ({_percent(skeleton):.0f} %)")
    )
    for name in ("ben_buggy_layers", "cara_vscode_untrained"):
        result = by_name.get(name, {})
        checks.append(
            (
                bool(result) and _percent(result) < _percent(reference),
                f"{name} loses points ({_percent(result):.0f} %)",
            )
        )
    cara = by_name.get("cara_vscode_untrained", {})
    checks.append((bool(cara.get("tampering")), "cara's deleted test cell is restored and reported"))
    mallory = by_name.get("mallory_malicious", {})
    escaped = escaped_markers()
    checks.append(
        (
            not escaped,
            "nothing the malicious submission wrote reached this machine"
            + (f": {[str(p) for p in escaped]}" if escaped else ""),
        )
    )
    statuses = sorted({t["status"] for t in mallory.get("tests", [])} - {"passed"})
    checks.append(
        (bool(mallory.get("tampering")), f"mallory's tampering is reported; its statuses: {statuses}")
    )
    valid = True
    for path in state.paths.results_json.values() if state.paths else []:
        try:
            validate_gradescope(json.loads(Path(path).read_text()))
        except (OSError, ValueError, ValidationError):
            valid = False
    checks.append((valid and bool(state.paths), "every results.json validates against the Gradescope schema"))
    return checks


def report(state: DemoState) -> tuple[bool, list[str]]:
    """The gradebook table, every report's path, and the expectations."""
    from autograder.reports import gradebook_table

    paths = state.paths
    lines = [*gradebook_table(state.merged).splitlines(), ""]
    lines += [f"grades.csv      {paths.grades_csv}", f"class summary   {paths.summary_html}"]
    lines += [f"                {paths.summary_json}"]
    for student in sorted(paths.feedback_html):
        lines.append(f"{student:<24} {paths.feedback_html[student]}")
        lines.append(f"{'':<24} {paths.results_json[student]}")
    lines.append("")
    checks = expectations(state)
    lines += [f"expected: {text}" + ("" if ok else "  <-- NOT MET") for ok, text in checks]
    return all(ok for ok, _ in checks), lines
