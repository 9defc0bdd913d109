"""Reports: Gradescope schema, gradebook, HTML feedback, class summary."""

from __future__ import annotations

import csv
import json

import jsonschema
import numpy as np
import pytest

from autograder.reports import (
    class_summary,
    feedback_html,
    gradebook_rows,
    to_gradescope,
    validate_gradescope,
    write_reports,
)
from autograder.reports.html import encode_png
from autograder.reports.write import safe_name


def _result(student: str, points: tuple[float, float], status: str = "graded") -> dict:
    return {
        "student": student,
        "status": status,
        "isolation": "bubblewrap",
        "seconds": 3.5,
        "tests": [
            {
                "name": "layers::conv_transpose2d[0]",
                "part": "layers",
                "concept": "transpose convolution",
                "points": points[0],
                "max_points": 2.0,
                "status": "passed" if points[0] == 2 else "failed",
                "message": "max error 3e-1 at stride=2, padding=1",
            },
            {
                "name": "quality::segmentation_miou",
                "part": "quality",
                "concept": "FCN",
                "points": points[1],
                "max_points": 4.0,
                "status": "timeout",
                "message": "call took > 60 s",
            },
        ],
    }


def test_gradescope_payload_validates_and_keeps_fine_status():
    payload = to_gradescope(_result("ann", (2.0, 1.0)))
    validate_gradescope(payload)
    assert payload["score"] == 3.0
    assert [t["status"] for t in payload["tests"]] == ["passed", "failed"]
    assert payload["tests"][1]["output"].startswith("[timeout]")
    assert "timeout" in payload["tests"][1]["tags"]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p["tests"][0].update(status="timeout"),  # only passed/failed allowed
        lambda p: p["tests"][0].pop("max_score"),
        lambda p: p.update(visibility="everyone"),
        lambda p: p["tests"][0].update(score=-1),
        lambda p: p.update(unknown_field=1),
    ],
)
def test_schema_rejects_broken_payloads(mutate):
    payload = to_gradescope(_result("ann", (2.0, 1.0)))
    mutate(payload)
    with pytest.raises(jsonschema.ValidationError):
        validate_gradescope(payload)


def test_gradebook_one_row_per_student_one_column_per_part(tmp_path):
    results = [_result("bob", (0.0, 0.0), status="rejected"), _result("ann", (2.0, 1.5))]
    header, rows = gradebook_rows(results)
    assert header == ["student", "layers", "quality", "total", "max", "status"]
    assert rows == [["ann", 2.0, 1.5, 3.5, 6.0, "graded"], ["bob", 0.0, 0.0, 0.0, 6.0, "rejected"]]
    paths = write_reports(results, tmp_path)
    with paths.grades_csv.open() as f:
        assert list(csv.reader(f))[1] == ["ann", "2.0", "1.5", "3.5", "6.0", "graded"]
    for student in ("ann", "bob"):
        validate_gradescope(json.loads(paths.results_json[student].read_text()))


def test_feedback_is_self_contained_and_embeds_examples():
    result = _result("ann", (2.0, 1.0))
    png = encode_png(np.zeros((8, 8, 3), dtype=np.uint8))
    result["examples"] = [{"title": "scene 0", "image": png, "truth": png, "prediction": png}]
    result["isolation"] = "rlimits only (bubblewrap missing)"
    html = feedback_html(result)
    assert "http://" not in html and "https://" not in html
    assert html.count("data:image/png;base64,") == 3
    assert "3.00 / 6.00" in html and "max error 3e-1" in html
    assert "without the bubblewrap sandbox" in html


def test_feedback_escapes_student_controlled_text():
    result = _result("<script>alert(1)</script>", (0.0, 0.0))
    result["tests"][0]["message"] = "<img src=x onerror=alert(1)>"
    html = feedback_html(result)
    assert "<script>alert" not in html and "<img src=x" not in html


def test_class_summary_pass_rates_and_histogram():
    results = [_result("a", (2.0, 4.0)), _result("b", (0.0, 0.0)), _result("c", (2.0, 1.0))]
    summary = class_summary(results, bins=4)
    assert summary["tests"]["layers::conv_transpose2d[0]"]["pass_rate"] == pytest.approx(2 / 3, abs=1e-3)
    assert summary["tests"]["quality::segmentation_miou"]["pass_rate"] == 0.0
    # 100 %, 0 %, 50 % -> bins [0, 25), [25, 50), [50, 75), [75, 100]
    assert summary["histogram"]["counts"] == [1, 0, 1, 1]
    assert summary["concepts"]["transpose convolution"]["share_earned"] == pytest.approx(4 / 6, abs=1e-3)


@pytest.mark.parametrize("raw, safe", [("../../etc", "_.._etc"), ("ann smith", "ann_smith"), ("", "unnamed")])
def test_student_names_cannot_escape_the_report_dir(raw, safe):
    assert safe_name(raw) == safe
