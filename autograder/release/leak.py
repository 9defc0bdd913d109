"""Leak check: no solution line, marker text or forbidden file may reach the student release."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .markers import BEGIN, END, solution_lines

MIN_LENGTH = 12
"""Solution lines shorter than this (`return out`, `else:`) are too common to count as leaks."""

FORBIDDEN_PARTS = ("hidden", "__pycache__", ".ipynb_checkpoints")
FORBIDDEN_SUFFIXES = (".pt", ".pth", ".ckpt", ".pyc")


@dataclass(frozen=True)
class Leak:
    """One leak: where it is, and what leaked."""

    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def secret_lines(sources: Iterable[Path], root: Path) -> dict[str, str]:
    """Distinctive solution lines of the `sources` -> "file:line" where each comes from.

    A line that also appears outside every region of the source tree is not secret (it is
    boilerplate such as `N, C, H, W = x.shape`), so it is left out.
    """
    secrets: dict[str, str] = {}
    public: set[str] = set()
    for path in sources:
        text = path.read_text(encoding="utf-8")
        inside = solution_lines(text, path)
        numbers = {n for n, _ in inside}
        for number, line in enumerate(text.splitlines(), start=1):
            if number not in numbers:
                public.add(line.strip())
        for number, line in inside:
            if len(line) >= MIN_LENGTH and not line.startswith("#"):
                secrets.setdefault(line, f"{path.relative_to(root)}:{number}")
    return {line: where for line, where in secrets.items() if line not in public}


def find_leaks(out_dir: Path, secrets: dict[str, str]) -> list[Leak]:
    """Every leak in the released tree at `out_dir`."""
    leaks: list[Leak] = []
    for path in sorted(p for p in out_dir.rglob("*") if p.is_file() or p.is_symlink()):
        rel = path.relative_to(out_dir)
        if any(part in FORBIDDEN_PARTS for part in rel.parts) or path.suffix in FORBIDDEN_SUFFIXES:
            leaks.append(Leak(rel, 0, "file must not be released"))
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if any(marker in line for marker in (BEGIN, END, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")):
                leaks.append(Leak(rel, number, "solution marker left in the release"))
            # notebooks hold source lines inside JSON strings: compare the unquoted content too
            candidates = {stripped}
            if stripped.startswith('"') and stripped.rstrip(",").endswith('"'):
                candidates.add(stripped.rstrip(",")[1:-1].replace("\\n", "").replace('\\"', '"').strip())
            for candidate in candidates:
                if candidate in secrets:
                    leaks.append(Leak(rel, number, f"solution line from {secrets[candidate]}: {candidate!r}"))
    return leaks
