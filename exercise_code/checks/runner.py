"""The public check runner: named checks in groups, one line each, a score line; it never crashes."""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

GROUP_MODULES: dict[str, str] = {
    "layers": "exercise_code.checks.layers",
}
"""Check groups and the module that registers each; a new group is one line here."""

_REGISTRY: dict[str, list[tuple[str, Callable[[], None]]]] = {}

ATOL = 1e-5
RTOL = 1e-4
"""Tolerances of every public numeric comparison (float32 inputs)."""


class CheckFailed(AssertionError):
    """A check found a wrong answer; the message says what was expected and what came back."""


def check(group: str, name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Register a check: a function of no arguments that returns on success or raises CheckFailed."""

    def register(fn: Callable[[], None]) -> Callable[[], None]:
        _REGISTRY.setdefault(group, []).append((name, fn))
        return fn

    return register


def compare(got: object, expected: torch.Tensor, what: str, context: str = "") -> None:
    """Raise CheckFailed unless `got` is a tensor equal to `expected` within ATOL/RTOL."""
    where = f" ({context})" if context else ""
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"{what}{where}: expected a torch.Tensor, got {type(got).__name__}")
    if got.shape != expected.shape:
        raise CheckFailed(f"{what}{where}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}")
    error = (got.detach().double() - expected.detach().double()).abs()
    bound = ATOL + RTOL * expected.detach().double().abs()
    if not torch.isfinite(got).all() or (error > bound).any():
        raise CheckFailed(f"{what}{where}: max abs error {float(error.max()):.3g} (allowed {ATOL:g})")


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: status is passed, failed, not implemented or error."""

    group: str
    name: str
    status: str
    message: str = ""

    def line(self) -> str:
        mark = {"passed": "PASS", "failed": "FAIL", "not implemented": "TODO", "error": "ERROR"}[self.status]
        text = "not implemented yet" if self.status == "not implemented" else self.message
        return f"[{mark:5}] {self.name}" + (f": {text}" if text else "")


@dataclass
class CheckReport:
    """All results of a run, with the score line."""

    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(r.status == "passed" for r in self.results)

    @property
    def ok(self) -> bool:
        return bool(self.results) and self.passed == len(self.results)

    def score_line(self) -> str:
        groups = ", ".join(sorted({r.group for r in self.results})) or "no checks"
        return f"{groups}: {self.passed}/{len(self.results)} checks passed"

    def __str__(self) -> str:
        return "\n".join([*(r.line() for r in self.results), self.score_line()])

    __repr__ = __str__


def _run_one(group: str, name: str, fn: Callable[[], None]) -> CheckResult:
    try:
        fn()
    except NotImplementedError:
        return CheckResult(group, name, "not implemented")
    except CheckFailed as exc:
        return CheckResult(group, name, "failed", str(exc))
    except Exception as exc:  # a student's bug must never crash the runner
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f" at {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
        return CheckResult(group, name, "error", f"{type(exc).__name__}: {exc}{where}")
    return CheckResult(group, name, "passed")


def run_checks(*groups: str) -> CheckReport:
    """Run the checks of `groups` (all groups when none is given) and return the report."""
    report = CheckReport()
    for group in groups or tuple(GROUP_MODULES):
        if group not in GROUP_MODULES:
            known = ", ".join(GROUP_MODULES)
            report.results.append(CheckResult(group, group, "error", f"unknown check group; known: {known}"))
            continue
        try:
            importlib.import_module(GROUP_MODULES[group])
        except Exception as exc:  # the student's package may not even import
            report.results.append(
                CheckResult(group, f"import {group}", "error", f"{type(exc).__name__}: {exc}")
            )
            continue
        for name, fn in _REGISTRY.get(group, []):
            report.results.append(_run_one(group, name, fn))
    return report
