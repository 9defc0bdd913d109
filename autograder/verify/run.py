"""`verify`: grade the reference, the released skeleton and every corpus entry through `grade_submission`.

The reference must score full marks, the skeleton nothing, each wrong solution must lose points on the
tests its entry names, and each correct alternative must keep full marks there. Entries are graded on
their own suite files only, several at a time in separate processes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.errors import VerifyError
from autograder.grading import HIDDEN_DIR, GradeSettings, SubmissionResult, grade_submission
from autograder.grading.rubric import rubric_key

from .corpus import CorpusEntry, apply_cheat, apply_entry, copy_package, load_cheats, load_corpus
from .reference_models import ModelBudget, reference_models

log = logging.getLogger(__name__)
EPS = 1e-9
CHEAT_SHARE = 0.01
"""A cheat is caught when it earns at most this share of the points of the tests it targets."""
SUITE_SUPPORT = ("conftest.py", "rubric.toml", "forbidden.toml")
NOTEBOOK_STUB = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'
ANY_QUALITY: dict[str, tuple[float, float]] = {
    "segmentation_miou": (-1.0, 0.0),
    "reconstruction_mse": (2.0, 1.0),
    "few_label_accuracy": (-1.0, 0.0),
}
"""Score scales (floor, target) under which any finite quality earns full points: for reference models
trained for seconds (`TINY_BUDGET`, `autograder verify --quick`), which cannot reach the assignment's
targets and must not make the reference look wrong. The quality tests' own mapping is checked elsewhere."""


@dataclass
class Outcome:
    """What grading one submission of the verification showed, and whether that is what was expected."""

    name: str
    kind: str
    """reference, skeleton, bug, correct or cheat."""
    ok: bool
    detail: str
    score: float = 0.0
    max_score: float = 0.0
    expected: tuple[str, ...] = ()
    tests: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Rubric key -> (points, max points), summed over the key's cases."""


