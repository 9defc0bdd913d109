"""Class summary (JSON + HTML): score histogram and each test's pass rate, to show what the class missed."""

from __future__ import annotations

import json
from collections import defaultdict
from html import escape
from pathlib import Path
from typing import Any

from .html import STYLE


def class_summary(results: list[dict[str, Any]], bins: int = 10) -> dict[str, Any]:
    """Scores, a histogram over [0, 100] % in `bins` bins, and per-test / per-concept pass rates."""
    percents = []
    per_test: dict[str, dict[str, float]] = defaultdict(lambda: {"passed": 0, "total": 0, "points": 0.0})
    per_concept: dict[str, dict[str, float]] = defaultdict(lambda: {"earned": 0.0, "max": 0.0})
    statuses: dict[str, int] = defaultdict(int)
    for result in results:
        statuses[str(result.get("status", "unknown"))] += 1
        tests = result.get("tests", [])
        earned = sum(float(t.get("points", 0)) for t in tests)
        maximum = sum(float(t.get("max_points", 0)) for t in tests)
        percents.append(100.0 * earned / maximum if maximum else 0.0)
        for test in tests:
            row = per_test[str(test.get("name"))]
            row["total"] += 1
            row["passed"] += test.get("status") == "passed"
            row["points"] += float(test.get("points", 0))
            concept = per_concept[str(test.get("concept") or test.get("part") or "other")]
            concept["earned"] += float(test.get("points", 0))
            concept["max"] += float(test.get("max_points", 0))
    histogram = [0] * bins
    for p in percents:
        histogram[min(bins - 1, int(p / (100.0 / bins)))] += 1
    return {
        "students": len(results),
        "statuses": dict(statuses),
        "mean_percent": round(sum(percents) / len(percents), 2) if percents else 0.0,
        "histogram": {"bin_edges": [100.0 * i / bins for i in range(bins + 1)], "counts": histogram},
        "tests": {
            name: {"pass_rate": round(row["passed"] / row["total"], 4), "graded": int(row["total"])}
            for name, row in sorted(per_test.items())
        },
        "concepts": {
            name: {"share_earned": round(row["earned"] / row["max"], 4) if row["max"] else 0.0}
            for name, row in sorted(per_concept.items())
        },
    }


def _histogram_svg(counts: list[int], width: int = 480, height: int = 160) -> str:
    top = max(counts) or 1
    bar = width / len(counts)
    rects = []
    for i, count in enumerate(counts):
        h = (height - 20) * count / top
        rects.append(
            f"<rect x='{i * bar + 2:.1f}' y='{height - 20 - h:.1f}' width='{bar - 4:.1f}' "
            f"height='{h:.1f}' fill='#4a7bb7'><title>{count}</title></rect>"
            f"<text x='{i * bar + bar / 2:.1f}' y='{height - 6}' font-size='10' "
            f"text-anchor='middle'>{100 * i // len(counts)}%</text>"
        )
    return f"<svg width='{width}' height='{height}' role='img'>{''.join(rects)}</svg>"


def summary_html(summary: dict[str, Any]) -> str:
    """The class summary as a self-contained HTML page."""
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td class='num'>{100 * row['pass_rate']:.0f} %</td>"
        f"<td class='num'>{row['graded']}</td></tr>"
        for name, row in sorted(summary["tests"].items(), key=lambda kv: kv[1]["pass_rate"])
    )
    concepts = "".join(
        f"<tr><td>{escape(name)}</td><td class='num'>{100 * row['share_earned']:.0f} %</td></tr>"
        for name, row in sorted(summary["concepts"].items(), key=lambda kv: kv[1]["share_earned"])
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Class summary</title>"
        f"<style>{STYLE}</style></head><body><h1>Class summary</h1>"
        f"<p>{summary['students']} students, mean {summary['mean_percent']:.1f} %; statuses "
        f"{escape(json.dumps(summary['statuses']))}</p>"
        f"<h2>Score histogram</h2>{_histogram_svg(summary['histogram']['counts'])}"
        "<h2>Concepts (share of points earned, weakest first)</h2>"
        f"<table><tr><th>concept</th><th>earned</th></tr>{concepts}</table>"
        "<h2>Tests (pass rate, lowest first)</h2>"
        f"<table><tr><th>test</th><th>pass rate</th><th>graded</th></tr>{rows}</table>"
        "</body></html>"
    )


def write_summary(results: list[dict[str, Any]], out_dir: Path) -> tuple[Path, Path]:
    """Write `summary.json` and `summary.html` into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = class_summary(results)
    json_path, html_path = out_dir / "summary.json", out_dir / "summary.html"
    json_path.write_text(json.dumps(summary, indent=2))
    html_path.write_text(summary_html(summary), encoding="utf-8")
    return json_path, html_path
