"""Per-student HTML feedback: every test with points and message, self-contained (no external resources).

Hidden tests show their name, status and points, never their code. Segmentation examples arrive as
PNG bytes (base64) in `result["examples"]` and are embedded as data URIs.
"""

from __future__ import annotations

import base64
import io
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f4f4f4}.passed{color:#176b2c}.failed,.error,
.crashed,.missing,.forbidden,.timeout,.memory{color:#a4161a}.num{text-align:right;white-space:nowrap}
.banner{padding:.6rem 1rem;background:#fff4e5;border:1px solid #f0c36d;margin:1rem 0}
figure{display:inline-block;margin:.3rem;text-align:center}figure img{image-rendering:pixelated;
width:128px;height:128px}
"""


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


def _test_rows(tests: list[dict[str, Any]]) -> str:
    rows = []
    for test in tests:
        status = escape(str(test.get("status", "?")))
        rows.append(
            "<tr>"
            f"<td>{escape(str(test.get('name', '?')))}</td>"
            f"<td>{escape(str(test.get('part', '')))}</td>"
            f"<td class='{status}'>{status}</td>"
            f"<td class='num'>{float(test.get('points', 0)):.2f} / "
            f"{float(test.get('max_points', 0)):.2f}</td>"
            f"<td>{escape(str(test.get('message') or ''))}</td>"
            "</tr>"
        )
    return "\n".join(rows)


def _examples(examples: list[dict[str, Any]]) -> str:
    if not examples:
        return ""
    figures = []
    for example in examples:
        for key in ("image", "truth", "prediction"):
            if key in example:
                figures.append(
                    f"<figure><img alt='{key}' src='{png_data_uri(example[key])}'>"
                    f"<figcaption>{escape(str(example.get('title', '')))} {key}</figcaption></figure>"
                )
    return "<h2>Your segmentation on hidden scenes</h2>\n" + "\n".join(figures)


def feedback_html(result: dict[str, Any]) -> str:
    """The feedback page of one student's merged result, as one self-contained HTML string."""
    tests = result.get("tests", [])
    score = sum(float(t.get("points", 0)) for t in tests)
    maximum = sum(float(t.get("max_points", 0)) for t in tests)
    banner = ""
    if result.get("isolation") and not str(result["isolation"]).startswith("bubblewrap"):
        banner = (
            "<div class='banner'>Graded without the bubblewrap sandbox "
            f"({escape(str(result['isolation']))}).</div>"
        )
    if result.get("message"):
        banner += f"<div class='banner'>{escape(str(result['message']))}</div>"
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>Feedback: {escape(str(result.get('student', '?')))}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>Feedback for {escape(str(result.get('student', '?')))}</h1>"
        f"<p>Score <b>{score:.2f} / {maximum:.2f}</b> &middot; status "
        f"{escape(str(result.get('status', '?')))}</p>{banner}"
        "<table><tr><th>test</th><th>part</th><th>status</th><th>points</th><th>message</th></tr>"
        f"{_test_rows(tests)}</table>{_examples(result.get('examples', []))}</body></html>"
    )


def write_feedback(result: dict[str, Any], path: Path) -> Path:
    """Write the feedback page for `result` to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(feedback_html(result), encoding="utf-8")
    return path
