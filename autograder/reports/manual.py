"""Hand-graded notebook answers: exported for TAs (a CSV and one HTML page per question), the filled CSV
imported into `DIR/manual.json`, and the imported points added to merged results as tests."""

from __future__ import annotations

import copy
import csv
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from autograder.errors import GradingError

MANUAL_FILE = "manual.json"
"""Imported scores, in the grading folder next to `results/`."""
CSV_COLUMNS = ("student", "notebook", "cell", "prompt", "max_points", "points", "comment")
"""The export's columns; an import reads student, notebook, cell, points, comment (the rest is for show)."""
PROMPT_CSV_CHARS = 200
"""The prompt is shortened to one line of this length in the CSV (the pages show it whole)."""
MAX_LISTED_ERRORS = 20
EPS = 1e-9

Key = tuple[str, str, str]
"""(student, notebook, cell): one hand-graded answer."""


@dataclass(frozen=True)
class ManualAnswer:
    """One student's answer to one hand-graded cell, as stored in `DIR/results/<student>.json`."""

    student: str
    notebook: str
    cell: str
    """The cell's nbgrader grade_id."""
    max_points: float
    prompt: str = ""
    answer: str | None = None
    """None: no answer was found in the submitted notebook."""

    @property
    def key(self) -> Key:
        return self.student, self.notebook, self.cell


@dataclass(frozen=True)
class ManualScore:
    """Points a TA gave one answer (the latest import wins)."""

    points: float
    comment: str = ""


@dataclass(frozen=True)
class ExportPaths:
    csv: Path
    index: Path
    pages: dict[str, Path]
    """`<notebook>/<cell>` -> its page."""


@dataclass(frozen=True)
class ImportSummary:
    path: Path
    """The manual.json written (untouched when every score was already there)."""
    new: int
    """Answers scored for the first time."""
    changed: int
    """Earlier scores replaced by a different one (the earlier one moves to the entry's `history`)."""
    unchanged: int
    """Rows repeating the score already stored (an export pre-fills them)."""
    blank: int
    """Rows left without points (not graded yet), skipped."""


# --- reading what grading stored ---------------------------------------------------------------------


def _answer(student: str, item: Mapping[str, Any]) -> ManualAnswer:
    name = str(item.get("name") or "")
    notebook = str(item.get("notebook") or name.partition("/")[0])
    cell = str(item.get("grade_id") or name.partition("/")[2])
    answer = item.get("answer")
    return ManualAnswer(
        student=student,
        notebook=notebook,
        cell=cell,
        max_points=float(item.get("max_points") or 0.0),
        prompt=str(item.get("prompt") or ""),
        answer=None if answer is None else str(answer),
    )


def collect_answers(out: Path) -> list[ManualAnswer]:
    """Every hand-graded answer in `out/results/*.json`, grouped by question (in notebook order, as the
    results list them), students sorted within a question. Raises GradingError naming an unreadable
    result, or when there are no results."""
    folder = Path(out) / "results"
    files = sorted(p for p in folder.glob("*.json") if not p.name.startswith("."))
    if not files:
        raise GradingError(f"no results in {folder}: run `autograder grade` with this folder as --out first")
    found: dict[Key, ManualAnswer] = {}
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            student = str(data["student"])
            items = [_answer(student, item) for item in data.get("manual") or []]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise GradingError(f"{path} is not a readable result ({type(exc).__name__}: {exc})") from exc
        for item in items:
            found.setdefault(item.key, item)
    order = {q: i for i, q in enumerate(dict.fromkeys((a.notebook, a.cell) for a in found.values()))}
    return sorted(found.values(), key=lambda a: (a.notebook, order[a.notebook, a.cell], a.student))


def source_prompts(source_dir: Path) -> dict[tuple[str, str], str]:
    """(notebook, cell) -> question prompt, read from the instructor's source notebooks: for results
    graded before grading stored the prompt."""
    from autograder.grading.notebooks.grade import question_prompt
    from autograder.grading.notebooks.source import load_source
    from autograder.release.notebooks.build import source_notebooks

    prompts = {}
    for path in source_notebooks(Path(source_dir)):
        nb = load_source(path)
        prompts.update({(nb.name, str(c.grade_id)): question_prompt(nb, c) for c in nb.answers})
    return prompts


# --- manual.json --------------------------------------------------------------------------------------


