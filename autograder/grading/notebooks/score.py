"""Score each test cell from its recorded outputs, in the trusted process.

nbgrader's rule with one change: only an `error` output zeroes a test (an expected warning on stderr
does not; its text becomes a note); a number as the cell's result is partial credit, clipped to [0, max].
"""

from __future__ import annotations

from dataclasses import dataclass

from .execute import CellRecord, NotebookRun
from .source import SourceCell

NOT_RUN_DEAD = "not run: the kernel died in an earlier cell ({where})"
NOT_RUN_STUCK = "not run: the kernel did not recover after a timed-out cell ({where})"
NOT_RUN_BUDGET = "not run: the notebook used up its time budget of {budget:.0f} s"


@dataclass(frozen=True)
class CellScore:
    """Points, status and message of one test cell."""

    points: float
    status: str
    message: str
    seconds: float = 0.0


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _partial(record: CellRecord, max_points: float) -> float | None:
    for out in record.outputs:
        if out["output_type"] == "execute_result":
            try:
                value = float(out["data"].get("text/plain", "").strip())
            except ValueError:
                return None
            if value != value:  # NaN
                return 0.0
            return min(max(value, 0.0), max_points)
    return None


def score_record(record: CellRecord, cell: SourceCell, *, timeout_s: float, limit: int) -> CellScore:
    """The score of the test cell `cell` from what the sandbox recorded for it."""
    stderr = "".join(
        o["text"] for o in record.outputs if o["output_type"] == "stream" and o["name"] == "stderr"
    )
    note = f" (note: stderr said: {_short(stderr, limit)})" if stderr.strip() else ""
    if record.status == "timeout":
        what = (
            f"the cell waited {record.seconds:.0f} s (the wall-clock guard) without finishing"
            if record.wall_guard
            else f"the cell used more than {timeout_s:g} s of CPU time"
        )
        return CellScore(0.0, "timeout", f"{what} and was interrupted", record.seconds)
    if record.status == "dead":
        return CellScore(
            0.0,
            "crashed",
            "the kernel died in this cell (os._exit, a segfault or out of memory)",
            record.seconds,
        )
    error = next((o for o in record.outputs if o["output_type"] == "error"), None)
    if error is None and record.reply.get("status") in ("error", "aborted"):
        hidden = "the kernel reported an error but showed no traceback (was the error display changed?)"
        error = {
            "ename": record.reply.get("ename") or "Error",
            "evalue": record.reply.get("evalue") or hidden,
            "traceback": [],
        }
        note = f" ({hidden})" + note
    if error is not None:
        ename, evalue = error["ename"], _short(error["evalue"], limit)
        if ename == "NotImplementedError":
            return CellScore(0.0, "failed", "not implemented yet", record.seconds)
        if ename == "AssertionError":
            where = _short(error["traceback"][-2], limit) if len(error["traceback"]) >= 2 else ""
            message = f"AssertionError: {evalue}" if evalue else f"assertion failed {where}".strip()
            return CellScore(0.0, "failed", message + note, record.seconds)
        if ename == "MemoryError":
            return CellScore(0.0, "memory", f"MemoryError: {evalue}" + note, record.seconds)
        return CellScore(0.0, "error", f"{ename}: {evalue}" + note, record.seconds)
    points = _partial(record, cell.points)
    if points is not None and points < cell.points:
        return CellScore(
            points, "failed", f"partial credit {points:g} / {cell.points:g}" + note, record.seconds
        )
    return CellScore(cell.points, "passed", note.strip(), record.seconds)


def unrun_score(run: NotebookRun, index: int) -> CellScore:
    """The score of a test cell the sandbox left without a record, with the reason."""
    earlier = [i for i in run.cells if i < index]
    last = max(earlier, default=None)
    where = f"cell {last + 1}" if last is not None else "before the first cell"
    if last is not None and run.cells[last].status == "dead" or run.event("dead_kernel"):
        return CellScore(0.0, "crashed", NOT_RUN_DEAD.format(where=where))
    if run.event("stuck"):
        return CellScore(0.0, "timeout", NOT_RUN_STUCK.format(where=where))
    if run.budget_exhausted:
        return CellScore(0.0, "timeout", NOT_RUN_BUDGET.format(budget=run.seconds))
    no_kernel = run.event("no_kernel")
    if no_kernel:
        return CellScore(0.0, "crashed", f"the kernel did not start: {no_kernel['message'][:200]}")
    return CellScore(0.0, "crashed", "not run: the notebook runner stopped early")
