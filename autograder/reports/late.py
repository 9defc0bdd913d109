"""Late submissions: when each student submitted (a timestamps CSV, else the newest date inside the zip)
and the score left after the assignment's `LatePolicy` (exercise_code.config; docs/lms.md)."""

from __future__ import annotations

import csv
import logging
import math
import struct
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any

from exercise_code.config import LatePolicy

log = logging.getLogger(__name__)

DAY = timedelta(days=1)
_EXTENDED_TIMESTAMP = 0x5455  # Info-ZIP "UT" extra field: modification time in UTC seconds


class TimeSource(StrEnum):
    """Where a submission time came from (the `source` of a `late` record)."""

    CSV = "csv"
    """The timestamps CSV (from the LMS): wins whenever it has the student."""
    ZIP = "zip-entries"
    """The newest entry date inside the submitted zip: set by the student's computer, so forgeable."""
    NONE = "none"
    """Neither: the submission is treated as on time and the report says so."""


SOURCE_TEXT = {
    TimeSource.CSV: "timestamps CSV",
    TimeSource.ZIP: "newest file date in the zip, set by the student's computer",
    TimeSource.NONE: "no timestamp in the CSV or the zip",
}


@dataclass(frozen=True)
class SubmissionTime:
    """When one student submitted, and how we know."""

    at: datetime
    """Aware datetime."""
    source: TimeSource


