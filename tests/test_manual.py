"""Hand-graded answers (autograder/reports/manual.py, `autograder manual`): export -> fill -> import ->
apply, every way a filled CSV is refused, escaping of hostile answers, and what grading keeps."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import nbformat
import pytest

from autograder.cli import main
from autograder.errors import GradingError
from autograder.reports.manual import (
    CSV_COLUMNS,
    MANUAL_FILE,
    apply_manual_scores,
    collect_answers,
    export_manual,
    import_manual,
    load_manual_scores,
    source_prompts,
)
from autograder.reports.merge import MANUAL_NOTE

HOSTILE = "</pre><script>alert(\"x\")</script><img src=x onerror=alert(1)> & 'quoted'"
QUESTIONS = [("01_nb", "q_why", 2.0), ("01_nb", "q_again", 3.0), ("02_nb", "q_last", 1.0)]
"""(notebook, cell, max points) in notebook order: q_again follows q_why although it sorts first."""


def _result(student: str, answers: dict[str, str | None]) -> dict:
    manual = [
        {
            "name": f"{nb}/{cell}",
            "grade_id": cell,
            "max_points": most,
            "answer": answers.get(cell),
            "prompt": f"**Question {cell}.** Explain." if cell != "q_last" else "",
            "notebook": nb,
        }
        for nb, cell, most in QUESTIONS
    ]
    test = {
        "name": "01_nb/test_a",
        "part": "notebook:01_nb",
        "concept": "test a",
        "points": 1.0,
        "max_points": 1.0,
        "status": "passed",
        "message": "",
        "seconds": 0.1,
    }
    return {
        "schema": 2,
        "student": student,
        "status": "graded",
        "score": 1.0,
        "max_score": 1.0,
        "tests": [test],
        "message": "01_nb: a note\n" + MANUAL_NOTE.format(points=6.0),
        "manual": manual,
    }


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """A grading folder with three students' results (carol left q_again blank, bob is hostile)."""
    folder = tmp_path / "grading"
    (folder / "results").mkdir(parents=True)
    answers = {
        "alice": {"q_why": "It is linear.", "q_again": "Stride 2.", "q_last": "Yes."},
        "bob": {"q_why": HOSTILE, "q_again": "no idea", "q_last": "No."},
        "carol": {"q_why": "Because.", "q_again": None, "q_last": "Maybe."},
    }
    for student, texts in answers.items():
        path = folder / "results" / f"{student}.json"
        path.write_text(json.dumps(_result(student, texts)), encoding="utf-8")
    return folder


def _results(out: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "results").glob("*.json"))]


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = CSV_COLUMNS) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _fill(rows: list[dict[str, str]], points: dict[tuple[str, str], str]) -> list[dict[str, str]]:
    for row in rows:
        value = points.get((row["student"], row["cell"]))
        if value is not None:
            row["points"], row["comment"] = value, f"comment for {row['student']}"
    return rows


