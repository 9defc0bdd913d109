"""The saved model files, read without running any student code: `models/<name>.pt` must load with
`torch.load(weights_only=True)` as a state_dict, `models/<name>.json` must be a JSON object, and both
must meet the config's limits (every tensor counted, buffers too, and the file size)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from exercise_code.config import CONFIG, ModelLimits, state_dict_values

MIB = 2**20


@dataclass
class ModelCheck:
    """One submitted model: its size and the first problem found (empty when it can be submitted)."""

    name: str
    values: int = 0
    """Values in every tensor of the state_dict (parameters and buffers), as `state_dict_values` counts."""
    size_mib: float = 0.0
    """Size of `models/<name>.pt`."""
    limits: ModelLimits | None = None
    problem: str = ""

    def line(self) -> str:
        """`segmentation: 1,234 values (parameters and buffers), 0.05 MiB ...: loads, ...`, or the problem."""
        if self.problem:
            return f"{self.name}: PROBLEM {self.problem}"
        limits = (
            f" (limits {self.limits.max_parameters:,} values, {self.limits.max_file_mb:g} MiB)"
            if self.limits
            else ""
        )
        return (
            f"{self.name}: {self.values:,} values (parameters and buffers), {self.size_mib:.2f} MiB{limits}: "
            "loads with weights_only=True, rebuilds from its JSON spec, within the limits"
        )


def limits_for(name: str) -> ModelLimits:
    """`CONFIG.limits_for(name)`; a model the config does not name gets the segmentation limits."""
    return CONFIG.limits_for(name) if name in CONFIG.model_names else CONFIG.segmentation_limits


def check_model(root: Path, name: str, limits: ModelLimits | None = None) -> ModelCheck:
    """Load `root/models/<name>.pt` safely, read its JSON spec and measure it against `limits` (default:
    the config's for `name`). Never raises for a bad file: `problem` says what is wrong. Rebuilding the
    model runs the student's code and is done elsewhere (`probe.rebuild`)."""
    limits = limits or limits_for(name)
    check = ModelCheck(name, limits=limits)
    weights, spec_path = Path(root) / "models" / f"{name}.pt", Path(root) / "models" / f"{name}.json"
    try:
        check.size_mib = weights.stat().st_size / MIB
    except OSError as exc:
        check.problem = f"models/{name}.pt cannot be read: {exc}"
        return check
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        check.problem = f"models/{name}.json cannot be read as JSON: {exc}"
        return check
    if not isinstance(spec, dict):
        check.problem = (
            f"models/{name}.json must hold a JSON object (the model's spec), got {type(spec).__name__}"
        )
        return check
    try:
        state = torch.load(weights, weights_only=True, map_location="cpu")
    except Exception as exc:
        first = str(exc).strip().split("\n")[0][:300]
        check.problem = (
            f"models/{name}.pt does not load with torch.load(weights_only=True): save model.state_dict(), "
            f"not the model (the notebook's saving cell does it for you) [{type(exc).__name__}: {first}]"
        )
        return check
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        check.problem = (
            f"models/{name}.pt must hold a state_dict (names -> tensors), got {type(state).__name__}: "
            "save model.state_dict()"
        )
        return check
    check.values = state_dict_values(state)
    if check.values > limits.max_parameters:
        check.problem = (
            f"models/{name}.pt has {check.values:,} values in its state_dict (parameters and buffers); "
            f"the limit is {limits.max_parameters:,}"
        )
    elif check.size_mib > limits.max_file_mb:
        check.problem = (
            f"models/{name}.pt is {check.size_mib:.1f} MiB; the limit is {limits.max_file_mb:g} MiB"
        )
    return check
