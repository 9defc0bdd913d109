"""Planted checks: short cells with a known right answer, run in the student's kernel around every test.

A kernel patched to hide failures or fake results answers one of them wrongly, however the patch spells
its names; the notebook is then flagged for review and its test cells from the last honest check on score
0. Numbers, names and forms are drawn afresh for every run (SystemRandom), so no fixed text tells a check
from a test, and the checks reach the sandbox only through the runner's private job pipe.
"""

from __future__ import annotations

import builtins
import keyword
import random
from dataclasses import dataclass, field
from enum import Enum

from autograder.release.notebooks.build import Role

from .execute import CellRecord, NotebookRun
from .match import GradingCell

_CONSONANTS, _VOWELS = "bdfgklmnprstvz", "aeiou"


class CheckKind(Enum):
    FAILURE = "failure"
    """A failing `assert`: the kernel must reply AssertionError with `tag` in its message."""
    WHOLE = "whole"
    """An int-valued expression: the kernel must display `value`."""
    FRACTION = "fraction"
    """A float-valued expression (quarters, exact in binary): the kernel must display `value`."""


@dataclass(frozen=True)
class Check:
    """One planted cell, run just before the notebook cell `position` (`len(cells)`: after the last)."""

    position: int
    source: str
    kind: CheckKind
    tag: str = ""
    value: float = 0.0


@dataclass(frozen=True)
class Verdict:
    """What the planted checks say about the kernel."""

    untrusted_from: int | None = None
    """Test cells at this index or later score 0 (None: every check that ran was answered right)."""
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    """`flagged for review: ...` lines for the notebook's result."""


def _name(rng: random.Random) -> str:
    while True:
        name = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(rng.randint(3, 5)))
        if not keyword.iskeyword(name) and not hasattr(builtins, name):
            return name


def _number(rng: random.Random, n: int) -> str:
    """The integer `n >= 0` spelled as one of several literal expressions (no names: a student's
    `sum = 0` must not break a check)."""
    a, b = rng.randrange(1, 1 << 20), rng.randrange(0, n + 1)
    return rng.choice([str(n), hex(n), f"({n + a} - {a})", f"({n ^ a:#x} ^ {a:#x})", f"({b} + {n - b})"])


def _failure(rng: random.Random) -> tuple[str, str]:
    tag = f"{rng.getrandbits(64):016x}"
    message = repr(f"{_name(rng)} {tag}")
    n, d = rng.randrange(1, 1 << 30), rng.randrange(1, 1000)
    f, p, q = _name(rng), _name(rng), _name(rng) + "_"
    forms = [
        f"assert {_number(rng, n)} == {_number(rng, n + d)}, {message}",
        f"assert not {_number(rng, n)}, {message}",
        f"assert {_number(rng, n + d)} < {_number(rng, n)}, {message}",
        f"assert (lambda {p}, {q}: {p} == {q})({_number(rng, n)}, {_number(rng, n + d)}), {message}",
        f"def {f}({p}):\n    assert {p} == {_number(rng, n + d)}, {message}\n\n\n"
        f"try:\n    {f}({_number(rng, n)})\nfinally:\n    del {f}",
    ]
    return rng.choice(forms), tag


