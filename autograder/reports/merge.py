"""One result per student: the hidden-suite result and the notebook results merged into the
per-submission format that every report reads (tests of notebook `<name>` get part `notebook:<name>`)."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor

MANUAL_NOTE = "{points:g} point(s) of hand-graded notebook answers are not included in this score"
NOT_RUN = "not run (submission {status}: see the submission message)"
SUITES_PART = "hidden suites"
"""Part of the one placeholder test that carries the hidden suites' points when their tests are unknown."""
EPS = 1e-6


def expected_tests(results: Iterable[dict[str, Any] | None]) -> list[dict[str, Any]]:
    """Every test of `results` once (first seen wins), as `{name, part, concept, max_points}`: what a
    fully graded submission holds, for `merge_results(expected=...)`."""
    seen: dict[str, dict[str, Any]] = {}
    for result in results:
        for test in (result or {}).get("tests", []):
            name = str(test.get("name"))
            if name not in seen:
                seen[name] = {k: test.get(k) for k in ("name", "part", "concept", "max_points")}
    return list(seen.values())


def _not_run(template: dict[str, Any], status: str) -> dict[str, Any]:
    return {
        "name": template["name"],
        "part": template.get("part") or SUITES_PART,
        "concept": template.get("concept") or "",
        "points": 0.0,
        "max_points": float(template.get("max_points") or 0.0),
        "status": "missing",
        "message": NOT_RUN.format(status=status),
        "seconds": 0.0,
    }


