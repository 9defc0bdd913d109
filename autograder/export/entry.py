"""Gradescope's per-submission entry (`python -m autograder.export.entry --root /autograder`).

Grades `ROOT/submission` (the folder, or the one zip inside it) with the hidden suites and the
notebooks, and ALWAYS leaves `ROOT/results/results.json`: whatever fails, a zero-score payload naming
the reason is written instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FAILURE_OUTPUT = (
    "The autograder failed before it could grade this submission ({reason}). "
    "Your score is 0 for now; please contact the course staff."
)
MAX_REASON = 500


def failure_payload(reason: str, seconds: float = 0.0) -> dict[str, Any]:
    """The results.json written when grading could not finish: score 0, the reason, no tests."""
    return {
        "score": 0,
        "execution_time": round(max(seconds, 0.0), 3),
        "output": FAILURE_OUTPUT.format(reason=reason[:MAX_REASON]),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write `payload` to `path` atomically (temp file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def submission_path(root: Path) -> Path:
    """`ROOT/submission`, or the single zip inside it when that is all the student uploaded."""
    folder = root / "submission"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} does not exist")
    entries = [p for p in folder.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
    zips = [p for p in entries if p.is_file() and p.suffix.lower() == ".zip"]
    if len(entries) == 1 and len(zips) == 1:
        return zips[0]
    return folder


def grading_seed(root: Path) -> int:
    """A per-submission seed: Gradescope's submission id (stable across regrades), else 0."""
    try:
        metadata = json.loads((root / "submission_metadata.json").read_text(encoding="utf-8"))
        return int(metadata.get("id", 0)) % (2**31)
    except (OSError, ValueError, TypeError, AttributeError):
        return 0


def _source_dir(root: Path, relative: str, fallback: Path) -> Path:
    candidate = root / "source" / relative
    return candidate if candidate.is_dir() else fallback


def grade(root: Path) -> dict[str, Any]:
    """Grade `ROOT/submission`; returns the merged result (per-submission format)."""
    from autograder.grading.settings import HIDDEN_DIR
    from autograder.grading.student import NOTEBOOKS_DIR, grade_student
    from autograder.release.notebooks.build import source_notebooks

    notebooks = _source_dir(root, "notebooks", NOTEBOOKS_DIR)
    suites = _source_dir(root, "autograder/hidden", HIDDEN_DIR)
    with tempfile.TemporaryDirectory(prefix="autograder-gradescope-") as out:
        result = grade_student(
            submission_path(root),
            out=Path(out),
            notebooks=notebooks,
            suites=suites,
            seed=grading_seed(root),
            student="submission",
        ).to_dict()
    if not source_notebooks(notebooks):
        note = f"notebooks were not graded: no source notebooks in {notebooks}"
        result["message"] = "\n".join(filter(None, [result.get("message"), note]))
    return result


def main(argv: list[str] | None = None) -> int:
    """Grade and write results.json; exit 0 when graded, 1 when the failure payload was written."""
    parser = argparse.ArgumentParser(prog="python -m autograder.export.entry", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("AUTOGRADER_ROOT", "/autograder")))
    args = parser.parse_args(argv)
    results = Path(args.root) / "results" / "results.json"
    started = time.monotonic()
    try:
        from autograder.reports import to_gradescope, validate_gradescope

        result = grade(Path(args.root))
        payload = to_gradescope(result)
        validate_gradescope(payload)
        write_json(results, payload)
        print(f"graded: {payload['score']} points, {len(payload['tests'])} tests -> {results}")
        return 0
    except BaseException as exc:
        reason = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        traceback.print_exc()
        try:
            write_json(results, failure_payload(reason, time.monotonic() - started))
        except BaseException:
            results.parent.mkdir(parents=True, exist_ok=True)
            results.write_text('{"score": 0, "output": "The autograder failed.", "tests": []}\n')
        print(f"autograder failed: {reason}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
