"""The one assignment config: model limits, score scales, time budgets, fast mode.

The notebooks, the public checks and the grader all read these values; nothing else repeats them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ModelLimits:
    """Size limits a submitted model must meet."""

    max_parameters: int = 5_000_000
    """Values in every tensor of the saved state_dict (parameters and buffers), counted with `numel`."""
    max_file_mb: float = 20.0
    """Size of the saved `state_dict` file in MiB."""


def state_dict_values(state: Mapping[str, Any]) -> int:
    """Values in every tensor of a state_dict (parameters and buffers alike), counted with numel: what
    `max_parameters` limits, in the notebooks and in the grader (which reads the saved file). A broadcast
    view (`expand`) counts every element it shows, not the few it stores."""
    return sum(int(v.numel()) for v in state.values() if callable(getattr(v, "numel", None)))


@dataclass(frozen=True)
class Scale:
    """A linear points scale: `floor` earns nothing, `target` earns full points."""

    floor: float
    target: float

    def fraction(self, value: float) -> float:
        """Share of the points earned by `value`, clipped to [0, 1]; works in both directions."""
        if value != value:  # NaN earns nothing
            return 0.0
        frac = (value - self.floor) / (self.target - self.floor)
        return float(min(1.0, max(0.0, frac)))


@dataclass(frozen=True)
class TimeBudgets:
    """Wall-clock budgets, in seconds, for grading."""

    call_s: float = 60.0
    """CPU time of one request to the sandboxed worker (a function call, a batch of predictions)."""
    wall_factor: float = 3.0
    """Wall-clock guard of one request, as a multiple of `call_s` (for code that sleeps or waits)."""
    submission_s: float = 600.0
    """Everything graded for one submission."""
    notebook_cell_s: float = 120.0
    """One notebook cell during autograding."""


@dataclass(frozen=True)
class LatePolicy:
    """Late submissions: a deadline, a grace period, then a deduction per started day and/or a cut-off
    (docs/lms.md). With `deadline=None` (the default) nothing is late and no score changes."""

    deadline: str | None = None
    """ISO 8601 date and time with a UTC offset, `"2025-06-01T23:59:00+02:00"`; None = no late policy."""
    grace_minutes: float = 0.0
    """Minutes after the deadline that still count as on time; lateness is counted from their end."""
    penalty_per_day: float = 0.0
    """Share of the maximum score deducted for each started day late (0.1 = 10 % per day)."""
    max_penalty: float = 1.0
    """Cap on the share that `penalty_per_day` deducts in all."""
    late_days: int | None = None
    """Started days a submission may be late; one later than that scores 0. None = no cut-off."""

    def __post_init__(self) -> None:
        self.deadline_at()  # a deadline without an offset is refused here, not at grading time
        if not self.grace_minutes >= 0:
            raise ValueError(f"grace_minutes must be >= 0, got {self.grace_minutes}")
        for name in ("penalty_per_day", "max_penalty"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a share in [0, 1], got {getattr(self, name)}")
        if self.late_days is not None and self.late_days < 0:
            raise ValueError(f"late_days must be >= 0 or None, got {self.late_days}")

    def deadline_at(self) -> datetime | None:
        """The deadline as an aware datetime (None without a policy)."""
        if self.deadline is None:
            return None
        try:
            at = datetime.fromisoformat(self.deadline)
        except (TypeError, ValueError):
            raise ValueError(f"deadline must be an ISO 8601 date-time, got {self.deadline!r}") from None
        if at.utcoffset() is None:
            raise ValueError(f"deadline needs a UTC offset (e.g. +02:00 or Z), got {self.deadline!r}")
        return at


@dataclass(frozen=True)
class AssignmentConfig:
    """Everything that is a rule of the assignment."""

    segmentation_limits: ModelLimits = field(default_factory=ModelLimits)
    autoencoder_limits: ModelLimits = field(default_factory=lambda: ModelLimits(2_000_000, 10.0))
    segmentation_miou: Scale = field(default_factory=lambda: Scale(floor=0.30, target=0.70))
    """Mean IoU on hidden digit scenes -> share of the segmentation-quality points."""
    reconstruction_mse: Scale = field(default_factory=lambda: Scale(floor=0.060, target=0.025))
    """Autoencoder reconstruction MSE on hidden digits (lower is better)."""
    few_label_accuracy: Scale = field(default_factory=lambda: Scale(floor=0.50, target=0.75))
    """Accuracy of the classifier fine-tuned with few labels, on hidden digits."""
    latent_dim: int = 20
    """Latent size of the submitted autoencoder."""
    labels_per_class: int = 10
    """Labelled images per class in the few-labels regime."""
    scene_size: int = 64
    """Height and width of the digit scenes used for grading."""
    hidden_scenes: int = 64
    """Number of hidden scenes the grader generates."""
    time: TimeBudgets = field(default_factory=TimeBudgets)
    memory_mb: int = 3072
    """Address-space limit of the sandboxed worker."""
    model_names: tuple[str, ...] = ("segmentation", "autoencoder", "classifier")
    """Models a submission holds, each as `models/<name>.pt` + `models/<name>.json`."""
    late: LatePolicy = field(default_factory=LatePolicy)
    """Deadline and late penalty; the default has no deadline."""

    def limits_for(self, model_name: str) -> ModelLimits:
        """The limits of a submitted model (the classifier is the fine-tuned encoder: autoencoder limits)."""
        if model_name == "segmentation":
            return self.segmentation_limits
        if model_name in ("autoencoder", "classifier"):
            return self.autoencoder_limits
        raise ValueError(f"model_name must be one of {self.model_names}, got {model_name!r}")


CONFIG = AssignmentConfig()
"""The assignment config every part of the kit reads."""

FAST_ENV = "KIT_FAST"
"""Environment variable that turns fast mode on (notebooks and training scale down)."""


def fast_mode() -> bool:
    """True under `KIT_FAST=1`, nbgrader autograding (`NBGRADER_EXECUTION`) or CI (`CI=true`)."""
    if os.environ.get(FAST_ENV, "").lower() in {"1", "true", "yes"}:
        return True
    if os.environ.get("NBGRADER_EXECUTION"):
        return True
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}
