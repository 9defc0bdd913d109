"""The rubric: points, part and concept per hidden test function (`rubric.toml`, one table per test)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import GradingError

_PARAMS = re.compile(r"\[.*\]$")


@dataclass(frozen=True)
class RubricEntry:
    """What one test function is worth; a parametrised test splits `points` evenly over its cases."""

    points: float
    part: str = ""
    concept: str = ""


def load_rubric(path: Path) -> dict[str, RubricEntry]:
    """`{"test_layers.py::test_conv_transpose2d": RubricEntry(6, "layers", "transpose convolution")}`."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise GradingError(f"cannot read the rubric {path}: {exc}") from None
    rubric = {}
    for key, table in data.items():
        if not isinstance(table, dict) or "points" not in table:
            raise GradingError(f"rubric entry {key!r} in {path} needs a table with 'points'")
        points = table["points"]
        if isinstance(points, bool) or not isinstance(points, int | float) or points < 0:
            raise GradingError(f"rubric entry {key!r}: points must be a non-negative number, got {points!r}")
        rubric[key] = RubricEntry(float(points), str(table.get("part", "")), str(table.get("concept", "")))
    return rubric


def rubric_key(name: str) -> str:
    """The rubric key of a test case name: `test_x.py::test_f[3-2]` -> `test_x.py::test_f`."""
    return _PARAMS.sub("", name)


def rubric_total(rubric: dict[str, RubricEntry]) -> float:
    """Points available in total (the max_score of a submission that could not be graded at all)."""
    return round(sum(entry.points for entry in rubric.values()), 6)
