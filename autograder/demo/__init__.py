"""`make demo` (`python -m autograder.demo`): release the kit, then run the public checks on the
reference and on the released skeleton, each in its own process. Steps run in order; a later issue
appends the grading pipeline (submissions, sandbox, hidden suites, reports) as further steps."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autograder.cli import repo_root
from autograder.demo.steps import DemoGrading, DemoState
from autograder.errors import AutograderError
from autograder.release import release
from exercise_code.checks import CheckReport, Status

CHECKS_TIMEOUT_S = 300
"""Wall-clock limit of one public-checks process."""


@dataclass(frozen=True)
class DemoSettings:
    """What the demo works on."""

    source: Path = field(default_factory=repo_root)
    """The kit root (reference solutions)."""
    out: Path = Path("build/release")
    """Where the student release is written (relative paths are taken from `source`)."""
    groups: tuple[str, ...] = ("layers",)
    """Public check groups to run."""


@dataclass
class StepResult:
    """One step's outcome: did it meet its expectation, and lines to show."""

    ok: bool
    lines: list[str]


@dataclass
class DemoContext:
    settings: DemoSettings
    release_dir: Path | None = None
    reports: dict[str, CheckReport] = field(default_factory=dict)
    grading: DemoGrading = field(default_factory=DemoGrading)
    state: DemoState = field(default_factory=DemoState)


def run_public_checks(root: Path, groups: tuple[str, ...]) -> CheckReport:
    """The public checks of the `exercise_code` under `root`, run in a fresh process (no shared imports)."""
    result = subprocess.run(
        [sys.executable, "-P", "-m", "exercise_code.checks", "--json", *groups],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=CHECKS_TIMEOUT_S,
    )
    try:
        return CheckReport.from_dict(json.loads(result.stdout))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise AutograderError(
            f"the checks under {root} did not report (exit {result.returncode}):\n{result.stderr[-2000:]}"
        ) from exc


def step_release(ctx: DemoContext) -> StepResult:
    out = ctx.settings.out if ctx.settings.out.is_absolute() else ctx.settings.source / ctx.settings.out
    report = release(source=ctx.settings.source, out=out)
    ctx.release_dir = report.out
    return StepResult(True, report.summary_lines())


def step_checks_reference(ctx: DemoContext) -> StepResult:
    report = run_public_checks(ctx.settings.source, ctx.settings.groups)
    ctx.reports["reference"] = report
    verdict = "expected: every check passes" + ("" if report.ok else "  <-- NOT MET")
    return StepResult(report.ok, [*str(report).splitlines(), verdict])


def step_checks_skeleton(ctx: DemoContext) -> StepResult:
    assert ctx.release_dir is not None, "the release step runs first"
    report = run_public_checks(ctx.release_dir, ctx.settings.groups)
    ctx.reports["skeleton"] = report
    ok = report.total > 0 and all(r.status is Status.NOT_IMPLEMENTED for r in report.results)
    verdict = 'expected: every check says "not implemented yet"' + ("" if ok else "  <-- NOT MET")
    return StepResult(ok, [*str(report).splitlines(), verdict])


def step_generate_data(ctx: DemoContext) -> StepResult:
    from autograder.demo.steps import generate_data

    return StepResult(*generate_data(ctx.settings.source, ctx.grading))


def step_build_submissions(ctx: DemoContext) -> StepResult:
    from autograder.demo.steps import build_submissions

    return StepResult(*build_submissions(ctx.settings.source, ctx.release_dir, ctx.grading, ctx.state))


def step_grade(ctx: DemoContext) -> StepResult:
    from autograder.demo.steps import grade

    return StepResult(*grade(ctx.settings.source, ctx.grading, ctx.state))


def step_report(ctx: DemoContext) -> StepResult:
    from autograder.demo.steps import report

    return StepResult(*report(ctx.state))


STEPS: list[tuple[str, Callable[[DemoContext], StepResult]]] = [
    ("release the student version", step_release),
    ("public checks on the reference solutions", step_checks_reference),
    ("public checks on the released skeleton", step_checks_skeleton),
    ("generate the data", step_generate_data),
    (
        "build the sample submissions (reference with briefly trained models, skeleton, buggy, malicious)",
        step_build_submissions,
    ),
    ("grade them in one pass, in parallel, in the sandbox: hidden suites, notebooks, examples", step_grade),
    ("gradebook and reports", step_report),
]
"""The demo, in order: (title, step). Append grading steps here."""
RELEASE_STEPS = 3
"""The steps before grading (`--skip-grading` runs only these)."""


def main(argv: list[str] | None = None) -> int:
    """Run every step, printing each as it finishes; exit 1 at the first step that fails its expectation."""
    parser = argparse.ArgumentParser(prog="python -m autograder.demo", description=__doc__)
    parser.add_argument(
        "--out",
        type=Path,
        default=DemoSettings.out,
        help="release folder (default: build/release); submissions and reports go to its sibling demo/",
    )
    parser.add_argument(
        "--skip-grading", action="store_true", help=f"stop after the first {RELEASE_STEPS} steps (no grading)"
    )
    parser.add_argument("--workers", type=int, default=DemoGrading.workers, help="submissions graded at once")
    args = parser.parse_args(argv)
    grading = DemoGrading(workers=args.workers, out=args.out.parent / "demo")
    ctx = DemoContext(DemoSettings(out=args.out), grading=grading)
    steps = STEPS[:RELEASE_STEPS] if args.skip_grading else STEPS
    started = time.monotonic()
    for number, (title, step) in enumerate(steps, start=1):
        print(f"== {number}/{len(steps)} {title} ({time.monotonic() - started:.0f} s)", flush=True)
        try:
            result = step(ctx)
        except AutograderError as exc:
            print(f"demo: error: {exc}", file=sys.stderr)
            return 1
        print("\n".join(f"   {line}" for line in result.lines), flush=True)
        if not result.ok:
            print(f"demo: step {number} did not give the expected result", file=sys.stderr)
            return 1
    print(f"demo: {len(steps)} steps in {time.monotonic() - started:.0f} s")
    print("demo: done")
    return 0