def test_round_trip_export_fill_import_apply(out: Path, tmp_path: Path) -> None:
    paths = export_manual(out, tmp_path / "ta")
    rows = _rows(paths.csv)
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [(r["cell"], r["student"]) for r in rows[:4]] == [
        ("q_why", "alice"),
        ("q_why", "bob"),
        ("q_why", "carol"),
        ("q_again", "alice"),
    ], "questions in notebook order, students sorted within one"
    assert rows[0]["prompt"] == "**Question q_why.** Explain." and rows[0]["max_points"] == "2"
    assert all(r["points"] == r["comment"] == "" for r in rows)
    assert sorted(paths.pages) == ["01_nb/q_again", "01_nb/q_why", "02_nb/q_last"]
    assert "(no answer found)" in paths.pages["01_nb/q_again"].read_text(encoding="utf-8"), "carol's blank"

    every = {(s, c): "1" for s in ("alice", "bob", "carol") for _, c, _ in QUESTIONS}
    filled = _fill(rows, every | {("alice", "q_why"): "1.5", ("bob", "q_again"): "0"})
    summary = import_manual(out, _write(tmp_path / "filled.csv", filled))
    assert (summary.new, summary.changed, summary.unchanged, summary.blank) == (9, 0, 0, 0)
    assert load_manual_scores(out)["alice", "01_nb", "q_why"].points == 1.5

    results = _results(out)
    before = copy.deepcopy(results)
    applied = apply_manual_scores(results, out)
    assert results == before, "the inputs are not changed"
    alice, bob = applied[0], applied[1]
    hand = {t["name"]: t for t in alice["tests"][1:]}
    assert hand["01_nb/q_why"] == {
        "name": "01_nb/q_why",
        "part": "notebook:01_nb",
        "concept": "q why",
        "points": 1.5,
        "max_points": 2.0,
        "status": "passed",
        "message": "comment for alice",
        "seconds": 0.0,
    }
    assert (alice["score"], alice["max_score"]) == (1.0 + 1.5 + 1 + 1, 1.0 + 6.0)
    assert alice["message"] == "01_nb: a note", "every answer graded: the note goes, other lines stay"
    bob_again = next(t for t in bob["tests"] if t["name"] == "01_nb/q_again")
    assert (bob_again["status"], bob_again["points"]) == ("failed", 0.0)
    assert apply_manual_scores(applied, out) == applied, "applying twice adds nothing"

    again = export_manual(out, tmp_path / "ta")
    assert _rows(again.csv)[0]["points"] == "1.5", "a new export is pre-filled from the imports"
    assert import_manual(out, again.csv).unchanged == 9


def test_partly_graded_keeps_a_note_for_the_rest(out: Path, tmp_path: Path) -> None:
    rows = _fill(_rows(export_manual(out, tmp_path / "m.csv").csv), {("alice", "q_again"): "3"})
    summary = import_manual(out, _write(tmp_path / "f.csv", rows))
    assert (summary.new, summary.blank) == (1, 8)
    alice, bob = apply_manual_scores(_results(out), out)[:2]
    assert alice["message"].split("\n") == ["01_nb: a note", MANUAL_NOTE.format(points=3.0)]
    assert bob == _results(out)[1], "nothing imported for bob: unchanged"


def test_csv_path_puts_pages_beside_it(out: Path, tmp_path: Path) -> None:
    prompts = {("02_nb", "q_last"): "From the source.", ("01_nb", "q_why"): "not used: one is stored"}
    paths = export_manual(out, tmp_path / "sheets" / "week5.csv", prompts=prompts)
    stored, _, missing = [r["prompt"] for r in _rows(paths.csv)][::3]
    assert (stored, missing) == ("**Question q_why.** Explain.", "From the source."), "only missing ones"
    assert paths.csv == tmp_path / "sheets" / "week5.csv"
    assert paths.index == tmp_path / "sheets" / "week5-pages" / "index.html"
    assert "01_nb__q_why.html" in paths.index.read_text(encoding="utf-8")