def _read_store(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"schema": 1, "imports": [], "scores": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data.get("scores"), dict) or not isinstance(data.get("imports"), list):
            raise ValueError("no `scores` object or `imports` list")
    except (OSError, ValueError, AttributeError) as exc:
        raise GradingError(f"{path} is not a readable manual-score file ({exc})") from exc
    return data


def load_manual_scores(out: Path) -> dict[Key, ManualScore]:
    """The scores imported into `out/manual.json` ({} when nothing was imported)."""
    path = Path(out) / MANUAL_FILE
    scores = {}
    try:
        for student, cells in _read_store(path)["scores"].items():
            for entry in cells.values():
                key = (str(student), str(entry["notebook"]), str(entry["cell"]))
                scores[key] = ManualScore(float(entry["points"]), str(entry.get("comment") or ""))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise GradingError(
            f"{path} is not a readable manual-score file ({type(exc).__name__}: {exc})"
        ) from exc
    return scores


# --- export -------------------------------------------------------------------------------------------

_PAGE_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f6f6; padding: .75rem; }
.prompt pre { background: #eef3fb; } .none { color: #a00; } .meta { color: #555; }
section.answer { border-top: 1px solid #ccc; margin-top: 1.5rem; }
table { border-collapse: collapse; } td, th { padding: .25rem .75rem; text-align: left; }
"""


def _page(title: str, body: str) -> str:
    policy = "default-src 'none'; style-src 'unsafe-inline'"  # no script, image or request of any kind
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{policy}\">"
        f"<title>{escape(title)}</title><style>{_PAGE_CSS}</style></head><body>{body}</body></html>\n"
    )


def _question_page(
    answers: list[ManualAnswer], rows: Mapping[Key, int], scores: Mapping[Key, ManualScore]
) -> str:
    first = answers[0]
    prompt = next((a.prompt for a in answers if a.prompt), "(no prompt stored)")
    parts = [
        "<p><a href='index.html'>all questions</a></p>",
        f"<h1>{escape(first.notebook)} / {escape(first.cell)}</h1>",
        f"<p class='meta'>{len(answers)} student(s), at most {first.max_points:g} point(s) each</p>",
        f"<section class='prompt'><h2>Question</h2><pre>{escape(prompt)}</pre></section>",
    ]
    for a in answers:
        score = scores.get(a.key)
        done = f" &middot; imported: {score.points:g}" if score else ""
        text = (
            "<p class='none'>(no answer found)</p>" if a.answer is None else f"<pre>{escape(a.answer)}</pre>"
        )
        parts.append(
            f"<section class='answer' id='{escape(a.student)}'><h2>{escape(a.student)}</h2>"
            f"<p class='meta'>CSV row {rows[a.key]} &middot; max {a.max_points:g}{done}</p>{text}</section>"
        )
    return _page(f"{first.notebook}/{first.cell}: hand-graded answers", "".join(parts))


def export_manual(
    out: Path, dest: Path, *, prompts: Mapping[tuple[str, str], str] | None = None
) -> ExportPaths:
    """Write every hand-graded answer of `out/results/` for grading by hand.

    `dest` ending in `.csv`: that CSV, the pages in the folder `<stem>-pages/` beside it; otherwise a
    folder receiving `manual.csv`, `index.html` and one page per question. The CSV has one row per
    (student, question), columns CSV_COLUMNS, `points`/`comment` pre-filled from earlier imports.
    `prompts` fills in prompts the results lack (`source_prompts`). Raises GradingError when there is
    nothing to export.
    """
    from .write import safe_name

    answers = collect_answers(out)
    if not answers:
        raise GradingError(f"the results in {Path(out) / 'results'} hold no hand-graded answers")
    prompts = prompts or {}
    answers = [a if a.prompt else replace(a, prompt=prompts.get((a.notebook, a.cell), "")) for a in answers]
    dest = Path(dest)
    csv_path, pages_dir = (
        (dest, dest.with_name(f"{dest.stem}-pages"))
        if dest.suffix.lower() == ".csv"
        else (dest / "manual.csv", dest)
    )
    scores = load_manual_scores(out)
    rows = {a.key: i + 2 for i, a in enumerate(answers)}  # spreadsheet rows: the header is row 1
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with open(csv_path, "w", encoding="utf-8-sig", newline="") as handle:  # the BOM: Excel reads UTF-8
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for a in answers:
            score = scores.get(a.key)
            prompt = " ".join(a.prompt.split())
            prompt = prompt if len(prompt) <= PROMPT_CSV_CHARS else prompt[: PROMPT_CSV_CHARS - 3] + "..."
            filled = [f"{score.points:g}", score.comment] if score else ["", ""]
            writer.writerow([a.student, a.notebook, a.cell, prompt, f"{a.max_points:g}", *filled])
    questions: dict[str, list[ManualAnswer]] = {}
    for a in answers:
        questions.setdefault(f"{a.notebook}/{a.cell}", []).append(a)
    pages_dir.mkdir(parents=True, exist_ok=True)
    pages, links = {}, []
    for name, group in questions.items():
        pages[name] = pages_dir / f"{safe_name(name.replace('/', '__'))}.html"
        pages[name].write_text(_question_page(group, rows, scores), encoding="utf-8")
        answered = sum(a.answer is not None for a in group)
        links.append(
            f"<tr><td><a href='{escape(pages[name].name)}'>{escape(name)}</a></td><td>{answered} of "
            f"{len(group)}</td><td>{group[0].max_points:g}</td></tr>"
        )
    index = pages_dir / "index.html"
    table = "<tr><th>question</th><th>answered</th><th>max points</th></tr>" + "".join(links)
    body = f"<h1>Hand-graded answers</h1><p class='meta'>fill in {escape(csv_path.name)}</p>"
    body += f"<table>{table}</table>"
    index.write_text(_page("Hand-graded answers", body), encoding="utf-8")
    return ExportPaths(csv_path, index, pages)


# --- import -------------------------------------------------------------------------------------------


def _check_row(row: Mapping[str, str | None], known: Mapping[Key, ManualAnswer]) -> ManualScore | None | str:
    """The row's score, None for a blank row, or what is wrong with it."""
    field = {k: (row.get(k) or "").strip() for k in ("student", "notebook", "cell", "points", "comment")}
    key = (field["student"], field["notebook"], field["cell"])
    answer = known.get(key)
    if answer is None:
        if field["student"] not in {k[0] for k in known}:
            return f"unknown student {field['student']!r}"
        return f"{field['student']} has no hand-graded cell {field['notebook']}/{field['cell']!r}"
    if not field["points"]:
        return f"a comment without points for {key[0]} {key[1]}/{key[2]}" if field["comment"] else None
    try:
        points = float(field["points"])
    except ValueError:
        return f"points {field['points']!r} is not a number (write 1.5, not 1,5)"
    if not math.isfinite(points) or points < 0:
        return f"points must be a number of at least 0, got {field['points']!r}"
    if points > answer.max_points + EPS:
        return f"points {points:g} is above the maximum {answer.max_points:g} of {key[1]}/{key[2]}"
    return ManualScore(round(points, 4), field["comment"])


def read_scores_csv(path: Path, answers: list[ManualAnswer]) -> tuple[dict[Key, ManualScore], int]:
    """The scores of a filled export CSV and the number of blank rows, checked against `answers`.

    Raises GradingError listing every bad row (spreadsheet numbering: the header is row 1): unknown
    student or cell, points not a number, negative or above the cell's maximum, a comment without
    points, a second row for the same answer; or a missing column.
    """
    known = {a.key: a for a in answers}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [
            c
            for c in ("student", "notebook", "cell", "points", "comment")
            if c not in (reader.fieldnames or [])
        ]
        if missing:
            raise GradingError(
                f"{path}: no column {', '.join(missing)} (the header must be {','.join(CSV_COLUMNS)})"
            )
        scores: dict[Key, ManualScore] = {}
        seen: dict[Key, int] = {}
        problems, blank = [], 0
        for number, row in enumerate(reader, start=2):
            key: Key = (
                (row.get("student") or "").strip(),
                (row.get("notebook") or "").strip(),
                (row.get("cell") or "").strip(),
            )
            checked = _check_row(row, known)
            if key in seen:
                problems.append(f"row {number}: {key[0]} {key[1]}/{key[2]} again (first in row {seen[key]})")
            elif isinstance(checked, str):
                problems.append(f"row {number}: {checked}")
            elif checked is None:
                blank += 1
            else:
                scores[key] = checked
            seen.setdefault(key, number)
    if problems:
        more = len(problems) - MAX_LISTED_ERRORS
        listed = problems[:MAX_LISTED_ERRORS] + ([f"... and {more} more"] if more > 0 else [])
        raise GradingError(f"{path}: {len(problems)} bad row(s), nothing imported:\n  " + "\n  ".join(listed))
    return scores, blank


def import_manual(out: Path, csv_path: Path) -> ImportSummary:
    """Check the filled CSV `csv_path` against `out/results/` and store its scores in `out/manual.json`.

    Nothing is written when any row is bad (GradingError names them). The latest import wins per
    (student, cell); a score it replaces with a different one is kept in that entry's `history`, and
    every import is logged under `imports`. Rows without points are skipped (grade in several rounds).
    The file is replaced atomically.
    """
    from autograder.intake import write_json_atomic

    out, csv_path = Path(out), Path(csv_path)
    scores, blank = read_scores_csv(csv_path, collect_answers(out))
    path = out / MANUAL_FILE
    store = _read_store(path)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    counts = {"new": 0, "changed": 0, "unchanged": 0}
    for (student, notebook, cell), score in scores.items():
        cells = store["scores"].setdefault(student, {})
        old = cells.get(f"{notebook}/{cell}")
        if old and (old.get("points"), old.get("comment")) == (score.points, score.comment):
            counts["unchanged"] += 1
            continue
        history = list(old.get("history") or []) if old else []
        if old:
            history.append({k: old.get(k) for k in ("points", "comment", "imported_at", "file")})
        counts["changed" if old else "new"] += 1
        cells[f"{notebook}/{cell}"] = {
            "notebook": notebook,
            "cell": cell,
            "points": score.points,
            "comment": score.comment,
            "imported_at": now,
            "file": csv_path.name,
            "history": history,
        }
    if counts["new"] or counts["changed"]:
        store["imports"].append({"at": now, "file": csv_path.name, **counts})
        write_json_atomic(path, store)
    return ImportSummary(path, blank=blank, **counts)


# --- into the merged results -------------------------------------------------------------------------


def _note_pattern() -> re.Pattern[str]:
    from .merge import MANUAL_NOTE

    return re.compile(re.escape(MANUAL_NOTE).replace(re.escape("{points:g}"), r"[-+0-9.e]+"))


def _apply_one(
    result: dict[str, Any], scores: Mapping[Key, ManualScore], note: re.Pattern[str]
) -> dict[str, Any]:
    from .merge import MANUAL_NOTE

    result = copy.deepcopy(result)
    student = str(result.get("student"))
    tests = result.setdefault("tests", [])
    open_points, added = 0.0, 0
    for item in result.get("manual") or []:
        a = _answer(student, item)
        score = scores.get(a.key)
        if item.get("graded"):
            continue
        if score is None:
            open_points += a.max_points
            continue
        points = min(score.points, a.max_points)
        tests.append(
            {
                "name": f"{a.notebook}/{a.cell}",
                "part": f"notebook:{a.notebook}",
                "concept": a.cell.replace("_", " "),
                "points": points,
                "max_points": a.max_points,
                "status": "passed" if points > 0 or a.max_points == 0 else "failed",
                "message": score.comment or "graded by hand",
                "seconds": 0.0,
            }
        )
        item.update(graded=True, points=points, comment=score.comment)
        result["score"] = round(float(result.get("score") or 0.0) + points, 4)
        result["max_score"] = round(float(result.get("max_score") or 0.0) + a.max_points, 4)
        added += 1
    if added:
        message = str(result.get("message") or "")
        lines = [line for line in message.split("\n") if not note.fullmatch(line)] if message else []
        if open_points > EPS:
            lines.append(MANUAL_NOTE.format(points=open_points))
        result["message"] = "\n".join(lines)
    return result


def apply_manual_scores(results: list[dict[str, Any]], out: Path) -> list[dict[str, Any]]:
    """Copies of the merged `results` with the scores imported into `out/manual.json` added.

    Each graded answer becomes a test `{name: "<notebook>/<cell>", part: "notebook:<notebook>", concept,
    points, max_points, status, message: the TA's comment, seconds: 0}`, `passed` when it earned points,
    else `failed`; score and max_score grow by its points; its `manual` item gets `graded`, `points` and
    `comment` (so applying twice adds nothing). The "not included" note then names only the points still
    ungraded, or goes. Points above a maximum that shrank since the import are capped. Inputs are not
    changed; no manual.json gives plain copies.
    """
    scores = load_manual_scores(out)
    note = _note_pattern()
    return [_apply_one(result, scores, note) if scores else copy.deepcopy(result) for result in results]
