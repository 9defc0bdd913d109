"""Settings of a grading run: time budgets, isolation choice, sandbox and intake limits, output caps."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autograder.intake import IntakeLimits
from autograder.sandbox import IsolationChoice, SandboxLimits
from exercise_code.config import CONFIG

HIDDEN_DIR = Path(__file__).resolve().parent.parent / "hidden"
"""The hidden suites (never released, never mounted in the sandbox)."""


@dataclass(frozen=True)
class GradeSettings:
    """How to grade; defaults come from the assignment config (CONFIG.time, CONFIG.memory_mb)."""

    call_s: float = field(default_factory=lambda: CONFIG.time.call_s)
    """CPU-time limit of one request to the worker (the worker stops the call)."""
    wall_factor: float = field(default_factory=lambda: CONFIG.time.wall_factor)
    """A request is killed after `call_s * wall_factor` wall-clock seconds: the guard for code that
    sleeps or waits, never the verdict on code that computes."""
    submission_s: float = field(default_factory=lambda: CONFIG.time.submission_s)
    """Wall-clock budget of everything graded for one submission (tests after it: `timeout`)."""
    isolation: IsolationChoice = IsolationChoice.AUTO
    sandbox: SandboxLimits = field(default_factory=SandboxLimits)
    intake: IntakeLimits = field(default_factory=IntakeLimits)
    log_excerpt_chars: int = 4000
    """Cap of the student stdout/stderr excerpt kept in each result."""
    message_chars: int = 1000
    """Cap of one test message."""
    warm_start: bool = True
    """Fork each submission's trusted grading process from a server that imported torch, pytest and the
    kit once (local executor), and its sandboxed workers from a factory in its sandbox that imported torch
    once (bubblewrap); False starts every one cold (`python -m autograder.grading.child`, a sandbox per
    worker)."""
    keep_work: bool = False
    """Keep the extracted copy after grading (the manifest is always kept)."""

    def __post_init__(self) -> None:
        if self.wall_factor < 1:
            raise ValueError(f"wall_factor must be at least 1, got {self.wall_factor}")
        if self.call_s <= 0 or self.submission_s <= 0:
            raise ValueError(
                f"time limits must be positive, got call_s={self.call_s}, submission_s={self.submission_s}"
            )
        object.__setattr__(self, "isolation", IsolationChoice(self.isolation))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["isolation"] = str(self.isolation)
        data["intake"]["junk"] = list(self.intake.junk)
        data["intake"]["junk_suffixes"] = list(self.intake.junk_suffixes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradeSettings:
        intake = dict(data.get("intake", {}))
        for key in ("junk", "junk_suffixes"):
            if key in intake:
                intake[key] = tuple(intake[key])
        return cls(
            **{k: v for k, v in data.items() if k not in ("sandbox", "intake")},
            sandbox=SandboxLimits(**data.get("sandbox", {})),
            intake=IntakeLimits(**intake),
        )