def test_reimport_replaces_per_answer_and_keeps_history(out: Path, tmp_path: Path) -> None:
    rows = _rows(export_manual(out, tmp_path / "ta").csv)
    import_manual(out, _write(tmp_path / "a.csv", _fill(rows, {("alice", "q_why"): "1"})))
    summary = import_manual(out, _write(tmp_path / "b.csv", _fill(rows, {("alice", "q_why"): "2"})))
    assert (summary.new, summary.changed) == (0, 1)
    store = json.loads((out / MANUAL_FILE).read_text(encoding="utf-8"))
    entry = store["scores"]["alice"]["01_nb/q_why"]
    assert (entry["points"], entry["file"]) == (2.0, "b.csv")
    assert [(h["points"], h["file"]) for h in entry["history"]] == [(1.0, "a.csv")]
    assert [i["file"] for i in store["imports"]] == ["a.csv", "b.csv"]


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        ({"student": "mallory", "points": "1"}, r"row 2: unknown student 'mallory'"),
        ({"cell": "q_nope", "points": "1"}, r"row 2: alice has no hand-graded cell 01_nb/'q_nope'"),
        ({"notebook": "02_nb", "points": "1"}, r"row 2: alice has no hand-graded cell 02_nb/'q_why'"),
        ({"points": "2.5"}, r"row 2: points 2.5 is above the maximum 2 of 01_nb/q_why"),
        ({"points": "-0.5"}, r"row 2: points must be a number of at least 0, got '-0.5'"),
        ({"points": "nan"}, r"row 2: points must be a number of at least 0, got 'nan'"),
        ({"points": "inf"}, r"row 2: points must be a number of at least 0, got 'inf'"),
        ({"points": "abc"}, r"row 2: points 'abc' is not a number"),
        ({"points": "1,5"}, r"row 2: points '1,5' is not a number \(write 1.5, not 1,5\)"),
        ({"comment": "good"}, r"row 2: a comment without points for alice 01_nb/q_why"),
    ],
)
def test_bad_row_is_named_and_nothing_is_written(out: Path, tmp_path: Path, edit, match) -> None:
    rows = _rows(export_manual(out, tmp_path / "ta").csv)
    import_manual(out, _write(tmp_path / "ok.csv", _fill(rows, {("carol", "q_last"): "1"})))
    stored = (out / MANUAL_FILE).read_bytes()
    rows = _fill(rows, {("bob", "q_why"): "2"})
    rows[0].update(edit)
    with pytest.raises(GradingError, match=match) as caught:
        import_manual(out, _write(tmp_path / "bad.csv", rows))
    assert "1 bad row(s), nothing imported" in str(caught.value)
    assert (out / MANUAL_FILE).read_bytes() == stored, "the earlier import is untouched"


def test_every_bad_row_is_listed_and_a_first_import_writes_nothing(out: Path, tmp_path: Path) -> None:
    rows = _fill(_rows(export_manual(out, tmp_path / "ta").csv), {("alice", "q_why"): "1"})
    rows[4]["points"] = "9"
    rows.append(dict(rows[0], points="2"))
    with pytest.raises(GradingError, match=r"2 bad row\(s\)") as caught:
        import_manual(out, _write(tmp_path / "bad.csv", rows))
    message = str(caught.value)
    assert "row 6: points 9 is above the maximum 3" in message
    assert "row 11: alice 01_nb/q_why again (first in row 2)" in message
    assert not (out / MANUAL_FILE).exists()


def test_missing_column_is_refused(out: Path, tmp_path: Path) -> None:
    rows = _rows(export_manual(out, tmp_path / "ta").csv)
    columns = tuple(c for c in CSV_COLUMNS if c != "points")
    with pytest.raises(GradingError, match="no column points"):
        import_manual(out, _write(tmp_path / "bad.csv", rows, columns))
    assert not (out / MANUAL_FILE).exists()


def test_hostile_answer_is_escaped(out: Path, tmp_path: Path) -> None:
    page = export_manual(out, tmp_path / "ta").pages["01_nb/q_why"].read_text(encoding="utf-8")
    assert "&lt;/pre&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &#x27;quoted&#x27;" in page
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert page.count("</pre>") == page.count("<pre>") == 4, "the prompt and three answers, no more"
    assert "default-src 'none'" in page, "and a policy that runs no script if anything slipped through"


