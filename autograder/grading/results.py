"""Per-submission grading results: statuses, one record per test case, the JSON written per student.

`DIR/results/<student>.json` (schema version 2, written atomically as each submission finishes) holds
everything graded for the student: hidden-suite tests and notebook tests (part `notebook:<name>`).

    {"schema": 2, "student": "alice", "status": "graded", "message": "",
     "isolation": "bubblewrap", "isolation_note": "bubblewrap 0.8.0 (privileged, uid 65534, ...)",
     "seed": 0, "score": 7.5, "max_score": 10.0, "seconds": 12.3,
     "tests": [{"name": "test_layers.py::test_unpool[2]", "part": "layers", "concept": "unpooling",
                "points": 1.5, "max_points": 1.5, "status": "passed", "message": "", "seconds": 0.2}],
     "log_excerpt": "(student stdout/stderr, head and tail, capped)",
     "source": "subs/alice.zip", "source_sha256": "...", "manifest_sha256": "...",
     "graded_at": "2025-01-01T12:00:00+00:00", "parts": ["suites", "notebooks"],
     "notebooks": [{"notebook": "01_...", "status": "graded", ...}], "tampering": [], "manual": [],
     "examples": [{"title", "image", "truth", "prediction"}],
     "stages": {"suites": {"wall_s": 30.1, "cpu_s": 28.0}, "notebooks": {...}, ...},
     "stopped": {"exercise_code.layers.transpose_conv:conv_transpose2d": "test_layers.py::..."}}

Test statuses: passed, failed, error, timeout, memory, crashed, missing, forbidden.
Submission statuses: graded, rejected (intake refused it), timeout (time budget used up: later tests
were not run), crashed (the per-submission grader process died), error (the grader itself failed).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from autograder.intake import write_json_atomic

SCHEMA_VERSION = 2


class TestStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    CRASHED = "crashed"
    MISSING = "missing"
    FORBIDDEN = "forbidden"


class SubmissionStatus(StrEnum):
    GRADED = "graded"
    REJECTED = "rejected"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    ERROR = "error"


@dataclass
class TestResult:
    """One test case (a parametrised test gives one per case, sharing the rubric points evenly)."""

    __test__ = False  # not a pytest test class

    name: str
    part: str
    concept: str
    points: float
    max_points: float
    status: TestStatus
    message: str = ""
    seconds: float = 0.0


@dataclass
class SubmissionResult:
    """Everything graded for one student; `to_dict()` is the JSON above."""

    student: str
    status: SubmissionStatus
    isolation: str = ""
    """'bubblewrap' or 'process' (the latter means NOT sandboxed; see isolation_note)."""
    isolation_note: str = ""
    seed: int = 0
    score: float = 0.0
    max_score: float = 0.0
    seconds: float = 0.0
    tests: list[TestResult] = field(default_factory=list)
    log_excerpt: str = ""
    message: str = ""
    """Submission-level explanation (why rejected, crashed, or what is missing)."""
    source: str = ""
    source_sha256: str = ""
    manifest_sha256: str = ""
    graded_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    parts: list[str] = field(default_factory=lambda: ["suites"])
    """What was graded (`autograder grade --parts`): "suites", "notebooks"."""
    notebooks: list[dict[str, Any]] = field(default_factory=list)
    """One `{notebook, status, isolation, seconds}` per graded notebook."""
    tampering: list[str] = field(default_factory=list)
    """Notebook cells restored from the source, as `<notebook>: <what>`."""
    manual: list[dict[str, Any]] = field(default_factory=list)
    """Hand-graded notebook answers (not in the score until a TA imports points)."""
    examples: list[dict[str, str]] = field(default_factory=list)
    """Segmentation examples for the feedback page (base64 PNGs)."""
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    """Wall and CPU seconds per stage (intake, suites, examples, notebooks)."""
    stopped: dict[str, str] = field(default_factory=dict)
    """Student functions not run again after one call used a whole CPU limit (`module:qualname` -> the
    test case): later tests and the notebooks got an immediate failure in their place."""

    def total(self) -> None:
        """Recompute score and max_score from the tests."""
        self.score = round(sum(t.points for t in self.tests), 6)
        self.max_score = round(sum(t.max_points for t in self.tests), 6)

    def to_dict(self) -> dict[str, Any]:
        data = {"schema": SCHEMA_VERSION, **asdict(self)}
        data["status"] = str(self.status)
        for test in data["tests"]:
            test["status"] = str(test["status"])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionResult:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        tests = [TestResult(**{**t, "status": TestStatus(t["status"])}) for t in data.get("tests", [])]
        return cls(**{**known, "status": SubmissionStatus(data["status"]), "tests": tests})

    def write(self, path: Path) -> None:
        """Atomic write (temp file + os.replace)."""
        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: Path) -> SubmissionResult:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
