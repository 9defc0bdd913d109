"""Class summary (JSON + HTML): a roster with per-part scores and links to each feedback page, status
counts, the score histogram and each test's pass rate, to show what the class missed."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from .html import STYLE, ordered_parts, part_of, part_title, part_totals
from .late import final_score, late_line

SUBMISSION_STATUSES = ("graded", "rejected", "timeout", "crashed", "error")
"""`autograder.grading.results.SubmissionStatus`, spelled out so reports need not import the grader
(tests/test_feedback_html.py checks that the two agree). Counted on the page even when zero."""


def _roster(results: list[dict[str, Any]], links: Mapping[str, str]) -> list[dict[str, Any]]:
    roster = []
    for result in sorted(results, key=lambda r: str(r.get("student", ""))):
        student = str(result.get("student", "?"))
        tests = result.get("tests", [])
        score = final_score(result)  # after the late penalty, when there is one
        maximum = sum(float(t.get("max_points", 0)) for t in tests)
        roster.append(
            {
                "student": student,
                "status": str(result.get("status", "unknown")),
                "score": round(score, 4),
                "max_score": round(maximum, 4),
                "percent": round(100.0 * score / maximum, 2) if maximum else 0.0,
                "parts": {
                    part: {"earned": round(earned, 4), "max": round(most, 4)}
                    for part, (earned, most) in part_totals(tests).items()
                },
                "feedback": links.get(student),
                "late": result.get("late"),
                "late_line": late_line(result),
            }
        )
    return roster


def class_summary(
    results: list[dict[str, Any]], bins: int = 10, *, links: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Roster, status counts, scores, a histogram over [0, 100] % in `bins` bins, per-test / per-concept
    pass rates. `links` maps a student to their feedback page relative to the summary's folder."""
    percents = []
    per_test: dict[str, dict[str, float]] = defaultdict(lambda: {"passed": 0, "total": 0, "points": 0.0})
    per_concept: dict[str, dict[str, float]] = defaultdict(lambda: {"earned": 0.0, "max": 0.0})
    statuses: dict[str, int] = defaultdict(int)
    for result in results:
        statuses[str(result.get("status", "unknown"))] += 1
        tests = result.get("tests", [])
        earned = final_score(result)
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
        "parts": ordered_parts(part_of(t) for r in results for t in r.get("tests", [])),
        "roster": _roster(results, links or {}),
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


def _histogram_svg(counts: list[int], width: int = 720, height: int = 180) -> str:
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


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _short_part(part: str) -> str:
    return part_title(part).split(":", 1)[0]


def _counts(summary: dict[str, Any]) -> str:
    statuses = dict.fromkeys(SUBMISSION_STATUSES, 0) | summary["statuses"]
    heads = "".join(f"<th class='{escape(s)}'>{escape(s)}</th>" for s in statuses)
    cells = "".join(f"<td>{n}</td>" for n in statuses.values())
    return (
        f"<table class='counts'><thead><tr><th>students</th>{heads}</tr></thead>"
        f"<tbody><tr><td>{summary['students']}</td>{cells}</tr></tbody></table>"
    )


def _flagged(late: dict[str, Any] | None) -> bool:
    """A late record worth showing in the summary: late, or no submission time known."""
    return bool(late) and (bool(late.get("days_late")) or not late.get("submitted_at"))


def _late_note(late: dict[str, Any]) -> str:
    if not late.get("submitted_at"):
        return "time unknown"
    before = _number(late["score_before"])
    return f"{late['days_late']} d late: &minus;{_number(late['penalty'])} (was {before})"


def _late_list(summary: dict[str, Any]) -> str:
    lines = [
        f"<li><b>{escape(e['student'])}</b>: {escape(e['late_line'])}</li>"
        for e in summary.get("roster", [])
        if _flagged(e.get("late")) and e.get("late_line")
    ]
    return f"<h2>Late submissions</h2><ul>{''.join(lines)}</ul>" if lines else ""


def _roster_table(summary: dict[str, Any]) -> str:
    parts = summary.get("parts", [])
    heads = "".join(
        f"<th class='num' title='{escape(part_title(p))}'>{escape(_short_part(p))}</th>" for p in parts
    )
    rows = []
    for entry in summary.get("roster", []):
        student = escape(entry["student"])
        link = entry.get("feedback")
        name = f"<a href='{escape(link)}'>{student}</a>" if link else student
        scores = entry["parts"]
        cells = "".join(
            f"<td class='num'>{_number(scores[p]['earned'])} / {_number(scores[p]['max'])}</td>"
            if p in scores
            else "<td class='num muted'>&ndash;</td>"
            for p in parts
        )
        status = escape(entry["status"])
        note = (  # the whole line is under "Late submissions"; on-time submissions show nothing
            "<span class='muted late' style='display:block;font-size:.75rem;white-space:normal'>"
            f"{_late_note(entry['late'])}</span>"
            if _flagged(entry.get("late"))
            else ""
        )
        rows.append(
            f"<tr><td>{name}</td><td class='{status}'>{status}</td><td class='num'>"
            f"{_number(entry['score'])} / {_number(entry['max_score'])} ({entry['percent']:.0f} %){note}</td>"
            f"{cells}</tr>"
        )
    return (
        "<table class='roster'><colgroup><col class='c-student'><col class='c-status'><col class='c-total'>"
        f"{'<col>' * len(parts)}</colgroup><thead><tr><th>student</th><th>status</th><th>total</th>{heads}"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


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
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'><title>Class summary</title>"
        f"<style>{STYLE}</style></head><body><h1>Class summary</h1>"
        f"<p class='total'>{summary['students']} students, mean {summary['mean_percent']:.1f} %</p>"
        f"{_counts(summary)}<h2>Students</h2>{_roster_table(summary)}{_late_list(summary)}"
        f"<h2>Score histogram</h2>{_histogram_svg(summary['histogram']['counts'])}"
        "<h2>Concepts (share of points earned, weakest first)</h2>"
        "<table><colgroup><col><col class='c-points'></colgroup>"
        f"<thead><tr><th>concept</th><th>earned</th></tr></thead><tbody>{concepts}</tbody></table>"
        "<h2>Tests (pass rate, lowest first)</h2>"
        "<table><colgroup><col><col class='c-points'><col class='c-points'></colgroup>"
        f"<thead><tr><th>test</th><th>pass rate</th><th>graded</th></tr></thead><tbody>{rows}</tbody></table>"
        "</body></html>"
    )


def write_summary(
    results: list[dict[str, Any]], out_dir: Path, *, links: Mapping[str, str] | None = None
) -> tuple[Path, Path]:
    """Write `summary.json` and `summary.html` into `out_dir` (`links`: see `class_summary`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = class_summary(results, links=links)
    json_path, html_path = out_dir / "summary.json", out_dir / "summary.html"
    json_path.write_text(json.dumps(summary, indent=2))
    html_path.write_text(summary_html(summary), encoding="utf-8")
    return json_path, html_path