def test_missing_or_broken_inputs(tmp_path: Path, out: Path) -> None:
    with pytest.raises(GradingError, match="no results in"):
        export_manual(tmp_path / "empty", tmp_path / "ta")
    (out / "results" / "dave.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(GradingError, match=r"dave.json is not a readable result"):
        collect_answers(out)
    (out / "results" / "dave.json").unlink()
    (out / MANUAL_FILE).write_text('{"scores": []}', encoding="utf-8")
    with pytest.raises(GradingError, match="manual.json is not a readable manual-score file"):
        apply_manual_scores(_results(out), out)
    (out / MANUAL_FILE).unlink()
    assert apply_manual_scores(_results(out), out) == _results(out), "nothing imported: plain copies"
    bare = tmp_path / "bare"
    (bare / "results").mkdir(parents=True)
    (bare / "results" / "eve.json").write_text('{"student": "eve", "manual": []}', encoding="utf-8")
    with pytest.raises(GradingError, match="hold no hand-graded answers"):
        export_manual(bare, tmp_path / "ta")


def test_cli_export_import_and_errors(out: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["manual", str(out), "--export", str(tmp_path / "ta")]) == 0
    assert "--import" in capsys.readouterr().out
    rows = _rows(tmp_path / "ta" / "manual.csv")
    rows[0]["points"] = "5"
    assert main(["manual", str(out), "--import", str(_write(tmp_path / "bad.csv", rows))]) == 1
    assert "row 2: points 5 is above the maximum 2" in capsys.readouterr().err
    rows[0]["points"] = "2"
    assert main(["manual", str(out), "--import", str(_write(tmp_path / "ok.csv", rows))]) == 0
    assert "1 new and 0 changed score(s)" in capsys.readouterr().out
    assert main(["manual", str(out), "--export", "x", "--import", str(tmp_path / "ok.csv")]) == 2
    assert main(["manual", str(out), "--import", str(tmp_path)]) == 2, "a folder is not a CSV"


# --- what grading keeps (autograder/grading/notebooks/grade.py) --------------------------------------

SOURCE = """\
# %% [markdown]
# # Title

# %% tags=["solution:add"]
def add(a, b):
    ### BEGIN SOLUTION
    return a + b
    ### END SOLUTION

# %% [markdown]
# **Question 1.** Why?

# %% [markdown] tags=["answer:why:2"]
# ### BEGIN SOLUTION
# Because.
# ### END SOLUTION

# %% [markdown] tags=["answer:follow_up:1"]
# ### BEGIN SOLUTION
# And so.
# ### END SOLUTION

# %% [markdown]
# **Question 3.** Write code.

# %% tags=["readonly:setup"]
import math

# %% tags=["answer:code:1"]
### BEGIN SOLUTION
x = 1
### END SOLUTION
"""


def test_prompts_from_the_source_notebooks(tmp_path: Path) -> None:
    (tmp_path / "01_q.py").write_text(SOURCE, encoding="utf-8")
    assert source_prompts(tmp_path) == {
        ("01_q", "why"): "**Question 1.** Why?",
        ("01_q", "follow_up"): "",
        ("01_q", "code"): "**Question 3.** Write code.",
    }


def test_grading_keeps_the_prompt_and_a_bounded_answer(tmp_path: Path, monkeypatch) -> None:
    from autograder.grading.notebooks import grade as grade_module
    from autograder.grading.notebooks.execute import NotebookRun
    from autograder.grading.notebooks.source import load_source, released_form
    from autograder.release.notebooks import read_source

    (tmp_path / "01_q.py").write_text(SOURCE, encoding="utf-8")
    source = load_source(tmp_path / "01_q.py")
    prompts = [grade_module.question_prompt(source, c) for c in source.answers]
    assert prompts == ["**Question 1.** Why?", "", "**Question 3.** Write code."]

    nb = released_form(read_source(tmp_path / "01_q.py")[0])
    long = "y" * (grade_module.MAX_ANSWER_CHARS + 5)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "why":
            cell.source = long
    root = tmp_path / "submission"
    root.mkdir()
    nbformat.write(nb, root / "01_q.ipynb")
    monkeypatch.setattr(grade_module, "run_notebooks", lambda jobs, **kwargs: [NotebookRun() for _ in jobs])
    result = grade_module.grade_notebook(source, root / "01_q.ipynb", submission_root=root)
    why = result["manual"][0]
    assert why["prompt"] == "**Question 1.** Why?"
    limit = grade_module.MAX_ANSWER_CHARS
    assert why["answer"] == "y" * limit + f"\n[... cut at {limit} of {limit + 5} characters]"
