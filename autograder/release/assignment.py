"""`autograder release`: write the student version of the kit from the single source.

Steps, in order, one module each: strip the package (`package`), list the forbidden shortcuts in the
exercises' docstrings and ship their rules (`shortcuts`), write the student project files (`project`),
release the notebooks (`notebooks`, whose build lists the shortcuts where each exercise is introduced),
check for leaks (`leak`). Everything is written into a staging folder that replaces `out` only when every
step passed (`staging`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import LeakError

from .leak import Leak, find_leaks, secret_lines
from .notebooks import NotebookStep, notebook_secret_lines, release_notebooks
from .package import package_files, release_package
from .policy import DEFAULT_POLICY, ReleasePolicy
from .project import write_project_files
from .shortcuts import ShortcutStep, tell_forbidden
from .staging import check_target, staged

MAX_LEAKS_SHOWN = 20


@dataclass
class ReleaseReport:
    """What the release wrote (paths relative to `out`)."""

    out: Path
    files: list[Path] = field(default_factory=list)
    regions: dict[Path, tuple[str, ...]] = field(default_factory=dict)
    """Released `.py` file -> functions whose solution regions became `raise NotImplementedError`."""
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    """Source files left out of the release, with the reason."""
    notebooks: NotebookStep = field(default_factory=NotebookStep)
    shortcuts: ShortcutStep = field(default_factory=ShortcutStep)

    @property
    def total_regions(self) -> int:
        return sum(len(functions) for functions in self.regions.values())

    def summary_lines(self) -> list[str]:
        """Human-readable summary (the CLI prints it)."""
        lines = [f"released {len(self.files)} files into {self.out}"]
        lines.append(f"stripped {self.total_regions} solution regions in {len(self.regions)} files:")
        lines += [f"  {path.as_posix()}: {', '.join(names)}" for path, names in sorted(self.regions.items())]
        lines += [f"skipped {path.as_posix()} ({reason})" for path, reason in self.skipped]
        if self.shortcuts.files:
            lines.append(
                f"forbidden shortcuts: listed in {len(self.shortcuts.docstrings)} docstrings, rules in "
                + ", ".join(path.as_posix() for path in self.shortcuts.files)
            )
        lines.append(f"notebooks: {len(self.notebooks.released)} released ({self.notebooks.note})")
        lines.append("leak check: clean")
        return lines


def _leak_error(leaks: list[Leak]) -> LeakError:
    shown = "\n".join(f"  {leak}" for leak in leaks[:MAX_LEAKS_SHOWN])
    more = f"\n  ... and {len(leaks) - MAX_LEAKS_SHOWN} more" if len(leaks) > MAX_LEAKS_SHOWN else ""
    return LeakError(f"release stopped, nothing written: {len(leaks)} leak(s) found\n{shown}{more}")


def release(
    *, source: Path, out: Path, notebooks: bool = True, policy: ReleasePolicy = DEFAULT_POLICY
) -> ReleaseReport:
    """Write the student release of the kit at `source` into the folder `out` (replacing a previous one).

    Raises MarkerError for broken markers, LeakError (file and line named) if any solution line,
    marker or forbidden file would reach the release, ReleaseError for an unusable `source` or `out`.
    On any error `out` is left as it was.
    """
    source, out = Path(source).resolve(), Path(out).resolve()
    check_target(source, out, policy.package)
    files, _ = package_files(source, policy)
    secrets = secret_lines((p for p in files if p.suffix == ".py"), source, policy)
    if notebooks:  # a line the kit shows publicly anyway (e.g. in a public check) is no secret
        texts = (p.read_text("utf-8") for p in files if p.suffix == ".py")
        shown = {line.strip() for text in texts for line in text.split("\n")}
        notebook_secrets = notebook_secret_lines(source / "notebooks", source, policy)
        secrets.update({line: where for line, where in notebook_secrets.items() if line not in shown})
    report = ReleaseReport(out=out)
    with staged(out) as staging:
        package = release_package(source, staging, policy)
        report.files, report.regions, report.skipped = (
            package.files,
            package.regions,
            package.skipped,
        )
        report.shortcuts = tell_forbidden(source, staging)
        report.files += report.shortcuts.files
        report.files += write_project_files(source, staging, policy)
        report.notebooks = release_notebooks(source / "notebooks", staging / "notebooks", enabled=notebooks)
        report.files += report.notebooks.released
        leaks = find_leaks(staging, secrets, policy)
        if leaks:
            raise _leak_error(leaks)
    return report