def _whole(rng: random.Random, target: int) -> str:
    a = rng.randrange(0, 8)
    b = rng.randrange(0, target // a + 1) if a else rng.randrange(0, 100)
    mask, p = rng.randrange(1, 1 << 16), _name(rng)
    return rng.choice(
        [
            _number(rng, target),
            f"{_number(rng, a)} * {b} + {_number(rng, target - a * b)}",
            f"(lambda {p}: {p} ^ {mask:#x})({_number(rng, target ^ mask)})",
        ]
    )


def _value(rng: random.Random, kind: CheckKind) -> tuple[str, float]:
    """An expression and its value: small (like partial credit) or large, whole or in quarters."""
    top = 40 if rng.random() < 0.5 else 1 << 31
    if kind is CheckKind.WHOLE:
        target = rng.randrange(0, top)
        return _whole(rng, target), float(target)
    quarters = rng.randrange(0, top // 4) * 4 + rng.choice([1, 2, 3])  # never a whole number
    p = _name(rng)
    source = rng.choice(
        [
            f"({_whole(rng, quarters)}) / 4",
            f"({_whole(rng, quarters)}) / 2 / 2",
            f"(lambda {p}: {p} / 4)({quarters})",
        ]
    )
    return source, quarters / 4


def _code(cells: list[GradingCell]) -> list[int]:
    return [i for i, c in enumerate(cells) if c.cell_type == "code" and c.source.strip()]


def _test_id(cell: GradingCell) -> str | None:
    if cell.restored and cell.origin is not None and cell.origin.role is Role.TESTS:
        return cell.origin.grade_id or "?"
    return None


def plan_checks(cells: list[GradingCell], rng: random.Random | None = None) -> list[Check]:
    """Checks before the first code cell, before and after every test cell, and after the last cell:
    at each place a failing assert and a whole and a fractional expression, in random order."""
    rng = rng or random.SystemRandom()
    code = _code(cells)
    places = {len(cells), *code[:1]}
    for at, i in enumerate(code):
        if _test_id(cells[i]):
            places.update((i, code[at + 1] if at + 1 < len(code) else len(cells)))
    checks = []
    for position in sorted(places):
        kinds = list(CheckKind)
        rng.shuffle(kinds)
        for kind in kinds:
            if kind is CheckKind.FAILURE:
                source, tag = _failure(rng)
                checks.append(Check(position, source, kind, tag=tag))
            else:
                source, value = _value(rng, kind)
                checks.append(Check(position, source, kind, value=value))
    return checks


def by_position(checks: list[Check]) -> dict[int, list[str]]:
    """Position -> the sources run there, in order (what the runner needs)."""
    found: dict[int, list[str]] = {}
    for check in checks:
        found.setdefault(check.position, []).append(check.source)
    return found


def _where(position: int, cells: list[GradingCell]) -> str:
    before = [i for i in _code(cells) if i < position]
    text = f"after cell {before[-1] + 1}" if before else "before the first cell"
    if before and _test_id(cells[before[-1]]):
        text += f" (test {_test_id(cells[before[-1]])!r})"
    if position < len(cells) and _test_id(cells[position]):
        text += f", before test {_test_id(cells[position])!r}"
    return text


def _judge(check: Check, record: CellRecord) -> tuple[str | None, bool]:
    """(what is wrong with the kernel's answer or None, whether the error display was hidden)."""
    if record.status == "timeout":
        return "the kernel did not finish a planted one-line check", False
    errors = [o for o in record.outputs if o["output_type"] == "error"]
    if check.kind is CheckKind.FAILURE:
        reply = record.reply
        if reply.get("status") != "error" or reply.get("ename") != "AssertionError":
            return "the kernel did not report a planted failing assert", False
        if check.tag not in reply.get("evalue", ""):
            return "the kernel reported a planted failing assert with another message", False
        shown = any(e["ename"] == "AssertionError" and check.tag in e["evalue"] for e in errors)
        return None, not shown
    result = next((o for o in record.outputs if o["output_type"] == "execute_result"), None)
    text = result["data"].get("text/plain", "").strip() if result else ""
    try:
        right = float(text) == check.value
    except ValueError:
        right = False
    if record.reply.get("status") != "ok" or errors or not right:
        got = repr(text[:40]) if result else "no result"
        return f"a planted expression came back as {got} instead of {check.value:.15g}", False
    return None, False


def _ran_later(run: NotebookRun, position: int, k: int) -> bool:
    return any(i >= position for i in run.cells) or any(key > (position, k) for key in run.checks)


def verdict(checks: list[Check], run: NotebookRun, cells: list[GradingCell]) -> Verdict:
    """Judge the kernel by its answers to `checks` (from `plan_checks(cells)`) recorded in `run`.

    The first wrong or withheld answer makes every test cell from the last place where all checks were
    answered right untrusted; a check not finished in time counts as wrong. A run that stopped before a
    check (the kernel died or hung in a notebook cell, the budget ran out) ends the judging there: its
    unrun tests score 0 anyway. A hidden traceback is only noted: scores come from the kernel's reply.
    """
    notes: list[str] = []
    trusted = -1
    places = by_position(checks)
    for position in sorted(places):
        group = [c for c in checks if c.position == position]
        for k, check in enumerate(group):
            where = _where(position, cells)
            record = run.checks.get((position, k))
            if record is None and not _ran_later(run, position, k):
                return Verdict(notes=notes)  # the run stopped before this check
            if record is not None and record.status == "dead":
                return Verdict(notes=notes)  # the kernel died: every later test is `crashed` already
            problem, hidden = ("the runner sent no record of a planted check", False)
            if record is not None:
                problem, hidden = _judge(check, record)
            if hidden and not notes:
                notes.append(
                    f"flagged for review: the kernel reported a planted failing assert {where} but showed "
                    "no traceback: its error display was changed (tests are still scored from its reply)"
                )
            if problem:
                reason = f"{problem} {where}: the kernel's execution or reporting was tampered with"
                start = f"cell {trusted + 1}" if trusted >= 0 else "the first cell"
                notes.append(f"flagged for review: {reason}; test cells from {start} on score 0")
                return Verdict(untrusted_from=trusted, reason=reason, notes=notes)
        trusted = position
    return Verdict(notes=notes)
