"""The gradebook: one row per student, one column per part, plus total and status."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .late import final_score


def _parts(results: Iterable[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for result in results:
        for test in result.get("tests", []):
            seen.setdefault(str(test.get("part") or "other"), None)
    return list(seen)


def gradebook_rows(results: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows: student, one column per part (points earned), the late penalty (when a late policy
    applies), total (after the penalty), max, status."""
    parts = _parts(results)
    late = any(r.get("late") for r in results)
    header = ["student", *parts, *(["late_penalty"] if late else []), "total", "max", "status"]
    rows = []
    for result in sorted(results, key=lambda r: str(r.get("student", ""))):
        by_part = dict.fromkeys(parts, 0.0)
        total = maximum = 0.0
        for test in result.get("tests", []):
            part = str(test.get("part") or "other")
            by_part[part] += float(test.get("points", 0.0))
            total += float(test.get("points", 0.0))
            maximum += float(test.get("max_points", 0.0))
        penalty = float((result.get("late") or {}).get("penalty", 0.0))
        rows.append(
            [
                result.get("student", "?"),
                *(round(by_part[p], 2) for p in parts),
                *([round(penalty, 2)] if late else []),
                round(final_score(result) if result.get("late") else total, 2),
                round(maximum, 2),
                result.get("status", "unknown"),
            ]
        )
    return header, rows


def write_grades_csv(results: list[dict[str, Any]], path: Path) -> Path:
    """Write `grades.csv` for all results."""
    header, rows = gradebook_rows(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def gradebook_table(results: list[dict[str, Any]]) -> str:
    """The gradebook as a fixed-width text table (what the CLI and `make demo` print)."""
    header, rows = gradebook_rows(results)
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
