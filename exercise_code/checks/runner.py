"""The public check runner: named checks in groups, one result each, a score per group; it never crashes.

A check is a function of no arguments registered with `@check(group, name)`; it returns on success,
raises CheckFailed (usually through `compare`) with a message that says what went wrong, or NotDoneYet
when a step it needs is still ahead of the student (a model not trained yet). Files a check reads are
under `kit_root()`, the `root` given to `run_checks` (default: the current directory).
"""

from __future__ import annotations

import html
import importlib
import os
import time
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path, PurePath
from typing import Any

import torch

from exercise_code.testing import TOLERANCE, Tolerance, mismatch

from .settings import GROUP_MODULES, POINTS

CheckFn = Callable[[], None]
_REGISTRY: dict[str, dict[str, CheckFn]] = {}
_ROOT: ContextVar[Path] = ContextVar("kit_root", default=Path("."))

VISIBLE_ONLY = "visible checks only; the grader runs more hidden tests"
"""How every score line labels its points."""

STUB_SUFFIX = ": not implemented yet"
"""End of the message of the `raise NotImplementedError` that `autograder release` leaves in a skeleton."""


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_IMPLEMENTED = "not implemented"
    ERROR = "error"


_MARKS = {
    Status.PASSED: "PASS",
    Status.FAILED: "FAIL",
    Status.NOT_IMPLEMENTED: "TODO",
    Status.ERROR: "ERROR",
}
_COLOURS = {Status.PASSED: "#1a7f37", Status.FAILED: "#cf222e", Status.NOT_IMPLEMENTED: "#9a6700"}


class CheckFailed(AssertionError):
    """A check found a wrong answer; the message says what was expected and what came back."""


class NotDoneYet(Exception):
    """A step the check needs is still to do (e.g. a model not trained yet): reported as a TODO."""


def kit_root() -> Path:
    """The folder given to the running `run_checks(root=...)` (default "."); `models/` is read there."""
    return _ROOT.get()


def check(group: str, name: str) -> Callable[[CheckFn], CheckFn]:
    """Register the decorated function as check `name` of `group` (in definition order)."""

    def register(fn: CheckFn) -> CheckFn:
        _REGISTRY.setdefault(group, {})[name] = fn  # re-importing a module replaces, never duplicates
        return fn

    return register


def compare(
    got: object, expected: torch.Tensor, what: str, context: str = "", tol: Tolerance = TOLERANCE
) -> None:
    """Raise CheckFailed unless `got` is a tensor of `expected`'s shape and values (within `tol`).

    The message names `what` was compared and the `context` (argument combination), then says what
    `exercise_code.testing.mismatch` found: the shapes, or the number of wrong values, the max abs error
    and the worst element.
    """
    problem = mismatch(got, expected, tol)
    if problem is not None:
        where = f" ({context})" if context else ""
        raise CheckFailed(f"{what}{where}: {problem}")


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome."""

    group: str
    name: str
    status: Status
    message: str = ""
    seconds: float = 0.0

    def line(self) -> str:
        """`[PASS ] name`, `[FAIL ] name: message`, `[TODO ] name: not implemented yet`, ..."""
        return f"[{_MARKS[self.status]:5}] {self.name}" + (f": {self.message}" if self.message else "")


@dataclass(repr=False)
class CheckReport:
    """All results of a run; `str(report)` is one line per check plus one score line per group."""

    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(r.status is Status.PASSED for r in self.results)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def ok(self) -> bool:
        """True when there was at least one check and every check passed."""
        return self.total > 0 and self.passed == self.total

    def points(self, group: str) -> tuple[float, float] | None:
        """(earned, available) points of `group` on the public scale (`settings.POINTS`), or None when
        the group has no points; every check of a group is worth the same share."""
        available = POINTS.for_group(group)
        mine = [r for r in self.results if r.group == group]
        if available is None or not mine:
            return None
        done = sum(r.status is Status.PASSED for r in mine)
        return available * done / len(mine), available

    def score_lines(self) -> list[str]:
        """`layers: 7/9 checks passed, 7.8/10 points (visible checks only; ...)`, one line per group, and a
        total line when several groups with points ran."""
        groups = dict.fromkeys(r.group for r in self.results)
        lines, earned, available = [], 0.0, 0.0
        for group in groups:
            mine = [r for r in self.results if r.group == group]
            done = sum(r.status is Status.PASSED for r in mine)
            line = f"{group}: {done}/{len(mine)} checks passed"
            points = self.points(group)
            if points is not None:
                line += f", {_fmt(points[0])}/{_fmt(points[1])} points ({VISIBLE_ONLY})"
                earned, available = earned + points[0], available + points[1]
            lines.append(line)
        if sum(self.points(g) is not None for g in groups) > 1:
            lines.append(f"total: {_fmt(earned)}/{_fmt(available)} points ({VISIBLE_ONLY})")
        return lines or ["no checks were run"]

    def __str__(self) -> str:
        return "\n".join([*(r.line() for r in self.results), *self.score_lines()])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        rows = "".join(
            f'<div style="color:{_COLOURS.get(r.status, "#cf222e")}">{html.escape(r.line())}</div>'
            for r in self.results
        )
        scores = "".join(f"<div><b>{html.escape(s)}</b></div>" for s in self.score_lines())
        return f'<div style="font-family:monospace;white-space:pre-wrap">{rows}{scores}</div>'

    def show(self) -> None:
        """Print the report (for notebooks and scripts)."""
        print(self)

    def to_dict(self) -> dict[str, Any]:
        groups = dict.fromkeys(r.group for r in self.results)
        return {
            "passed": self.passed,
            "total": self.total,
            "points": {g: list(p) for g in groups if (p := self.points(g)) is not None},
            "results": [asdict(r) for r in self.results],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckReport:
        return cls([CheckResult(**{**r, "status": Status(r["status"])}) for r in data["results"]])


def _fmt(points: float) -> str:
    """`10`, `7.5`, `3.3`: points with at most one decimal."""
    return f"{points:.1f}".removesuffix(".0")


def _is_student_code(frame: traceback.FrameSummary) -> bool:
    parts = PurePath(frame.filename).parts
    return "exercise_code" in parts and "checks" not in parts[parts.index("exercise_code") :]


def _where(exc: BaseException) -> str:
    """` (at file:line in function)` of the deepest frame in the student's own code (else the deepest)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    frame = ([f for f in frames if _is_student_code(f)] or frames)[-1]
    parts = PurePath(frame.filename).parts
    short = "/".join(parts[parts.index("exercise_code") :]) if "exercise_code" in parts else parts[-1]
    return f" (at {short}:{frame.lineno} in {frame.name})"


