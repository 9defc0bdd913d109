"""Per-student HTML feedback: a total, per-part subtotals, every test (failed first) with points and
message, the log excerpt and segmentation examples, in one self-contained page (no external resources).

Hidden tests show their name, status and points, never their code. Segmentation examples arrive as
PNG bytes (base64) in `result["examples"]` and are embedded as data URIs. The page fits a 1280 px
window: tables have a fixed layout, text wraps, images scale down (`report.css`).
"""

from __future__ import annotations

import base64
import io
import math
import re
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from .late import final_score, late_line

STYLE = Path(__file__).with_name("report.css").read_text(encoding="utf-8")

PART_ORDER = ("layers", "patches", "fcn", "autoencoders", "models")
"""The hidden-suite parts in course order; other parts follow as first seen, then `notebook:*` by name."""

_CASE = re.compile(r"^(?P<base>.*?)\[(?P<case>[^\]]*)\]$")
_LOG_REFERENCE = "see the log excerpt"


def png_data_uri(png: bytes | str) -> str:
    """A `data:` URI for PNG bytes (or an already base64-encoded string)."""
    text = png if isinstance(png, str) else base64.b64encode(png).decode("ascii")
    return f"data:image/png;base64,{text}"


def encode_png(rgb: np.ndarray) -> str:
    """Base64 PNG of a uint8 array `(H, W, 3)`."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


# --- what the page says about a test ---------------------------------------------------------------


def part_of(test: dict[str, Any]) -> str:
    """The test's part (`layers`, `notebook:01_...`), `other` when it has none."""
    return str(test.get("part") or "other")


def ordered_parts(parts: Iterable[str]) -> list[str]:
    """Distinct `parts` in page order: PART_ORDER, then others as first seen, then notebooks by name."""
    seen = list(dict.fromkeys(parts))

    def key(part: str) -> tuple[int, int, str]:
        if part in PART_ORDER:
            return 0, PART_ORDER.index(part), ""
        if part.startswith("notebook:"):
            return 2, 0, part
        return 1, seen.index(part), ""

    return sorted(seen, key=key)


def part_title(part: str) -> str:
    """`notebook:01_unpooling_transpose_conv` -> `notebook 01: unpooling transpose conv`; others as is."""
    if not part.startswith("notebook:"):
        return part
    number, _, rest = part.removeprefix("notebook:").partition("_")
    return f"notebook {number}: {rest.replace('_', ' ')}" if rest else f"notebook {number}"


def readable_name(test: dict[str, Any]) -> str:
    """A name for people instead of the pytest id.

    `test_layers.py::test_conv_transpose2d[3]` -> `conv transpose2d, case 4` (integer ids count from 1,
    other ids are kept: `freeze True`); notebook test `01_layers/test_scale` -> `notebook 01: test scale`
    (the cell's concept when it has one of its own).
    """
    name = str(test.get("name") or "?")
    part = str(test.get("part") or "")
    concept = str(test.get("concept") or "")
    if part.startswith("notebook:") or ("/" in name and "::" not in name):
        notebook = part.removeprefix("notebook:") if part.startswith("notebook:") else name.split("/")[0]
        number = notebook.split("_", 1)[0]
        cell = name.rsplit("/", 1)[-1].replace("_", " ")
        label = concept if concept and concept != part else cell
        return f"notebook {number}: {label}"
    match = _CASE.match(name)
    base, case = (match["base"], match["case"]) if match else (name, None)
    words = base.rsplit("::", 1)[-1].removeprefix("test_").replace("_", " ").strip() or base
    if case is None:
        return words
    return f"{words}, case {int(case) + 1}" if case.isdigit() else f"{words}, {case.replace('-', ' ')}"


def status_label(test: dict[str, Any]) -> str:
    """The test's status, except `partial` for a passed test that earned only part of its points."""
    status = str(test.get("status") or "?")
    points, max_points = float(test.get("points", 0.0)), float(test.get("max_points", 0.0))
    if status == "passed" and max_points > 0 and points < max_points - 1e-9:
        return "partial"
    return status


