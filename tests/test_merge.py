"""One result per student: hidden-suite and notebook results merged, then every report written from it."""

from __future__ import annotations

import base64
import csv
import io
import json

import jsonschema
import pytest
import torch
from PIL import Image

from autograder.reports import SCHEMA_PATH, gradebook_table, merge_results, write_reports
from autograder.reports.merge import segmentation_examples


def suite(student: str = "ann") -> dict:
    return {
        "student": student,
        "status": "graded",
        "isolation": "bubblewrap",
        "seed": 1234,
        "score": 5.0,
        "max_score": 8.0,
        "seconds": 12.5,
        "tests": [
            {
                "name": "test_layers.py::test_conv_transpose2d[0]",
                "part": "layers",
                "concept": "transpose convolution",
                "points": 5.0,
                "max_points": 6.0,
                "status": "passed",
                "message": "",
                "seconds": 0.4,
            },
            {
                "name": "test_quality.py::test_segmentation_miou",
                "part": "quality",
                "concept": "FCN",
                "points": 0.0,
                "max_points": 2.0,
                "status": "timeout",
                "message": "call took > 60 s",
                "seconds": 60.0,
            },
        ],
        "log_excerpt": "worker restarted once",
    }


def notebook(name: str = "01_unpooling", *, tampering: tuple[str, ...] = (), isolation: str = "") -> dict:
    return {
        "notebook": name,
        "status": "graded",
        "isolation": isolation or "bubblewrap (no network, ...)",
        "seconds": 4.0,
        "tests": [
            {
                "name": f"{name}/unpooling",
                "part": f"notebook:{name}",
                "concept": "unpooling",
                "points": 3.0,
                "max_points": 3.0,
                "status": "passed",
                "message": "",
                "seconds": 0.1,
            },
            {
                "name": f"{name}/bilinear",
                "part": f"notebook:{name}",
                "concept": "bilinear",
                "points": 0.0,
                "max_points": 2.0,
                "status": "crashed",
                "message": "the kernel died in this cell",
                "seconds": 1.0,
            },
        ],
        "manual": [{"name": f"{name}/why", "grade_id": "why", "max_points": 2.0, "answer": "linear"}],
        "tampering": list(tampering),
        "notes": [],
    }


def test_merge_adds_notebook_tests_and_recomputes_totals() -> None:
    merged = merge_results(suite(), [notebook(), notebook("04_autoencoders")])
    assert merged["student"] == "ann" and merged["seed"] == 1234
    assert len(merged["tests"]) == 6
    assert [t["part"] for t in merged["tests"][2:]] == ["notebook:01_unpooling"] * 2 + [
        "notebook:04_autoencoders"
    ] * 2
    assert merged["score"] == pytest.approx(5.0 + 3.0 + 3.0)
    assert merged["max_score"] == pytest.approx(8.0 + 5.0 + 5.0)
    assert merged["seconds"] == pytest.approx(12.5 + 8.0)
    assert merged["log_excerpt"] == "worker restarted once"
    assert "4 point(s) of hand-graded" in merged["message"]
    assert [m["notebook"] for m in merged["manual"]] == ["01_unpooling", "04_autoencoders"]


def test_merge_reports_tampering_and_weaker_isolation() -> None:
    restored = "test cell 'bilinear' was changed; restored from the source"
    nb = notebook(tampering=(restored,), isolation="rlimits")
    merged = merge_results(suite(), [nb])
    assert "tampering" in merged["message"] and "'bilinear'" in merged["message"]
    assert merged["isolation"] == "bubblewrap; notebooks: rlimits"


def test_merge_without_suite_result_and_input_untouched() -> None:
    original = notebook()
    snapshot = json.dumps(original, sort_keys=True)
    merged = merge_results(None, [original], student="bob")
    assert merged["student"] == "bob" and merged["status"] == "graded"
    assert merged["score"] == 3.0 and merged["max_score"] == 5.0
    assert json.dumps(original, sort_keys=True) == snapshot
    with pytest.raises(ValueError, match="needs a suite_result or a student name"):
        merge_results(None, [])


def test_examples_are_pngs_of_scene_truth_and_prediction() -> None:
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(5, 3, 16, 16, generator=gen)
    truth = torch.randint(0, 11, (5, 16, 16), generator=gen)
    logits = torch.randn(5, 11, 16, 16, generator=gen)
    examples = segmentation_examples(images, truth, logits)
    assert [e["title"] for e in examples] == ["hidden scene 1", "hidden scene 2", "hidden scene 3"]
    picture = Image.open(io.BytesIO(base64.b64decode(examples[0]["prediction"])))
    assert picture.size == (16, 16) and picture.mode == "RGB"
    with pytest.raises(ValueError, match="same size"):
        segmentation_examples(images, truth[:, :8], truth)


def test_write_reports_from_merged_results(tmp_path) -> None:
    gen = torch.Generator().manual_seed(1)
    images, truth = torch.rand(3, 3, 8, 8, generator=gen), torch.randint(0, 11, (3, 8, 8), generator=gen)
    ann = merge_results(suite("ann"), [notebook()])
    ann["examples"] = segmentation_examples(images, truth, truth)
    bob = merge_results(suite("bob"), [notebook(tampering=("test cell 'x' was changed",))])
    paths = write_reports([ann, bob], tmp_path)
    schema = json.loads(SCHEMA_PATH.read_text())
    for student in ("ann", "bob"):
        payload = json.loads(paths.results_json[student].read_text())
        jsonschema.validate(payload, schema)
        assert payload["score"] == pytest.approx(8.0)
        assert {t["name"] for t in payload["tests"]} >= {"01_unpooling/unpooling"}
    with paths.grades_csv.open() as handle:
        header = next(csv.reader(handle))
    assert "notebook:01_unpooling" in header
    html = paths.feedback_html["ann"].read_text()
    assert html.count("data:image/png;base64,") == 9
    assert "tampering" in paths.feedback_html["bob"].read_text()
    assert "notebook:01_unpooling" in gradebook_table([ann, bob])