@dataclass
class VerifyReport:
    """Every outcome of one `verify` run."""

    outcomes: list[Outcome]
    seed: int
    models: str
    seconds: float = 0.0
    scales: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Score scales overridden for this run (empty: the assignment's own); cheats keep the assignment's."""

    @property
    def ok(self) -> bool:
        return bool(self.outcomes) and all(o.ok for o in self.outcomes)

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def lines(self) -> list[str]:
        lines = [
            f"{'ok ' if o.ok else 'BAD'} {o.kind:<9} {o.name:<40} "
            f"{o.score:7.2f}/{o.max_score:<7.2f} {o.detail}"
            for o in self.outcomes
        ]
        bugs = [o for o in self.outcomes if o.kind == "bug"]
        caught = sum(o.ok for o in bugs)
        lines.append(
            f"{caught}/{len(bugs)} wrong solutions caught by the named tests; seed {self.seed}; "
            f"models {self.models}; {self.seconds:.0f} s"
        )
        cheats = [o for o in self.outcomes if o.kind == "cheat"]
        if cheats:
            lines.append(f"{sum(o.ok for o in cheats)}/{len(cheats)} cheats earn nothing on the named tests")
        if self.scales:
            lines.append(
                f"NOTE: score scales overridden for this run (not the assignment's quality targets; "
                f"cheats are graded on the assignment's own): {self.scales}"
            )
        lines.append("verify: OK" if self.ok else f"verify: {len(self.failures())} unexpected outcome(s)")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "ok": self.ok}


# --- building the submissions --------------------------------------------------------------------------


def _submission(
    package_root: Path, models: Path | None, dest: Path, entry: CorpusEntry | None = None
) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    copy_package(package_root, dest)
    if entry is not None:
        apply_entry(dest, entry)
    if models is not None:
        (dest / "models").mkdir()
        for file in sorted(models.glob("*.json")) + sorted(models.glob("*.pt")):
            if file.name != "metrics.json":
                shutil.copy2(file, dest / "models" / file.name)
    (dest / "notebooks").mkdir()
    (dest / "notebooks" / "placeholder.ipynb").write_text(NOTEBOOK_STUB)
    return dest


def _suite_subset(suites: Path, files: tuple[str, ...], dest: Path) -> Path:
    """A folder with only `files` of the hidden suites (plus their conftest, rubric and forbidden list)."""
    if dest.exists():
        return dest
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in (*SUITE_SUPPORT, *files):
        if not (suites / name).is_file():
            raise VerifyError(f"hidden suite file {suites / name} does not exist")
        shutil.copy2(suites / name, tmp / name)
    tmp.rename(dest)
    return dest


# --- grading in worker processes -----------------------------------------------------------------------


def _init_child(scales: dict[str, tuple[float, float]]) -> None:
    """Apply score-scale overrides to the trusted config of this grading process (verify only)."""
    logging.basicConfig(level=logging.WARNING)
    if not scales:
        return
    import exercise_code.config as config_module

    changes = {name: config_module.Scale(*pair) for name, pair in scales.items()}
    config_module.CONFIG = dataclasses.replace(config_module.CONFIG, **changes)


def _grade(job: dict[str, Any]) -> dict[str, Any]:
    result = grade_submission(
        Path(job["path"]),
        out=Path(job["out"]),
        suites=Path(job["suites"]),
        seed=job["seed"],
        settings=GradeSettings.from_dict(job["settings"]),
        student=job["name"],
    )
    return result.to_dict()


def _per_test(result: SubmissionResult) -> dict[str, tuple[float, float]]:
    tests: dict[str, tuple[float, float]] = {}
    for t in result.tests:
        points, most = tests.get(rubric_key(t.name), (0.0, 0.0))
        tests[rubric_key(t.name)] = (points + t.points, most + t.max_points)
    return tests


def judge(name: str, kind: str, result: SubmissionResult, expected: tuple[str, ...] = ()) -> Outcome:
    """Compare one graded submission with what its kind demands."""
    tests = _per_test(result)
    outcome = Outcome(name, kind, False, "", result.score, result.max_score, expected, tests)
    if result.status != "graded":
        outcome.detail = f"submission status {result.status}: {result.message}"[:300]
        return outcome
    if kind == "reference":
        short = sorted(t.name for t in result.tests if t.points < t.max_points - EPS)
        outcome.ok, outcome.detail = (
            not short and bool(tests),
            f"below full marks: {short}" if short else "full marks",
        )
        if short:
            messages = {t.name: f"{t.status}: {t.message}" for t in result.tests if t.name in short[:5]}
            outcome.detail += f" {messages}"[:1500]
    elif kind == "skeleton":
        scored = sorted(t.name for t in result.tests if t.points > EPS)
        outcome.ok, outcome.detail = (
            not scored and bool(tests),
            f"scored on {scored}" if scored else "zero everywhere",
        )
    elif kind == "cheat":
        named = [t for t in result.tests if t.name in expected or rubric_key(t.name) in expected]
        earned, most = sum(t.points for t in named), sum(t.max_points for t in named)
        found = {t.name for t in named} | {rubric_key(t.name) for t in named}
        missing = [k for k in expected if k not in found]
        how = "; ".join(f"{t.name}: {t.status}: {t.message}" for t in named)[:600]
        if missing:
            outcome.detail = f"tests not run: {missing}"
        else:
            outcome.ok = earned <= CHEAT_SHARE * most
            outcome.detail = (
                f"{'caught' if outcome.ok else 'NOT caught'}: earns {earned:.2f} of {most:.2f} ({how})"
            )
    else:
        missing = [k for k in expected if k not in tests]
        full = [k for k in expected if k in tests and tests[k][0] >= tests[k][1] - EPS]
        losing = sorted(k for k, (p, m) in tests.items() if p < m - EPS)
        if missing:
            outcome.detail = f"tests not run: {missing}"
        elif kind == "bug":
            outcome.ok = not full
            outcome.detail = f"NOT caught by {full}; " if full else "caught; "
            outcome.detail += f"loses points on {losing}"
        else:
            outcome.ok = len(full) == len(expected)
            outcome.detail = (
                "full marks on " + ", ".join(expected) if outcome.ok else f"loses points on {losing}"
            )
    return outcome


def verify(
    *,
    source: Path,
    corpus: Path | None,
    out: Path,
    suites: Path = HIDDEN_DIR,
    models: Path | None = None,
    budget: ModelBudget | None = None,
    seed: int = 0,
    workers: int = 2,
    only: tuple[str, ...] | list[str] = (),
    reference: bool = True,
    skeleton: bool = True,
    scales: dict[str, tuple[float, float]] | None = None,
    settings: GradeSettings | None = None,
    progress: Callable[[Outcome], None] | None = None,
    cheats: Path | None = None,
) -> VerifyReport:
    """Grade the reference (`source`), its released skeleton and the corpus entries; judge each.

    `models` is a folder of reference models (default: trained with `budget` and cached under
    `source/build/reference_models/`). `scales` overrides score scales (`{"segmentation_miou": (floor,
    target)}`) in the grading processes only, for quick runs whose briefly trained models cannot reach the
    assignment's targets (`ANY_QUALITY` with `TINY_BUDGET`); the report says so. `cheats` is a folder of
    cheating submissions (`autograder.verify.corpus.CheatEntry`), each of which must earn nothing on the
    tests it names; they are always graded on the assignment's own scales (in a pool of their own).
    """
    start = time.monotonic()
    source, out, suites = Path(source).resolve(), Path(out).resolve(), Path(suites).resolve()
    entries = load_corpus(corpus, only) if corpus is not None else []
    cheat_entries = load_cheats(cheats, only) if cheats is not None else []
    if models is None and (reference or skeleton or cheat_entries):
        models = reference_models(source=source, budget=budget or ModelBudget())
    settings = settings or GradeSettings()
    shutil.rmtree(out / "submissions", ignore_errors=True)
    shutil.rmtree(out / "suites", ignore_errors=True)
    jobs: list[tuple[dict[str, Any], str, tuple[str, ...]]] = []

    def add(name: str, kind: str, path: Path, suite_dir: Path, expected: tuple[str, ...] = ()) -> None:
        job = {
            "name": name,
            "path": str(path),
            "out": str(out / "grading"),
            "suites": str(suite_dir),
            "seed": seed,
            "settings": settings.to_dict(),
        }
        jobs.append((job, kind, expected))

    if reference:
        add("reference", "reference", _submission(source, models, out / "submissions" / "reference"), suites)
    if skeleton:
        from autograder.release import release

        release(source=source, out=out / "skeleton-release", notebooks=False)
        path = _submission(out / "skeleton-release", models, out / "submissions" / "skeleton")
        add("skeleton", "skeleton", path, suites)
    for entry in entries:
        subset = _suite_subset(suites, entry.suite_files, out / "suites" / "+".join(entry.suite_files))
        path = _submission(source, None, out / "submissions" / entry.name, entry)
        add(entry.name, entry.kind, path, subset, entry.catch or entry.full)
    for cheat in cheat_entries:
        subset = _suite_subset(suites, cheat.suite_files, out / "suites" / "+".join(cheat.suite_files))
        path = _submission(source, models, out / "submissions" / f"cheat-{cheat.name}")
        apply_cheat(path, cheat, models)
        add(cheat.name, cheat.kind, path, subset, cheat.catch)

    outcomes: dict[str, Outcome] = {}
    context = multiprocessing.get_context("spawn")
    # Widened scales would hand a cheat the quality points it must not earn: cheats keep the assignment's.
    groups = [(scales or {}, [j for j in jobs if not scales or j[1] != "cheat"])]
    if scales:
        groups.append(({}, [j for j in jobs if j[1] == "cheat"]))
    for group_scales, group in groups:
        if not group:
            continue
        with ProcessPoolExecutor(
            max(1, workers), mp_context=context, initializer=_init_child, initargs=(group_scales,)
        ) as pool:
            futures = {pool.submit(_grade, job): (job, kind, expected) for job, kind, expected in group}
            for future in as_completed(futures):
                job, kind, expected = futures[future]
                try:
                    result = SubmissionResult.from_dict(future.result())
                    outcome = judge(job["name"], kind, result, expected)
                except Exception as exc:
                    failed = f"grading failed: {type(exc).__name__}: {exc}"
                    outcome = Outcome(job["name"], kind, False, failed)
                outcomes[job["name"]] = outcome
                if progress is not None:
                    progress(outcome)
    order = [job["name"] for job, _, _ in jobs]
    report = VerifyReport(
        outcomes=[outcomes[n] for n in order],
        seed=seed,
        models=str(models),
        seconds=time.monotonic() - start,
        scales=dict(scales or {}),
    )
    (out / "verify.json").write_text(json.dumps(report.to_dict(), indent=1))
    return report
