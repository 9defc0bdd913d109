"""The forbidden-shortcut rules: exercise (dotted name) -> the torch callables it must not use.

One file holds them: the course's `autograder/hidden/forbidden.toml`, which the grader reads and which
`autograder release` copies into the student kit as `exercise_code/forbidden/rules.toml`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

Rules = dict[str, tuple[str, ...]]
"""`{"exercise_code.layers.nearest_unpool2d": ("torch.nn.functional.interpolate", ...), ...}`"""

RELEASED_RULES = PurePosixPath("exercise_code/forbidden/rules.toml")
"""Where the student kit holds the rules (relative to the kit's root)."""
COURSE_RULES = PurePosixPath("autograder/hidden/forbidden.toml")
"""Where the course source holds them (relative to its root): the file the grader reads."""

_SHORT_PREFIXES = (("torch.nn.functional.", "F."), ("torch.nn.", "nn."))


def load_rules(path: Path) -> Rules:
    """The rules in the TOML file `path`; unquoted dotted keys (nested tables) are flattened.

    Raises ValueError naming the file when it cannot be read or an entry is not a list of dotted names.
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read the forbidden list {path}: {exc}") from None
    rules: Rules = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            rules[prefix] = tuple(value)
        else:
            raise ValueError(f"forbidden entry {prefix!r} in {path} must be a list of dotted names")

    walk("", data)
    return rules


def rules_file(root: Path) -> Path | None:
    """The rules file of the kit at `root` (the folder holding `exercise_code/`): the student kit's copy,
    else the course source's own file; None when it has neither."""
    for rel in (RELEASED_RULES, COURSE_RULES):
        path = Path(root) / rel
        if path.is_file():
            return path
    return None


def kit_rules(root: Path) -> Rules:
    """The rules of the kit at `root` (`rules_file`), or {} when it has no rules file."""
    path = rules_file(root)
    return load_rules(path) if path is not None else {}


def display_name(name: str) -> str:
    """How a student writes a forbidden callable: `torch.nn.functional.interpolate` -> `F.interpolate`,
    `torch.nn.Upsample` -> `nn.Upsample`; other names stay whole (`torch.max_unpool2d`)."""
    for long, short in _SHORT_PREFIXES:
        if name.startswith(long):
            return short + name.removeprefix(long)
    return name


def not_allowed(names: Iterable[str]) -> str:
    """`F.interpolate, nn.Upsample`: the forbidden callables of one rule as a student writes them."""
    return ", ".join(display_name(name) for name in names)


def exercise_name(dotted: str) -> str:
    """`exercise_code.layers.nearest_unpool2d` -> `nearest_unpool2d` (the name students know)."""
    return dotted.rsplit(".", 1)[-1]
