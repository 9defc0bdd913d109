"""The similarity report on disk (similarity.json, similarity.html) and the short table the CLI prints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autograder.intake import write_json_atomic

from .html import percent, render_html
from .results import SimilarityReport

JSON_NAME = "similarity.json"
HTML_NAME = "similarity.html"


@dataclass(frozen=True)
class ReportPaths:
    """Where `write_report` put the two files."""

    json: Path
    html: Path


def write_report(report: SimilarityReport, out: Path) -> ReportPaths:
    """Write similarity.json and similarity.html into the folder `out` (made if missing)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(out / JSON_NAME, out / HTML_NAME)
    data = report.to_dict()
    write_json_atomic(paths.json, data)
    paths.html.write_text(render_html(data), encoding="utf-8")
    return paths


def ranked_table(report: SimilarityReport, rows: int = 10) -> str:
    """The `rows` most similar pairs as plain text, one line each."""
    lines = [f"{'rank':>4}  {'score':>6}  {'share A':>7}  {'share B':>7}  A ~ B"]
    for rank, pair in enumerate(report.pairs[:rows], start=1):
        scores = "  ".join(
            f"{percent(value):>{width}}"
            for value, width in ((pair.score, 6), (pair.share_a, 7), (pair.share_b, 7))
        )
        lines.append(f"{rank:>4}  {scores}  {pair.a} ~ {pair.b}")
    if len(report.pairs) > rows:
        lines.append(f"      ... {len(report.pairs) - rows} more pairs in the report")
    return "\n".join(lines)
