"""Leak check: no solution line, marker text or forbidden file may reach the student release."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .markers import MARKER_WORDS, solution_lines
from .policy import DEFAULT_POLICY, ReleasePolicy

LEAK_MARKERS = (*MARKER_WORDS, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
"""Marker text that must not survive into a release (ours and nbgrader's)."""


@dataclass(frozen=True)
class Leak:
    """One leak: where it is in the release (line 0: the whole file), and what leaked."""

    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def secret_lines(
    sources: Iterable[Path], root: Path, policy: ReleasePolicy = DEFAULT_POLICY
) -> dict[str, str]:
    """Distinctive solution lines of the `sources` (stripped) -> "file:line" where each comes from.

    Left out: comments, lines shorter than `policy.min_secret_length`, trivia such as `return result`,
    and lines that also appear outside every region of the sources (`N, C, H, W = x.shape`).
    """
    trivial = re.compile(policy.trivial_lines)
    secrets: dict[str, str] = {}
    public: set[str] = set()
    for path in sources:
        text = path.read_text(encoding="utf-8")
        inside = solution_lines(text, path.relative_to(root))
        numbers = {n for n, _ in inside}
        public.update(line.strip() for n, line in enumerate(text.split("\n"), start=1) if n not in numbers)
        for number, line in inside:
            if (
                len(line) >= policy.min_secret_length
                and not line.startswith("#")
                and not trivial.fullmatch(line)
            ):
                secrets.setdefault(line, f"{path.relative_to(root).as_posix()}:{number}")
    return {line: where for line, where in secrets.items() if line not in public}


def _candidates(stripped: str) -> set[str]:
    """The line itself and, for a JSON string line of a notebook, its unquoted content."""
    found = {stripped}
    body = stripped.rstrip(",")
    if len(body) >= 2 and body[0] == body[-1] == '"':
        found.add(body[1:-1].replace("\\n", "").replace('\\"', '"').replace("\\\\", "\\").strip())
    return found


def find_leaks(out_dir: Path, secrets: dict[str, str], policy: ReleasePolicy = DEFAULT_POLICY) -> list[Leak]:
    """Every leak in the released tree at `out_dir`: forbidden paths, marker text, solution lines."""
    leaks: list[Leak] = []
    for path in sorted(out_dir.rglob("*")):
        rel = path.relative_to(out_dir)
        reason = policy.forbidden(rel)
        if reason:
            leaks.append(Leak(rel, 0, f"must not be released ({reason})"))
            continue
        if path.is_dir():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary files (images) cannot carry source lines
        for number, line in enumerate(text.split("\n"), start=1):
            if any(marker in line for marker in LEAK_MARKERS):
                leaks.append(Leak(rel, number, "solution marker text left in the release"))
            for candidate in _candidates(line.strip()):
                if candidate in secrets:
                    leaks.append(Leak(rel, number, f"solution line from {secrets[candidate]}: {candidate!r}"))
    return leaks
