"""Feedback and class-summary pages: order, subtotals, readable names, partial credit, escaping, roster.

The last test renders both pages in headless Chromium (skipped when none is installed) and checks that a
1280 px window needs no horizontal scrolling. To look at the pages yourself (Debian; about 1.5 min):

    apt-get update && apt-get install -y chromium
    FEEDBACK_SCREENSHOTS=/tmp/feedback-shots .venv/bin/python -m pytest tests/test_feedback_html.py \\
        -k chromium -p no:xdist -q

writes feedback.html/.png, summary.html/.png (1280 x 2000) and feedback-narrow.png (700 px) there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autograder.reports import feedback_html, summary_html, write_reports
from autograder.reports.html import encode_png, readable_name
from autograder.reports.summary import SUBMISSION_STATUSES, class_summary


def _test(name: str, part: str, status: str, points: float, max_points: float, **extra: Any) -> dict:
    base = {"name": name, "part": part, "concept": "", "points": points, "max_points": max_points}
    return {**base, "status": status, "message": "", "seconds": 0.1, **extra}


def _ids_in_page_order(html: str) -> list[str]:
    return re.findall(r"<span class='id'>([^<]*)</span>", html)


# --- unit tests (no browser) ---------------------------------------------------------------------------


def test_parts_in_course_order_and_failed_tests_first_within_a_part():
    tests = [
        _test("nb/test_a", "notebook:02_patch_segmentation", "passed", 1, 1),
        _test("test_layers.py::test_a[0]", "layers", "passed", 1, 1),
        _test("test_fcn.py::test_b", "fcn", "passed", 1, 1),
        _test("test_layers.py::test_a[1]", "layers", "timeout", 0, 1),
        _test("nb/test_b", "notebook:01_unpooling_transpose_conv", "failed", 0, 1),
        _test("test_layers.py::test_a[2]", "layers", "passed", 0.5, 1),  # partial: between the two
        _test("test_layers.py::test_a[3]", "layers", "passed", 1, 1),
        _test("test_layers.py::test_a[4]", "layers", "forbidden", 0, 1),
        _test("test_patch.py::test_c", "patches", "crashed", 0, 1),
    ]
    ids = _ids_in_page_order(feedback_html({"student": "ann", "status": "graded", "tests": tests}))
    assert ids == [
        "test_layers.py::test_a[1]",  # not passed, in input order
        "test_layers.py::test_a[4]",
        "test_layers.py::test_a[2]",  # partial
        "test_layers.py::test_a[0]",  # passed, in input order
        "test_layers.py::test_a[3]",
        "test_patch.py::test_c",
        "test_fcn.py::test_b",
        "nb/test_b",  # notebooks last, by name
        "nb/test_a",
    ]


def test_total_at_the_top_and_a_subtotal_per_part():
    tests = [
        _test("test_layers.py::test_a[0]", "layers", "passed", 2, 2),
        _test("test_layers.py::test_a[1]", "layers", "failed", 0, 2),
        _test("test_fcn.py::test_b", "fcn", "passed", 1.5, 3),
        _test("nb/test_c", "notebook:01_unpooling_transpose_conv", "passed", 1, 1),
    ]
    html = feedback_html({"student": "ann", "status": "graded", "tests": tests})
    total = html.index("Total <b>4.50 / 8.00</b> (56 %)")
    headings = re.findall(r"<h2><span>([^<]*)</span><span class='num'>([^<]*)</span></h2>", html)
    assert headings == [
        ("layers", "2.00 / 4.00"),
        ("fcn", "1.50 / 3.00"),
        ("notebook 01: unpooling transpose conv", "1.00 / 1.00"),
    ]
    assert total < html.index("<h2>")
    overview = html[html.index("<table class='parts'>") : html.index("</table>")]
    assert "<a href='#part-1'>layers</a></td><td class='num'>2.00 / 4.00</td>" in overview
    assert "1 not passed &middot; 0 partial &middot; 1 passed" in overview


@pytest.mark.parametrize(
    "test, expected",
    [
        ({"name": "test_layers.py::test_conv_transpose2d[3]", "part": "layers"}, "conv transpose2d, case 4"),
        ({"name": "test_autoencoders.py::test_classifier[True]"}, "classifier, True"),
        ({"name": "test_quality.py::test_segmentation_quality", "part": "models"}, "segmentation quality"),
        (
            {"name": "01_unpooling/test_scale", "part": "notebook:01_unpooling", "concept": "test scale"},
            "notebook 01: test scale",
        ),
        (  # merge_results' default concept is the part itself: the cell id names it then
            {"name": "02_patch/test_iou", "part": "notebook:02_patch", "concept": "notebook:02_patch"},
            "notebook 02: test iou",
        ),
    ],
)
def test_readable_names_replace_pytest_ids(test, expected):
    assert readable_name(test) == expected
    html = feedback_html({"tests": [{**test, "status": "passed", "points": 1, "max_points": 1}]})
    assert f"<span class='name'>{expected}</span>" in html
    assert f"title='{test['name']}'" in html  # the full id stays available


def test_partial_quality_credit_is_partial_not_failed():
    message = "mean IoU on 20 hidden scenes 0.550 -> 62% of the points (0 at 0.3, full at 0.7)"
    quality = _test(
        "test_quality.py::test_segmentation_quality", "models", "passed", 3.72, 6.0, message=message
    )
    passed = _test("t.py::test_x", "models", "passed", 1, 1)
    html = feedback_html({"student": "ann", "tests": [quality, passed]})
    row = re.search(r"<tr class='part'>.*?</tr>", html)
    assert row is not None
    assert "<td class='status partial'>partial</td>" in row[0]
    assert "62% of the points: mean IoU on 20 hidden scenes 0.550" in row[0]
    assert "failed" not in row[0]
    assert "0 not passed &middot; 1 partial &middot; 1 passed" in html


def test_student_text_is_escaped_everywhere_including_log_and_roster():
    script = "<script>alert(1)</script>"
    result = {
        "student": f"eve{script}",
        "status": "graded",
        "message": script,
        "log_excerpt": f"print: {script}\nTraceback ...",
        "tests": [_test(f"t.py::test_x[{script}]", "layers", "failed", 0, 1, message=script, concept=script)],
        "examples": [{"title": script, "image": encode_png(np.zeros((4, 4, 3), dtype=np.uint8))}],
    }
    html = feedback_html(result)
    summary = summary_html(class_summary([result], links={result["student"]: "students/eve/feedback.html"}))
    for page in (html, summary):
        assert "<script>" not in page and "alert(1)</script>" not in page
    # <title>, <h1>, banner; the test's title attribute, readable name, concept, id, message; log; example
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 10
    assert "print: &lt;script&gt;alert(1)&lt;/script&gt;" in html  # the log excerpt is on the page
    assert ">eve&lt;script&gt;alert(1)&lt;/script&gt;</a>" in summary  # the roster


def test_log_excerpt_is_collapsible_and_opens_when_a_message_refers_to_it():
    message = "conv2d crashed the sandboxed worker (signal 11); see the log excerpt"
    crashed = _test("t.py::test_x", "layers", "crashed", 0, 1, message=message)
    result = {"student": "ann", "tests": [crashed], "log_excerpt": "Segmentation fault\n  at <frame>"}
    html = feedback_html(result)
    assert "<details class='log' id='log' open>" in html
    assert "<pre>Segmentation fault\n  at &lt;frame&gt;</pre></details>" in html
    assert "(signal 11); <a href='#log'>see the log excerpt</a>" in html
    crashed["message"] = "plain failure"
    assert "<details class='log' id='log'><summary>" in feedback_html(result)  # closed


def test_each_segmentation_example_is_one_figure_of_three_images():
    png = encode_png(np.zeros((4, 4, 3), dtype=np.uint8))
    examples = [{"title": f"scene {i}", "image": png, "truth": png, "prediction": png} for i in range(2)]
    html = feedback_html({"student": "ann", "tests": [], "examples": examples})
    triples = re.findall(r"<div class='triple'>(.*?)</div>", html)
    assert len(triples) == 2
    for triple in triples:
        assert re.findall(r"alt='(\w+)'", triple) == ["image", "truth", "prediction"]


def test_summary_roster_links_feedback_pages_and_counts_statuses(tmp_path):
    def result(student: str, status: str, earned: float) -> dict:
        tests = [
            _test("t.py::test_a", "layers", "passed", earned, 2),
            _test("nb/c", "notebook:01_x", "passed", 1, 1),
        ]
        return {"student": student, "status": status, "tests": tests if status != "rejected" else []}

    results = [result("bob smith", "timeout", 1.0), result("ann", "graded", 2.0), result("cy", "rejected", 0)]
    paths = write_reports(results, tmp_path)
    html = paths.summary_html.read_text()
    links = re.findall(r"<a href='([^']*)'>([^<]*)</a>", html)
    assert links == [
        ("students/ann/feedback.html", "ann"),
        ("students/bob_smith/feedback.html", "bob smith"),
        ("students/cy/feedback.html", "cy"),
    ]
    for link, _ in links:
        assert (tmp_path / link).is_file()
    assert "<th>student</th><th>status</th><th>total</th><th class='num' title='layers'>layers</th>" in html
    assert "<th class='num' title='notebook 01: x'>notebook 01</th>" in html
    assert "<td class='num'>1 / 2</td><td class='num'>1 / 1</td></tr>" in html  # bob's parts
    assert "<td class='rejected'>rejected</td><td class='num'>0 / 0 (0 %)</td>" in html
    counts = re.search(r"<table class='counts'>.*?</table>", html)
    assert counts is not None
    heads = re.findall(r"<th[^>]*>(\w+)</th>", counts[0])
    cells = [int(n) for n in re.findall(r"<td>(\d+)</td>", counts[0])]
    expected = {"students": 3, "graded": 1, "rejected": 1, "timeout": 1, "crashed": 0, "error": 0}
    assert dict(zip(heads, cells, strict=True)) == expected
    assert "<svg" in html and "pass rate" in html  # histogram and per-test rates stay


def test_summary_counts_every_submission_status_of_the_grader():
    from autograder.grading.results import SubmissionStatus

    assert set(SUBMISSION_STATUSES) == {str(s) for s in SubmissionStatus}


# --- rendering in headless Chromium -------------------------------------------------------------------


def _png(rng: np.random.Generator, size: int = 24) -> str:
    palette = np.array([[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40]], dtype=np.uint8)
    return encode_png(palette[rng.integers(0, len(palette), (size, size))])


def realistic_result() -> dict[str, Any]:
    """A merged result like a real one: many tests in every part, partial quality credit, a long message
    with HTML in it, a 300-character message, a crash that points at the log excerpt, three examples."""
    rng = np.random.default_rng(0)
    nb1, nb2 = "01_unpooling_transpose_conv", "02_patch_segmentation"
    long_message = (
        "shape mismatch: expected (4, 3, 32, 32) from the reference but your extract_patches returned a "
        "tensor of shape (4, 3, 30, 30); patches near the image border must be padded with the border mode "
        "from the notebook. First differing index: tensor[0,0,0,0:16]=" + "0.1234," * 8
    )
    html_message = (
        "your code raised TypeError: expected <class 'torch.Tensor'> for indices, got <b>NoneType</b> "
        "(exercise_code/layers/unpooling.py, line 88, in forward: return F.max_unpool2d(x, <indices>))"
    )
    assert len(long_message) >= 300
    transpose_error = "max error 3.1e-01 at stride=2, padding=1, output_padding=1 (tolerance 1e-05)"
    rows: list[tuple[str, str, str, float, float, str, str]] = [
        (
            f"test_layers.py::test_conv_transpose2d[{case}]",
            "layers",
            "failed" if case in (1, 3) else "passed",
            0 if case in (1, 3) else 2,
            2,
            "transpose convolution",
            transpose_error if case in (1, 3) else "",
        )
        for case in range(5)
    ]
    rows += [
        (
            "test_layers.py::test_max_unpool2d_module[kernel_size=3-stride=2-padding=1-indices_of_another_pool]",
            "layers",
            "error",
            0,
            1,
            "max unpooling",
            html_message,
        ),
        (
            "test_patch.py::test_extract_patches[0]",
            "patches",
            "failed",
            0,
            2.5,
            "patch extraction",
            long_message,
        ),
        ("test_patch.py::test_extract_patches[1]", "patches", "passed", 2.5, 2.5, "patch extraction", ""),
        ("test_fcn.py::test_fcn_output_size", "fcn", "passed", 4, 4, "FCN output size", ""),
        (
            "test_fcn.py::test_fcn_crop",
            "fcn",
            "crashed",
            0,
            3,
            "FCN crop",
            "fcn.forward crashed the sandboxed worker (signal 11, SIGSEGV); see the log excerpt",
        ),
        (
            "test_autoencoders.py::test_linear_autoencoder[0]",
            "autoencoders",
            "timeout",
            0,
            1.5,
            "linear autoencoder",
            "call took > 60 s (CPU time)",
        ),
        (
            "test_autoencoders.py::test_classifier_on_encoder[True]",
            "autoencoders",
            "passed",
            1.5,
            1.5,
            "classifier on an encoder",
            "",
        ),
        (
            "test_quality.py::test_segmentation_quality",
            "models",
            "passed",
            3.72,
            6,
            "segmentation quality (mean IoU)",
            "mean IoU on 20 hidden scenes 0.550 -> 62% of the points (0 at 0.3, full at 0.7)",
        ),
        (
            "test_quality.py::test_reconstruction_quality",
            "models",
            "forbidden",
            0,
            4,
            "",
            "forbidden call: torch.nn.functional.conv_transpose2d (use your own conv_transpose2d)",
        ),
        (f"{nb1}/test_scale", f"notebook:{nb1}", "passed", 1, 1, "test scale", ""),
        (
            f"{nb1}/test_shapes",
            f"notebook:{nb1}",
            "failed",
            0,
            2,
            "test shapes",
            "AssertionError: assert (2, 3, 8, 8) == (2, 3, 16, 16)",
        ),
        (f"{nb2}/test_iou", f"notebook:{nb2}", "passed", 2, 2, "test iou", ""),
    ]
    tests = [
        _test(name, part, status, points, most, concept=concept, message=message)
        for name, part, status, points, most, concept, message in rows
    ]
    log = "\n".join(
        [f"epoch {i}: loss {1 / (i + 1):.4f} <tensor(0.5000, grad_fn=<MeanBackward0>)>" for i in range(12)]
        + ["Fatal Python error: Segmentation fault", "Current thread 0x00007f (most recent call first):"]
        + ['  File "/submission/exercise_code/models/fcn.py", line 42 in forward ' + "x" * 180]
    )
    examples = [
        {"title": f"hidden scene {i + 1}", "image": _png(rng), "truth": _png(rng), "prediction": _png(rng)}
        for i in range(3)
    ]
    return {
        "student": "anna.lena-mustermann-with-a-rather-long-login-name",
        "status": "graded",
        "isolation": "bubblewrap",
        "message": f"{nb1}: 2 point(s) of hand-graded notebook answers are not included in this score",
        "tests": tests,
        "log_excerpt": log,
        "examples": examples,
    }


def _chromium() -> str | None:
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


_MEASURE = """<script>
function measure() {
  const rows = [...document.querySelectorAll('.triple')].map(
    t => new Set([...t.querySelectorAll('img')].map(i => Math.round(i.getBoundingClientRect().top))).size);
  document.body.dataset.scrollWidth = document.documentElement.scrollWidth;
  document.body.dataset.tripleRows = rows.join(',');
}
measure(); addEventListener('load', measure);
</script></body>"""


def _headless(chromium: str, page: Path, profile: Path, width: int, *args: str) -> str:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={width},2000",
        *args,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


def _measure(chromium: str, html: str, folder: Path, width: int) -> tuple[int, list[int]]:
    """`document.documentElement.scrollWidth` and, per example, how many rows its images take."""
    page = folder / f"measure-{len(list(folder.glob('measure-*')))}.html"
    page.write_text(html.replace("</body>", _MEASURE), encoding="utf-8")
    dom = _headless(
        chromium, page, folder / f"profile-{page.stem}", width, "--virtual-time-budget=3000", "--dump-dom"
    )
    found = re.search(r'data-scroll-width="(\d+)"(?: data-triple-rows="([\d,]*)")?', dom)
    assert found is not None, dom[-2000:]
    return int(found[1]), [int(n) for n in (found[2] or "").split(",") if n]


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="no chromium (apt-get install chromium)")
def test_chromium_pages_fit_1280_px_without_horizontal_scrolling(tmp_path):
    from PIL import Image

    chromium = _chromium()
    assert chromium is not None
    out = Path(os.environ.get("FEEDBACK_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    result = realistic_result()
    others = [{**result, "student": f"s{i:02d}", "status": s} for i, s in enumerate(SUBMISSION_STATUSES)]
    pages = {"feedback": feedback_html(result), "summary": summary_html(class_summary([result, *others]))}
    for name, html in pages.items():
        page = out / f"{name}.html"
        page.write_text(html, encoding="utf-8")
        shot = out / f"{name}.png"
        _headless(chromium, page, tmp_path / f"profile-{name}", 1280, f"--screenshot={shot}")
        with Image.open(shot) as image:
            assert image.size == (1280, 2000)
        scroll_width, triple_rows = _measure(chromium, html, tmp_path, 1280)
        assert scroll_width <= 1280, f"{name}.html is {scroll_width} px wide"
        if name == "feedback":
            assert triple_rows == [1, 1, 1]
    # a narrow window: examples shrink but keep image, truth and prediction side by side
    narrow = f"--screenshot={out / 'feedback-narrow.png'}"
    _headless(chromium, out / "feedback.html", tmp_path / "profile-narrow", 700, narrow)
    scroll_width, triple_rows = _measure(chromium, pages["feedback"], tmp_path, 700)
    assert scroll_width <= 700 and triple_rows == [1, 1, 1]
