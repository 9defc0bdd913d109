"""One graded result -> Gradescope's results.json, validated against the schema kept in the repo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .late import final_score, late_line

SCHEMA_PATH = Path(__file__).with_name("gradescope_results.schema.json")


def _test_output(test: dict[str, Any]) -> str:
    status = test.get("status", "failed")
    message = test.get("message") or ""
    head = "" if status == "passed" else f"[{status}] "
    return (head + message).strip()


def to_gradescope(result: dict[str, Any], *, visibility: str = "visible") -> dict[str, Any]:
    """Gradescope's results.json for one student's merged result.

    A test is `passed` for Gradescope when it earned all its points; the kit's finer status
    (timeout, memory, forbidden, ...) leads its output line and is kept as a tag.
    """
    tests = []
    for number, test in enumerate(result.get("tests", []), start=1):
        max_points = float(test.get("max_points", 0.0))
        points = float(test.get("points", 0.0))
        full = test.get("status") == "passed" and points >= max_points - 1e-9
        tags = [t for t in (test.get("part"), test.get("concept"), test.get("status")) if t]
        tests.append(
            {
                "name": str(test.get("name", f"test {number}")),
                "number": str(number),
                "score": round(max(points, 0.0), 4),
                "max_score": round(max_points, 4),
                "status": "passed" if full else "failed",
                "output": _test_output(test),
                "output_format": "text",
                "tags": tags,
                "visibility": visibility,
            }
        )
    lines = [f"Status: {result.get('status', 'unknown')}"]
    if result.get("isolation"):
        lines.append(f"Isolation: {result['isolation']}")
    if result.get("message"):
        lines.append(str(result["message"]))
    late = late_line(result)
    if late:
        lines.append(late)
    return {
        "score": round(final_score(result) if result.get("late") else sum(t["score"] for t in tests), 4),
        "execution_time": round(float(result.get("seconds", 0.0)), 3),
        "output": "\n".join(lines),
        "output_format": "text",
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def validate_gradescope(payload: dict[str, Any]) -> None:
    """Raise `jsonschema.ValidationError` if `payload` breaks Gradescope's results.json schema."""
    import jsonschema

    jsonschema.validate(payload, json.loads(SCHEMA_PATH.read_text()))


def write_gradescope(result: dict[str, Any], path: Path) -> Path:
    """Write results.json for `result` to `path` (validated first), atomically."""
    payload = to_gradescope(result)
    validate_gradescope(payload)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(path)
    return path
