"""similarity.html: the ranked pairs and, for the top pairs, the matching regions side by side; made from
the JSON form, so it shows what similarity.json holds. Everything is escaped (student code is hostile
text); the page is self-contained (no scripts, no external resources)."""

from __future__ import annotations

from html import escape
from typing import Any

from .documents import Place

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 1240px; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.7em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.5em 1em; }
.region { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 0.8em; }
.where { font-family: monospace; color: #555; }
pre { background: #f6f8fa; font-size: 12px; margin: 0.2em 0 1em; padding: 0.5em; overflow-x: auto; }
"""


def percent(value: float) -> str:
    """A share as the reports print it: `97.1%`."""
    return f"{100 * value:.1f}%"


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _pair_row(pair: dict[str, Any], detailed: bool) -> str:
    rank, count = pair["rank"], len(pair["regions"])
    link = f'<a href="#pair-{rank}">{count}</a>' if detailed else str(count)
    cells = [
        f'<td class="num">{rank}</td>',
        f"<td>{_e(pair['a'])}</td>",
        f"<td>{_e(pair['b'])}</td>",
        f'<td class="num">{percent(pair["score"])}</td>',
        f'<td class="num">{percent(pair["share_a"])}</td>',
        f'<td class="num">{percent(pair["share_b"])}</td>',
        f'<td class="num">{link}</td>',
    ]
    return f"<tr>{''.join(cells)}</tr>"


def _details(pair: dict[str, Any]) -> str:
    a, b = _e(pair["a"]), _e(pair["b"])
    head = (
        f'<section id="pair-{pair["rank"]}"><h3>#{pair["rank"]}: {a} and {b}, score {percent(pair["score"])}'
        f" ({a} {percent(pair['share_a'])}, {b} {percent(pair['share_b'])})</h3>"
    )
    regions = []
    for region in pair["regions"]:
        sides = [
            f'<div><div class="where">{_e(pair[side])}: {_e(Place(**region[side]).label())}</div>'
            f"<pre>{_e(region['code_' + side])}</pre></div>"
            for side in ("a", "b")
        ]
        regions.append(f'<div class="region">{"".join(sides)}</div>')
    return head + "".join(regions) + "</section>"


def render_html(data: dict[str, Any]) -> str:
    """The whole page for a report in its JSON form (`SimilarityReport.to_dict()`): the page shows what
    similarity.json holds, rounded the same way."""
    settings = data["settings"]
    shown = data["pairs"][: settings["table_rows"]]
    detailed = [p for p in data["pairs"][: settings["detail_pairs"]] if p["regions"]]
    ranks = {p["rank"] for p in detailed}
    rows = "".join(_pair_row(p, p["rank"] in ranks) for p in shown)
    starter = "".join(f"<li>{_e(name)}</li>" for name in data["starter_code_subtracted"])
    students = "".join(
        f'<tr><td>{_e(s["student"])}</td><td class="num">{s["own_tokens"]}</td>'
        f'<td class="num">{s["files_compared"]}</td><td>{_e("; ".join(s["notes"]))}</td></tr>'
        for s in data["students"]
    )
    skipped = "".join(f"<li>{_e(s['path'])}: {_e(s['reason'])}</li>" for s in data["skipped"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Code similarity</title><style>{STYLE}</style></head>
<body>
<h1>Code similarity of {len(data["students"])} submissions</h1>
<p class="note">Similarity is evidence for a person to review, never an automatic penalty. Short exercises
have few good solutions, so read the matching code before drawing any conclusion.</p>
<p>Each student's <em>own code</em> is what remains after the starter code is taken out; a share is the
part of one student's own code that matches the other's, the score the part of both together
(copydetect fingerprints: names and strings are ignored, so renaming does not hide a copy).</p>
<p>Starter code subtracted:</p><ul>{starter}</ul>
<h2>Pairs, most similar first</h2>
<p>{len(shown)} of {len(data["pairs"])} pairs shown; similarity.json holds them all.</p>
<table id="pairs"><thead><tr><th>rank</th><th>student A</th><th>student B</th><th>score</th>
<th>A's share</th><th>B's share</th><th>regions</th></tr></thead><tbody>{rows}</tbody></table>
<h2>Matching regions of the top pairs</h2>
{"".join(_details(p) for p in detailed) or "<p>No pair has code in common.</p>"}
<h2>Submissions</h2>
<table id="students"><thead><tr><th>student</th><th>own tokens</th><th>files compared</th><th>notes</th>
</tr></thead><tbody>{students}</tbody></table>
{f"<h2>Not compared</h2><ul>{skipped}</ul>" if skipped else ""}
</body></html>
"""