def _complete_suites(
    suite_result: dict[str, Any], tests: list[dict[str, Any]], expected: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Zero-point tests for what a suite result that was not fully graded lacks: each `expected` test it
    does not hold, then one `hidden suites` test for any of its `max_score` still not covered."""
    status = str(suite_result.get("status", "error"))
    added: list[dict[str, Any]] = []
    if status != "graded":
        names = {str(t.get("name")) for t in tests}
        added = [_not_run(t, status) for t in expected if str(t["name"]) not in names]
    covered = sum(float(t.get("max_points", 0.0)) for t in [*tests, *added])
    short = float(suite_result.get("max_score") or 0.0) - covered
    if short > EPS:
        added.append(_not_run({"name": SUITES_PART, "max_points": round(short, 6)}, status))
    return added


def _notebook_tests(result: dict[str, Any]) -> list[dict[str, Any]]:
    part = f"notebook:{result.get('notebook', '?')}"
    tests = []
    for test in result.get("tests", []):
        merged = dict(test)
        merged["part"] = part
        merged.setdefault("concept", part)
        tests.append(merged)
    return tests


def _isolation(suite: str, notebooks: list[dict[str, Any]]) -> str:
    found = {str(r.get("isolation") or "") for r in notebooks} - {suite, ""}
    weaker = sorted(w for w in found if not w.startswith("bubblewrap"))
    if not weaker:
        return suite
    return "; ".join(filter(None, [suite, *(f"notebooks: {w}" for w in weaker)]))


def merge_results(
    suite_result: dict[str, Any] | None,
    notebook_results: list[dict[str, Any]],
    *,
    student: str | None = None,
    expected: Iterable[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The merged result of one student: suite tests, then each notebook's tests.

    `suite_result` is the hidden-suite result (None when the suites did not run); `notebook_results`
    come from `autograder.grading.notebooks.grade_notebooks`. Score, max_score and seconds are recomputed;
    tampering and notes from notebooks join the message; examples and the log excerpt are kept.

    A suite result that is not `graded` (rejected, crashed, timeout, error) still carries the suites'
    whole maximum: each test of `expected` (`expected_tests` over the batch's suite results) it lacks
    is added with zero points, and what its own `max_score` says beyond that as one `hidden suites`
    test, so every student's max_score is the same.
    """
    if suite_result is None and student is None:
        raise ValueError("merge_results needs a suite_result or a student name, got neither")
    base: dict[str, Any] = copy.deepcopy(suite_result) if suite_result else {}
    base.setdefault("student", student)
    if student is not None:
        base["student"] = student
    base.setdefault("status", "graded" if notebook_results else "error")
    base.setdefault("isolation", "")
    base.setdefault("seed", None)
    base.setdefault("log_excerpt", "")
    tests = [dict(t) for t in base.get("tests", [])]
    if suite_result:
        tests += _complete_suites(suite_result, tests, expected)
    for result in notebook_results:
        tests.extend(_notebook_tests(result))
    base["tests"] = tests
    base["score"] = round(sum(float(t.get("points", 0.0)) for t in tests), 4)
    base["max_score"] = round(sum(float(t.get("max_points", 0.0)) for t in tests), 4)
    base["seconds"] = round(
        float(base.get("seconds", 0.0)) + sum(float(r.get("seconds", 0.0)) for r in notebook_results), 3
    )
    base["isolation"] = _isolation(str(base["isolation"]), notebook_results)
    lines = [str(base["message"])] if base.get("message") else []
    tampering = [f"{r['notebook']}: {t}" for r in notebook_results for t in r.get("tampering", [])]
    if tampering:
        lines.append("Notebook cells restored from the source (tampering): " + "; ".join(tampering))
    lines.extend(f"{r['notebook']}: {note}" for r in notebook_results for note in r.get("notes", []))
    manual = [dict(m, notebook=r["notebook"]) for r in notebook_results for m in r.get("manual", [])]
    if manual:
        lines.append(MANUAL_NOTE.format(points=sum(float(m.get("max_points", 0.0)) for m in manual)))
    if lines:
        base["message"] = "\n".join(lines)
    base["tampering"] = tampering
    base["manual"] = manual
    base["notebooks"] = [
        {k: r.get(k) for k in ("notebook", "status", "isolation", "seconds", "cpu_s")}
        for r in notebook_results
    ]
    return base


def complete_result(result: dict[str, Any], expected: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """`result` with every `expected` test it lacks added at zero points when it was not fully graded
    (rejected, crashed, timeout, error), so its max_score is the assignment's; a graded one unchanged."""
    if str(result.get("status", "error")) == "graded":
        return result
    done = copy.deepcopy(result)
    tests = [t for t in done.get("tests", []) if t.get("name") != SUITES_PART]  # re-derived below
    tests += _complete_suites(done, tests, expected)
    done["tests"] = tests
    done["score"] = round(sum(float(t.get("points", 0.0)) for t in tests), 4)
    done["max_score"] = round(sum(float(t.get("max_points", 0.0)) for t in tests), 4)
    return done


def stored_results(out: Path) -> list[dict[str, Any]]:
    """Every student's result in `out/results/` (as `autograder grade` stored them), sorted by student,
    each not fully graded completed from the others (`complete_result`). A file that cannot be read is
    kept as an `error` result naming it, never dropped."""
    import json

    results = []
    for path in sorted((Path(out) / "results").glob("*.json")):
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(result, dict) or not isinstance(result.get("tests", []), list):
                raise ValueError("not a result object")
            result.setdefault("student", path.stem)
        except (OSError, ValueError) as exc:
            result = {
                "student": path.stem,
                "status": "error",
                "score": 0.0,
                "max_score": 0.0,
                "tests": [],
                "message": f"the stored result {path.name} cannot be read ({exc}): grade this student again",
            }
        results.append(result)
    expected = expected_tests(r for r in results if r.get("status") == "graded")
    return sorted((complete_result(r, expected) for r in results), key=lambda r: str(r["student"]))


def segmentation_examples(
    images: Tensor, truth: Tensor, prediction: Tensor, *, limit: int = 3, title: str = "hidden scene"
) -> list[dict[str, str]]:
    """PNG examples for the feedback page: each scene, its true mask and the student's prediction.

    images (Tensor[N, 3, H, W] in [0, 1]), truth (int Tensor[N, H, W]), prediction (int Tensor[N, H, W],
    or logits Tensor[N, K, H, W], argmax over K). Returns up to `limit` dicts
    `{"title", "image", "truth", "prediction"}` of base64 PNGs (masks in the scene palette).
    """
    import torch

    from exercise_code.data import PALETTE, colorize

    from .html import encode_png

    if prediction.dim() == 4:
        prediction = prediction.argmax(dim=1)  # (N, K, H, W) -> (N, H, W)
    if images.dim() != 4 or truth.shape != prediction.shape or truth.shape != images[:, 0].shape:
        raise ValueError(
            f"need images (N, 3, H, W) and masks (N, H, W) of the same size, got {tuple(images.shape)}, "
            f"{tuple(truth.shape)} and {tuple(prediction.shape)}"
        )
    examples = []
    for i in range(min(limit, images.shape[0])):
        rgb = (images[i].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0)  # (H, W, 3)
        examples.append(
            {
                "title": f"{title} {i + 1}",
                "image": encode_png(rgb.numpy()),
                "truth": encode_png(colorize(truth[i].long()).numpy()),
                "prediction": encode_png(colorize(prediction[i].long().clamp(-1, len(PALETTE) - 1)).numpy()),
            }
        )
    return examples