def _parse_time(text: str, zone: tzinfo, where: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{where}: submission time must be ISO 8601, got {text!r}") from None
    return at if at.utcoffset() is not None else at.replace(tzinfo=zone)


def read_timestamps(path: Path, *, zone: tzinfo = UTC) -> dict[str, datetime]:
    """`{student: submitted at}` from a CSV of `student,submitted_at` rows. A header row (one with a
    `student` cell) may name them in any order (`timestamp` for `submitted_at`; other columns ignored).
    Times are ISO 8601; one without a UTC offset is read in `zone`. A student with several rows gets the
    latest; a row with an empty time is skipped (the zip's date is used instead)."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = [row for row in csv.reader(f) if any(cell.strip() for cell in row)]
    student_col, time_col, first_row = 0, 1, 1
    if rows and "student" in (cell.strip().lower() for cell in rows[0]):
        header = [cell.strip().lower() for cell in rows.pop(0)]
        names = [n for n in ("submitted_at", "timestamp") if n in header]
        if not names:
            raise ValueError(f"{path}: the header needs a submitted_at (or timestamp) column, got {header}")
        student_col, time_col, first_row = header.index("student"), header.index(names[0]), 2
    times: dict[str, datetime] = {}
    for number, row in enumerate(rows, start=first_row):
        student = row[student_col].strip() if len(row) > student_col else ""
        text = row[time_col] if len(row) > time_col else ""
        if not student or not text.strip():
            log.warning("%s: row %d has no student or no time: skipped", path, number)
            continue
        at = _parse_time(text, zone, f"{path} row {number}")
        times[student] = max(at, times.get(student, at))
    return times


def _utc_mtime(extra: bytes) -> datetime | None:
    """The Info-ZIP extended timestamp (0x5455) in a central-directory extra field, when present."""
    offset = 0
    while offset + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, offset)
        body = extra[offset + 4 : offset + 4 + size]
        if kind == _EXTENDED_TIMESTAMP and len(body) >= 5 and body[0] & 1:
            return datetime.fromtimestamp(struct.unpack_from("<i", body, 1)[0], UTC)
        offset += 4 + size
    return None


def zip_time(path: Path, *, zone: tzinfo = UTC) -> datetime | None:
    """The newest modification date of the files in a zip, None when it has none or cannot be read.

    The UTC time of the extended-timestamp field is used when the zipping tool wrote one; otherwise the
    entry's DOS date, which has no zone, is read in `zone`. Both come from the student's computer."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [info for info in archive.infolist() if not info.is_dir()]
    except (OSError, zipfile.BadZipFile) as exc:
        log.warning("cannot read the entry dates of %s: %s", path, exc)
        return None
    dates = [_entry_time(info, zone) for info in infos]
    return max((d for d in dates if d is not None), default=None)


def _entry_time(info: zipfile.ZipInfo, zone: tzinfo) -> datetime | None:
    try:
        return _utc_mtime(info.extra) or datetime(*info.date_time, tzinfo=zone)
    except (ValueError, OverflowError, OSError):  # a DOS date such as month 0, an absurd UT field
        return None


def submission_times(
    results: Iterable[dict[str, Any]],
    policy: LatePolicy,
    *,
    timestamps_csv: Path | None = None,
    base: Path | None = None,
) -> dict[str, SubmissionTime]:
    """When each result's student submitted: their row of `timestamps_csv` when it has one, else the
    newest entry date of the zip named by the result's `source` (relative paths against `base`, default
    the current folder). Times without a zone are read in the deadline's zone (UTC without a deadline).
    Students with neither are left out (apply_late_policy records them as `none`)."""
    deadline = policy.deadline_at()
    zone = deadline.tzinfo if deadline is not None and deadline.tzinfo is not None else UTC
    from_csv = read_timestamps(timestamps_csv, zone=zone) if timestamps_csv is not None else {}
    times: dict[str, SubmissionTime] = {}
    for result in results:
        student = str(result.get("student", ""))
        if student in from_csv:
            times[student] = SubmissionTime(from_csv[student], TimeSource.CSV)
            continue
        source = Path(str(result.get("source") or ""))
        if source.suffix.lower() != ".zip":
            continue
        at = zip_time(source if source.is_absolute() else Path(base or ".") / source, zone=zone)
        if at is not None:
            times[student] = SubmissionTime(at, TimeSource.ZIP)
    return times


def days_late(policy: LatePolicy, submitted_at: datetime) -> int:
    """Started days after the deadline plus grace (0 when on time or without a deadline)."""
    deadline = policy.deadline_at()
    if deadline is None:
        return 0
    late = (submitted_at - deadline - timedelta(minutes=policy.grace_minutes)) / DAY
    return max(0, math.ceil(late))


def penalty_share(policy: LatePolicy, days: int) -> float:
    """Share of the maximum score deducted after `days` started days late: `penalty_per_day` each, at
    most `max_penalty`; everything past `late_days`."""
    if days <= 0:
        return 0.0
    if policy.late_days is not None and days > policy.late_days:
        return 1.0
    return min(policy.penalty_per_day * days, policy.max_penalty)


def _tests_total(result: Mapping[str, Any], key: str) -> float:
    return sum(float(t.get(key, 0.0)) for t in result.get("tests", []))


def final_score(result: Mapping[str, Any]) -> float:
    """The score that counts: `score` after the late penalty when the result has a `late` record, else
    the sum of its tests' points (what merge_results stores as `score`)."""
    if result.get("late") is not None:
        return float(result["score"])
    return _tests_total(result, "points")


def max_score(result: Mapping[str, Any]) -> float:
    """The result's maximum: `max_score` when it has one, else the sum of its tests' maxima."""
    if "max_score" in result:
        return float(result["max_score"])
    return _tests_total(result, "max_points")


def apply_late_policy(
    results: Iterable[dict[str, Any]], policy: LatePolicy, timestamps: Mapping[str, SubmissionTime]
) -> list[dict[str, Any]]:
    """New result dicts with a `late` record and the penalised `score` (never below 0).

    Without a deadline the results come back as they were (copies, no record). With one, every result
    gets `late = {"submitted_at", "source", "days_late", "penalty", "score_before"}`: `penalty` in
    points (nbgrader's late_submission_penalty), 0 when on time or when no time is known (source
    `none`). Applying twice penalises once: `score_before` of an existing record is reused.
    """
    out = [dict(result) for result in results]
    if policy.deadline_at() is None:
        return out
    for result in out:
        student = str(result.get("student", ""))
        before = float(result["late"]["score_before"]) if result.get("late") else final_score(result)
        when = timestamps.get(student)
        days = days_late(policy, when.at) if when else 0
        penalty = round(min(before, penalty_share(policy, days) * max_score(result)), 4)
        if when is None:
            log.warning("%s: no submission time known: treated as on time", student)
        result["late"] = {
            "submitted_at": when.at.isoformat() if when else None,
            "source": str(when.source if when else TimeSource.NONE),
            "days_late": days,
            "penalty": penalty,
            "score_before": round(before, 4),
        }
        result["score"] = round(max(0.0, before - penalty), 4)
    return out


def late_line(result: Mapping[str, Any]) -> str | None:
    """The result's late record as one line for people (None without a record)."""
    late = result.get("late")
    if not late:
        return None
    source = SOURCE_TEXT.get(str(late.get("source")), str(late.get("source")))
    if not late.get("submitted_at"):
        return f"Submission time unknown ({source}): no late penalty applied."
    at = datetime.fromisoformat(late["submitted_at"]).isoformat(sep=" ", timespec="minutes")
    days = int(late.get("days_late", 0))
    if days == 0:
        return f"Submitted {at} ({source}): on time."
    return (
        f"Submitted {at} ({source}): {days} day{'s' if days != 1 else ''} late, penalty "
        f"{float(late['penalty']):.2f} points, score before the penalty {float(late['score_before']):.2f}."
    )