def _classify(name: str, exc: BaseException) -> tuple[Status, str]:
    """Status and message of a check that raised `exc`."""
    if isinstance(exc, CheckFailed):
        return Status.FAILED, str(exc)
    if isinstance(exc, NotDoneYet):
        return Status.NOT_IMPLEMENTED, str(exc)
    if isinstance(exc, NotImplementedError):
        message = str(exc)
        stub = message.removesuffix(STUB_SUFFIX) if message.endswith(STUB_SUFFIX) else ""
        frames = traceback.extract_tb(exc.__traceback__)
        if stub or (frames and _is_student_code(frames[-1])):  # not an operator PyTorch lacks
            needs = f" (needs {stub})" if stub and stub != name.split()[0] else ""
            return Status.NOT_IMPLEMENTED, f"not implemented yet{needs}"
    notes = "".join(f"; {note}" for note in getattr(exc, "__notes__", ()))  # e.g. `calling(...)`'s
    return Status.ERROR, f"{type(exc).__name__}: {exc}{_where(exc)}{notes}"


def _run_one(group: str, name: str, fn: CheckFn) -> CheckResult:
    start = time.perf_counter()
    try:
        fn()
    except (Exception, SystemExit) as exc:  # a student's bug must never crash the runner
        status, message = _classify(name, exc)
        return CheckResult(group, name, status, message, time.perf_counter() - start)
    return CheckResult(group, name, Status.PASSED, "", time.perf_counter() - start)


def run_checks(*groups: str, root: str | os.PathLike[str] = ".") -> CheckReport:
    """Run the checks of `groups` (every group of `settings.GROUP_MODULES` when none is given) and return
    the report. `root` is the kit folder whose `models/` the `models` checks read."""
    if not Path(root).is_dir():
        raise ValueError(f"root must be an existing folder (the kit's root), got {str(root)!r}")
    token = _ROOT.set(Path(root))
    try:
        return _run_groups(groups or tuple(GROUP_MODULES))
    finally:
        _ROOT.reset(token)


def _run_groups(groups: tuple[str, ...]) -> CheckReport:
    report = CheckReport()
    for group in groups:
        if group not in GROUP_MODULES:
            known = ", ".join(GROUP_MODULES)
            report.results.append(
                CheckResult(group, group, Status.ERROR, f"unknown check group; known: {known}")
            )
            continue
        try:
            importlib.import_module(GROUP_MODULES[group])
        except Exception as exc:  # the student's package may not even import
            message = f"{type(exc).__name__}: {exc}{_where(exc)}"
            report.results.append(CheckResult(group, f"import {GROUP_MODULES[group]}", Status.ERROR, message))
            continue
        checks = _REGISTRY.get(group, {})
        if not checks:
            report.results.append(CheckResult(group, group, Status.ERROR, "no checks registered"))
        report.results += [_run_one(group, name, fn) for name, fn in checks.items()]
    return report
