"""What a student release may hold: the allow-list, the deny rules and the leak-check threshold.

Every rule is declared once here and read by the copy step and the leak check alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath


@dataclass(frozen=True)
class ReleasePolicy:
    """Rules of the student release (one frozen object, passed whole)."""

    package: str = "exercise_code"
    """The one source package that is released (with its solutions stripped)."""
    allowed_suffixes: tuple[str, ...] = (
        ".py",
        ".json",
        ".md",
        ".txt",
        ".csv",
        ".csv.gz",
        ".png",
        ".ipynb",
    )
    """Only files whose names end like this are released; anything else is skipped and reported."""
    forbidden_dirs: tuple[str, ...] = ("hidden", "checkpoints", "__pycache__", ".ipynb_checkpoints")
    """No path with one of these folder names may be released (hidden suites, model weights, caches)."""
    forbidden_suffixes: tuple[str, ...] = (".pt", ".pth", ".ckpt", ".safetensors", ".pyc", ".pkl")
    """No file ending like this may be released (reference checkpoints, pickles, bytecode)."""
    min_secret_length: int = 12
    """Solution lines shorter than this (`return out`, `else:`) are too common to count as leaks."""
    trivial_lines: str = r"(return|yield) [\w.]+|pass|break|continue|else:|try:|finally:"
    """Regular expression (full match) for solution lines of any length too plain to count as leaks."""
    min_renamed_tokens: int = 10
    """A solution line of this many Python tokens (mostly not names) also counts as leaked with other names
    and spacing; shorter ones (`for i in range(n):`, `lr = 1e-3`) count only verbatim. Two consecutive
    solution lines of this many tokens together count as a run, however short each is alone."""
    grader_only_dependencies: tuple[str, ...] = (
        "nbgrader",
        "jsonschema",
        "jupytext",
        "nbclient",
        "nbformat",
        "copydetect",
    )
    """Dependencies of the kit that students do not need; left out of the student pyproject."""

    def __post_init__(self) -> None:
        for name in ("min_secret_length", "min_renamed_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        try:
            re.compile(self.trivial_lines)
        except re.error as exc:
            raise ValueError(
                f"trivial_lines must be a regular expression, got {self.trivial_lines!r}: {exc}"
            ) from exc

    def forbidden(self, rel: PurePath) -> str | None:
        """Why the path `rel` (relative to a release root) must never be released, or None."""
        for part in rel.parts[:-1]:
            if part in self.forbidden_dirs:
                return f"inside a {part}/ folder"
        if rel.name in self.forbidden_dirs:
            return f"a {rel.name} entry"
        if rel.name.endswith(self.forbidden_suffixes):
            return "a checkpoint, pickle or bytecode file"
        return None

    def skip_reason(self, rel: PurePath) -> str | None:
        """Why the source file `rel` is not copied into the release (deny rules, then the allow-list)."""
        reason = self.forbidden(rel)
        if reason:
            return reason
        if any(part.startswith(".") for part in rel.parts):
            return "a hidden file"
        if not rel.name.endswith(self.allowed_suffixes):
            return "not in the allow-list of file types"
        return None


DEFAULT_POLICY = ReleasePolicy()
"""The policy `autograder release` uses."""
