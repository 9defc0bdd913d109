"""What `compare_submissions` found: each student's own code, and every pair ranked by similarity."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .documents import Place
from .settings import SimilaritySettings

FORMAT = 1
"""Version of the layout of similarity.json."""


@dataclass(frozen=True)
class Region:
    """Code of `a` and code of `b` that match, with where each lies and its text (as submitted)."""

    a: Place
    b: Place
    tokens: int
    """Length of the match on a's side (copydetect tokens: characters of the normalised code)."""
    code_a: str
    code_b: str


@dataclass(frozen=True)
class Pair:
    """Two students and how much of their own code matches.

    `share_a` is the part of a's own code found in b's (copydetect's similarity for a), `share_b` the
    reverse; `score` is the part of the two students' own code, together, that matches the other's.
    """

    a: str
    b: str
    score: float
    share_a: float
    share_b: float
    tokens_a: int
    tokens_b: int
    regions: tuple[Region, ...] = ()


@dataclass(frozen=True)
class StudentCode:
    """One submission as compared: its own code's size and what was left out of it."""

    student: str
    source: str
    own_tokens: int
    """Tokens of code that is not starter code (the denominator of the student's share)."""
    files_compared: int
    """Python files and notebooks with own code (files holding only starter code are not counted)."""
    notes: tuple[str, ...] = ()


@dataclass
class SimilarityReport:
    """Every pair of the submissions compared, ranked by `score` (highest first)."""

    students: list[StudentCode]
    pairs: list[Pair]
    settings: SimilaritySettings
    starter: list[str]
    """What was subtracted as starter code."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """Submissions that could not be read (path, reason)."""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (similarity.json): scores rounded to 4 places."""
        pairs = []
        for rank, pair in enumerate(self.pairs, start=1):
            entry = asdict(pair)
            for key in ("score", "share_a", "share_b"):
                entry[key] = round(entry[key], 4)
            pairs.append({"rank": rank, **entry})
        return {
            "format": FORMAT,
            "note": "similarity is evidence for a human to review, never an automatic penalty",
            "settings": asdict(self.settings),
            "starter_code_subtracted": self.starter,
            "students": [asdict(s) for s in self.students],
            "skipped": [{"path": path, "reason": reason} for path, reason in self.skipped],
            "seconds": round(self.seconds, 2),
            "pairs": pairs,
        }
