"""`submit`: check a kit folder in five steps and write the submission zip only when nothing blocks it.

1. the public checks (failing ones warn, or block under `strict`) and the forbidden-shortcut scan (a
forbidden call warns and makes the exit code 1, or blocks under `strict`), 2. the required files, 3. the
models (safe load, rebuild, limits), 4. the notebooks (run, answered), 5. the zip, built in a temporary
file and renamed into place, so a failed run never leaves a partial zip.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

from exercise_code.config import CONFIG
from exercise_code.forbidden import scan_kit

from .layout import (
    CAPS,
    NOTEBOOKS,
    PACKAGE,
    missing_parts,
    missing_sentences,
    never_submitted,
    required_files,
)
from .model_files import MIB, check_model
from .notebooks import check_notebook
from .probe import run_probe
from .report import SubmitReport


def find_kit(root: Path) -> Path | None:
    """`root` when it holds `exercise_code/`; its parent when `root` is the kit's `notebooks/` folder
    (where a notebook runs); else None."""
    root = Path(root).expanduser().resolve()
    if (root / PACKAGE).is_dir():
        return root
    if root.name == "notebooks" and (root.parent / PACKAGE).is_dir():
        return root.parent
    return None


def submit(
    root: str | os.PathLike[str] = ".",
    out: str | os.PathLike[str] = "submission.zip",
    *,
    strict: bool = False,
    checks: bool = True,
) -> SubmitReport:
    """Check the kit at `root` and write the submission zip `out` (a relative `out` is inside the kit).

    Returns the report (`str(report)` says what was checked, `report.ok` whether the zip was written);
    nothing a student can get wrong raises. `strict`: failing public checks and forbidden calls block the
    zip; `checks=False` skips the public checks (the forbidden-shortcut scan runs nothing and always runs).
    """
    kit = find_kit(Path(root))
    given = Path(root).expanduser().resolve()
    if kit is None:
        return SubmitReport(
            root=given,
            out=Path(out),
            kit_problem=(
                f"no kit at {given} (no {PACKAGE}/ folder): run this in your kit's folder or pass --root"
            ),
        )
    target = Path(out).expanduser()
    report = SubmitReport(root=kit, out=target if target.is_absolute() else kit / target, strict=strict)
    report.required = required_files(CONFIG.model_names, NOTEBOOKS)
    missing = missing_parts(kit, CONFIG.model_names, NOTEBOOKS)
    report.missing = missing_sentences(missing)

    present = [n for n in CONFIG.model_names if not {f"models/{n}.pt", f"models/{n}.json"} & set(missing)]
    report.models = [check_model(kit, name) for name in present]
    answer = run_probe(kit, [m.name for m in report.models if not m.problem], checks=checks)
    if answer.problem:
        report.problems.append(answer.problem)
    elif Path(answer.package) != (kit / PACKAGE).resolve():
        report.problems.append(f"Python imported {PACKAGE} from {answer.package}, not from the kit at {kit}")
    report.checks_run, report.check_lines = answer.checks_ok is not None, answer.check_lines
    report.checks_ok = answer.checks_ok is not False
    if report.checks_run and not report.checks_ok and strict:
        report.problems.append("some public checks do not pass, and --strict refuses to write the zip")
    report.forbidden = forbidden_calls(kit)
    if report.forbidden and strict:
        report.problems.append("forbidden calls (FORBIDDEN in step 1), and --strict refuses to write the zip")
    for model in report.models:
        model.problem = model.problem or answer.rebuilt.get(model.name, "")

    notebooks = sorted((kit / "notebooks").glob("*.ipynb")) if (kit / "notebooks").is_dir() else []
    report.notebooks = [check_notebook(kit, p.relative_to(kit).as_posix()) for p in notebooks if p.is_file()]
    report.warnings += [w for n in report.notebooks for w in n.warnings()]

    files, skipped = submission_files(kit, report.out)
    report.warnings += [f"not submitted: {rel} (a link; copy the file itself)" for rel in skipped]
    report.problems += cap_problems(kit, files)
    if not report.blocking():
        _write_zip(kit, files, report)
    return report


def forbidden_calls(kit: Path) -> list[str]:
    """The forbidden calls in the kit's `exercise_code` (the grader's static scan with the kit's rules), one
    message each; a rules file that cannot be read is reported as such."""
    try:
        return [violation.message() for violation in scan_kit(kit)]
    except ValueError as exc:  # a damaged exercise_code/forbidden/rules.toml
        return [f"the forbidden-shortcut scan could not run: {exc}"]


def submission_files(kit: Path, out: Path | None = None) -> tuple[list[str], list[str]]:
    """(files the zip holds, links left out), relative to `kit`: `exercise_code/` without caches,
    `notebooks/*.ipynb`, and each model's `.pt` + `.json`."""
    files, links = [], []
    for path in sorted((kit / PACKAGE).rglob("*")):
        rel = path.relative_to(kit)
        if never_submitted(rel) or (out is not None and path == out):
            continue
        if path.is_symlink():
            links.append(rel.as_posix())
        elif path.is_file():
            files.append(rel.as_posix())
    if (kit / "notebooks").is_dir():
        files += [p.relative_to(kit).as_posix() for p in sorted((kit / "notebooks").glob("*.ipynb"))]
    for name in CONFIG.model_names:
        files += [
            f"models/{name}.{ext}" for ext in ("pt", "json") if (kit / "models" / f"{name}.{ext}").is_file()
        ]
    return files, links


def cap_problems(kit: Path, files: list[str]) -> list[str]:
    """The grader's caps (`layout.CAPS`) that `files` would break, each naming what to remove."""
    problems = []
    if len(files) > CAPS.max_files:
        problems.append(f"{len(files)} files to zip; the grader accepts at most {CAPS.max_files}")
    sizes = {rel: (kit / rel).stat().st_size for rel in files}
    for rel, size in sizes.items():
        if size > CAPS.max_file_mb * MIB:
            problems.append(
                f"{rel} is {size / MIB:.0f} MiB; the grader accepts files up to {CAPS.max_file_mb:g} MiB"
            )
    total = sum(sizes.values())
    if total > CAPS.max_total_mb * MIB:
        problems.append(
            f"the files to zip add up to {total / MIB:.0f} MiB; the grader accepts {CAPS.max_total_mb:g} MiB "
            f"(data and checkpoints do not belong in {PACKAGE}/)"
        )
    return problems


def _write_zip(kit: Path, files: list[str], report: SubmitReport) -> None:
    """Write `files` into `report.out` through a temporary file in the same folder (renamed when complete)."""
    out = report.out
    tmp: Path | None = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
        os.close(handle)
        tmp = Path(name)
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for rel in files:
                archive.write(kit / rel, rel)
        with zipfile.ZipFile(tmp) as archive:
            bad = archive.testzip()
        if bad is not None:
            raise OSError(f"{bad} is corrupt in the new zip")
        os.replace(tmp, out)
        tmp = None
    except OSError as exc:
        report.problems.append(f"could not write {out}: {exc}")
        return
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    report.files, report.zip_bytes, report.written = files, out.stat().st_size, True
