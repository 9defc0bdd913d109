"""What `submit` checked and wrote; `str(report)` is exactly what `python -m exercise_code.submit` prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from exercise_code.forbidden import CONSEQUENCE

from .model_files import MIB, ModelCheck
from .notebooks import NotebookCheck

COMMAND = "python -m exercise_code.submit"


@dataclass
class SubmitReport:
    """The five steps of a submission check, in order, and the zip (written only when nothing blocks it)."""

    root: Path
    out: Path
    kit_problem: str = ""
    """Set when `root` holds no kit at all (then no step ran)."""
    strict: bool = False
    checks_run: bool = False
    checks_ok: bool = True
    check_lines: list[str] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)
    """One line per forbidden call found by the static scan (`build.forbidden_calls`): not a missing piece,
    so the zip is still written (unless `strict`), but the exit code is 1."""
    required: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """`<file> is missing: <what makes it>` (`layout.missing_sentences`)."""
    models: list[ModelCheck] = field(default_factory=list)
    notebooks: list[NotebookCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Blocking problems other than missing files (a model that fails to rebuild, --strict, caps)."""
    warnings: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    """What the zip holds (relative paths); empty when nothing was written."""
    zip_bytes: int = 0
    written: bool = False

    @property
    def ok(self) -> bool:
        """True when the zip was written."""
        return self.written

    @property
    def exit_code(self) -> int:
        """0 when the zip was written and calls no forbidden shortcut, else 1."""
        return 0 if self.written and not self.forbidden else 1

    def blocking(self) -> list[str]:
        """Everything that stops the zip: the missing files, then the other problems."""
        models = [f"models/{m.name}: {m.problem}" for m in self.models if m.problem]
        notebooks = [f"{n.path} {n.problem}" for n in self.notebooks if n.problem]
        return [*self.missing, *models, *notebooks, *self.problems]

    def lines(self) -> list[str]:
        if self.kit_problem:
            return [self.kit_problem]
        lines = [f"checking the kit at {self.root}"]
        lines.append("1/5 public checks")
        if not self.checks_run:
            lines.append("  skipped")
        lines += [f"  {line}" for line in self.check_lines]
        if self.checks_run and not self.checks_ok and not self.strict:
            lines.append(
                "  WARNING: some public checks do not pass; the zip is written anyway (--strict refuses it)"
            )
        lines += [f"  FORBIDDEN {line}" for line in self.forbidden]
        if self.forbidden:
            lines.append(f"  WARNING: {CONSEQUENCE}")
        if self.missing:
            lines.append("2/5 required files: MISSING")
            lines += [f"  - {m}" for m in self.missing]
        else:
            lines.append(f"2/5 required files: all {len(self.required)} there")
        lines.append("3/5 models")
        lines += [f"  {m.line()}" for m in self.models] or ["  none to check yet"]
        lines.append("4/5 notebooks")
        lines += [f"  {n.line()}" for n in self.notebooks] or ["  none to check yet"]
        lines += [f"  WARNING: {w}" for w in self.warnings]
        lines.append("5/5 zip")
        lines += [f"  PROBLEM {p}" for p in self.problems]
        if self.written:
            lines += self._written()
            if self.forbidden:
                lines.append(
                    f"  WARNING: written, but it holds {len(self.forbidden)} forbidden call(s) "
                    "(FORBIDDEN above): exit code 1"
                )
        else:
            count = len(self.blocking())
            lines.append(
                f"  NOT WRITTEN: {count} problem(s) above (MISSING, PROBLEM) to fix first, then run "
                f"`{COMMAND}` again"
            )
            if self.out.is_file():
                lines.append(f"  ({self.out} is from an earlier run and does not hold your latest work)")
        return lines

    def _written(self) -> list[str]:
        by_folder: dict[str, int] = {}
        for rel in self.files:
            top = rel.split("/", 1)[0]
            by_folder[top] = by_folder.get(top, 0) + 1
        folders = ", ".join(f"{top}/ {count}" for top, count in by_folder.items())
        models = "; ".join(f"{m.name} {m.values:,} values {m.size_mib:.2f} MiB" for m in self.models)
        return [
            f"  wrote {self.out}: {len(self.files)} files ({folders}), {self.zip_bytes / MIB:.2f} MiB",
            f"  models: {models}",
            f"  hand in {self.out}",
        ]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    __repr__ = __str__