def failed_first(tests: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tests that earned nothing first, then partial credit, then passed; stable otherwise."""
    rank = {"passed": 2, "partial": 1}
    return sorted(tests, key=lambda t: rank.get(status_label(t), 0))


def part_totals(tests: Iterable[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """`{part: (points earned, max points)}` in page order."""
    totals: dict[str, tuple[float, float]] = {}
    for test in tests:
        earned, maximum = totals.get(part_of(test), (0.0, 0.0))
        totals[part_of(test)] = (
            earned + float(test.get("points", 0.0)),
            maximum + float(test.get("max_points", 0.0)),
        )
    return {part: totals[part] for part in ordered_parts(totals)}


def _message(test: dict[str, Any]) -> str:
    message = str(test.get("message") or "")
    if status_label(test) == "partial":
        share = math.floor(100 * float(test.get("points", 0.0)) / float(test["max_points"]))
        message = f"{share}% of the points: {message}" if message else f"{share}% of the points"
    text = escape(message)
    return text.replace(_LOG_REFERENCE, f"<a href='#log'>{_LOG_REFERENCE}</a>")


# --- the page ----------------------------------------------------------------------------------------


def _points(earned: float, maximum: float) -> str:
    return f"{earned:.2f} / {maximum:.2f}"


def _bar(earned: float, maximum: float) -> str:
    width = 100 * earned / maximum if maximum else 0.0
    return f"<div class='bar'><span style='width:{min(max(width, 0.0), 100.0):.0f}%'></span></div>"


def _test_row(test: dict[str, Any]) -> str:
    name = escape(str(test.get("name") or "?"))
    label = status_label(test)
    readable = readable_name(test)
    concept = str(test.get("concept") or "")
    shown_concept = (
        bool(concept)
        and concept != test.get("part")
        and not part_of(test).startswith("notebook:")
        and concept.lower() != readable.split(",")[0].lower()  # `fcn crop` is concept `FCN crop` already
    )
    css = {"passed": "", "partial": "part"}.get(label, "bad")
    return (
        f"<tr class='{css}'><td title='{name}'><span class='name'>{escape(readable)}</span>"
        + (f"<span class='concept'>{escape(concept)}</span>" if shown_concept else "")
        + f"<span class='id'>{name}</span></td>"
        f"<td class='status {escape(label)}'>{escape(label)}</td>"
        f"<td class='num'>{_points(float(test.get('points', 0)), float(test.get('max_points', 0)))}</td>"
        f"<td class='msg'>{_message(test)}</td></tr>"
    )


def _overview(tests: list[dict[str, Any]], parts: list[str]) -> str:
    rows = []
    for part, (earned, maximum) in part_totals(tests).items():
        labels = [status_label(t) for t in tests if part_of(t) == part]
        counts = [
            f"{sum(label not in ('passed', 'partial') for label in labels)} not passed",
            f"{labels.count('partial')} partial",
            f"{labels.count('passed')} passed",
        ]
        rows.append(
            f"<tr><td><a href='#part-{parts.index(part) + 1}'>{escape(part_title(part))}</a></td>"
            f"<td class='num'>{_points(earned, maximum)}</td><td>{' &middot; '.join(counts)}</td>"
            f"<td>{_bar(earned, maximum)}</td></tr>"
        )
    return (
        "<table class='parts'><colgroup><col class='c-part'><col class='c-points'><col class='c-counts'>"
        "<col></colgroup><thead><tr><th>part</th><th>points</th><th>tests</th><th></th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _part_sections(tests: list[dict[str, Any]], parts: list[str]) -> str:
    sections = []
    totals = part_totals(tests)
    for number, part in enumerate(parts, start=1):
        rows = "".join(_test_row(t) for t in failed_first(t for t in tests if part_of(t) == part))
        sections.append(
            f"<section id='part-{number}'><h2><span>{escape(part_title(part))}</span>"
            f"<span class='num'>{_points(*totals[part])}</span></h2>"
            "<table class='tests'><colgroup><col class='c-test'><col class='c-status'><col class='c-points'>"
            "<col></colgroup><thead><tr><th>test</th><th>status</th><th>points</th><th>message</th></tr>"
            f"</thead><tbody>{rows}</tbody></table></section>"
        )
    return "".join(sections)


def _log(result: dict[str, Any]) -> str:
    excerpt = str(result.get("log_excerpt") or "")
    if not excerpt.strip():
        return ""
    referenced = any(_LOG_REFERENCE in str(t.get("message") or "") for t in result.get("tests", []))
    return (
        f"<details class='log' id='log'{' open' if referenced else ''}><summary>Log excerpt: what your code "
        f"printed (stdout and stderr, head and tail)</summary><pre>{escape(excerpt)}</pre></details>"
    )


def _examples(examples: list[dict[str, Any]]) -> str:
    if not examples:
        return ""
    captions = {"image": "scene", "truth": "true mask", "prediction": "your prediction"}
    cards = []
    for example in examples:
        images = "".join(
            f"<figure><img alt='{key}' src='{png_data_uri(example[key])}'><figcaption>{caption}</figcaption>"
            "</figure>"
            for key, caption in captions.items()
            if key in example
        )
        cards.append(
            f"<figure class='example'><figcaption>{escape(str(example.get('title', '')))}</figcaption>"
            f"<div class='triple'>{images}</div></figure>"
        )
    return f"<h2>Your segmentation on hidden scenes</h2><div class='examples'>{''.join(cards)}</div>"


def feedback_html(result: dict[str, Any]) -> str:
    """The feedback page of one student's merged result, as one self-contained HTML string."""
    tests = list(result.get("tests", []))
    score = final_score(result)  # after the late penalty, when there is one
    maximum = sum(float(t.get("max_points", 0)) for t in tests)
    student = escape(str(result.get("student", "?")))
    late = late_line(result)
    banner = f"<p class='late'>{escape(late)}</p>" if late else ""
    if result.get("isolation") and not str(result["isolation"]).startswith("bubblewrap"):
        banner = (
            "<div class='banner'>Graded without the bubblewrap sandbox "
            f"({escape(str(result['isolation']))}).</div>"
        )
    if result.get("message"):
        banner += f"<div class='banner'>{escape(str(result['message']))}</div>"
    parts = ordered_parts(part_of(t) for t in tests)
    body = (
        f"{_overview(tests, parts)}{_part_sections(tests, parts)}"
        if tests
        else "<p>No tests were graded.</p>"
    )
    share = f" ({100 * score / maximum:.0f} %)" if maximum else ""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Feedback: {student}</title><style>{STYLE}</style></head><body>"
        f"<h1>Feedback for {student}</h1>"
        f"<p class='total'>Total <b>{_points(score, maximum)}</b>{share} &middot; status "
        f"<span class='{escape(str(result.get('status', '?')))}'>{escape(str(result.get('status', '?')))}"
        f"</span></p>{banner}{body}{_log(result)}{_examples(result.get('examples', []))}</body></html>"
    )


def write_feedback(result: dict[str, Any], path: Path) -> Path:
    """Write the feedback page for `result` to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(feedback_html(result), encoding="utf-8")
    return path
