"""The `no forbidden shortcuts` check of a group: the grader's static scan, run on the student's own files.

A group's module registers it with one line, `shortcut_check("layers", "exercise_code.layers")`; it scans
every exercise under those modules whose rule (the kit's `exercise_code/forbidden/rules.toml`) forbids
something. It fails naming each forbidden call with its file and line, says "not implemented yet" while
an exercise it covers is still the skeleton's stub, and passes otherwise.
"""

from __future__ import annotations

import ast
from pathlib import Path

import exercise_code
from exercise_code.forbidden import (
    CONSEQUENCE,
    exercise_name,
    find_definition,
    in_modules,
    kit_rules,
    scan_kit,
)

from .runner import STUB_SUFFIX, CheckFailed, NotDoneYet, check

CHECK_NAME = "no forbidden shortcuts"
SHOWN = 3
"""Stubs named in the "not implemented yet" message."""
SCOPES: dict[str, tuple[str, ...]] = {}
"""Group -> the modules (dotted prefixes) its `no forbidden shortcuts` check scans."""


def package_root() -> Path:
    """The folder holding the imported `exercise_code`: the files the other checks run are the ones read."""
    return Path(exercise_code.__path__[0]).resolve().parent


def is_stub(root: Path, exercise: str) -> bool:
    """True when `exercise` under `root` still raises the skeleton's `NotImplementedError("...: not
    implemented yet")` somewhere in its definition."""
    located = find_definition(root, exercise)
    if located is None:
        return False
    for node in ast.walk(located[1]):
        call = node.exc if isinstance(node, ast.Raise) else None
        if (
            isinstance(call, ast.Call)
            and getattr(call.func, "id", None) == "NotImplementedError"
            and call.args
            and isinstance(call.args[0], ast.Constant)
            and str(call.args[0].value).endswith(STUB_SUFFIX)
        ):
            return True
    return False


def scan_group(modules: tuple[str, ...]) -> None:
    """The check: CheckFailed listing every forbidden call under `modules`, NotDoneYet while one of their
    exercises is a stub, else nothing. A kit without a rules file has nothing to check."""
    root = package_root()
    rules = kit_rules(root)
    violations = scan_kit(root, modules, rules)
    if violations:
        raise CheckFailed("; ".join(v.message() for v in violations) + f"; {CONSEQUENCE}")
    covered = [name for name, names in rules.items() if names and in_modules(name, modules)]
    stubs = [name for name in covered if is_stub(root, name)]
    if stubs:
        names = [exercise_name(name) for name in stubs]
        more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
        raise NotDoneYet(f"not implemented yet (still to write: {', '.join(names[:SHOWN])}{more})")


def shortcut_check(group: str, *modules: str) -> None:
    """Register `group`'s `no forbidden shortcuts` check over the exercises under `modules`."""
    SCOPES[group] = modules
    check(group, CHECK_NAME)(lambda: scan_group(modules))
