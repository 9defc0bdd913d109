"""Student side: check a kit folder and write the submission zip (`autograder submit`).

Every required file must be there, every model must load with `torch.load(weights_only=True)`,
rebuild with `build_model` from its JSON spec and meet the size limits of the assignment config.
Failing public checks only warn (unless `strict`); the zip is then checked by the grader's own intake.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.errors import IntakeRejected, SubmissionError
from autograder.intake import IntakeLimits, extract_submission, missing_parts
from autograder.intake.manifest import JUNK
from exercise_code.config import CONFIG, ModelLimits, state_dict_values

MIB = 2**20
HINTS = {
    "exercise_code/__init__.py": "run `autograder submit` in your kit's root folder (with exercise_code/)",
    "notebooks/*.ipynb": "keep your completed notebooks in notebooks/",
}


@dataclass
class ModelCheck:
    name: str
    params: int = 0
    size_mb: float = 0.0
    problem: str = ""


@dataclass
class SubmitReport:
    """What `build_submission` checked and wrote."""

    out: Path
    files: list[str] = field(default_factory=list)
    models: list[ModelCheck] = field(default_factory=list)
    checks_summary: list[str] = field(default_factory=list)
    checks_ok: bool = True
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [
            f"models/{m.name}: {m.params:,} values (parameters and buffers), {m.size_mb:.2f} MB: ok"
            for m in self.models
        ]
        lines += [f"public checks: {s}" for s in self.checks_summary]
        lines += [f"WARNING: {w}" for w in self.warnings]
        lines.append(f"wrote {self.out} ({len(self.files)} files)")
        return lines


def _limits(name: str) -> ModelLimits:
    return CONFIG.limits_for(name) if name in CONFIG.model_names else CONFIG.segmentation_limits


def _use_student_code(root: Path) -> None:
    """Make `import exercise_code` load the kit at `root` (not another installed copy)."""
    sys.path.insert(0, str(root))
    loaded = sys.modules.get("exercise_code")
    if (
        loaded is not None
        and Path(loaded.__file__ or "").resolve().parent != (root / "exercise_code").resolve()
    ):
        for name in [n for n in sys.modules if n == "exercise_code" or n.startswith("exercise_code.")]:
            del sys.modules[name]
    importlib.invalidate_caches()


def check_model(root: Path, name: str) -> ModelCheck:
    """Load, rebuild and measure `models/<name>`; `problem` says what is wrong (empty when fine)."""
    import torch

    check = ModelCheck(name)
    weights, spec_path = root / "models" / f"{name}.pt", root / "models" / f"{name}.json"
    check.size_mb = weights.stat().st_size / MIB
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        check.problem = f"models/{name}.json is not valid JSON: {exc}"
        return check
    try:
        state = torch.load(weights, weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is the student's to fix
        check.problem = (
            f"models/{name}.pt does not load with weights_only=True (save model.state_dict()): {exc}"
        )
        return check
    try:
        from exercise_code.models import build_model

        model = build_model(spec)
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # noqa: BLE001
        check.problem = (
            f"models/{name}: rebuilding from models/{name}.json failed: {type(exc).__name__}: {exc}"
        )
        return check
    check.params = state_dict_values(state)
    limits = _limits(name)
    if check.params > limits.max_parameters:
        check.problem = (
            f"models/{name} has {check.params:,} values in its state_dict (parameters and buffers); "
            f"the limit is {limits.max_parameters:,}"
        )
    elif check.size_mb > limits.max_file_mb:
        check.problem = f"models/{name}.pt is {check.size_mb:.1f} MB; the limit is {limits.max_file_mb:g} MB"
    return check


def _files(root: Path) -> list[str]:
    files = []
    for path in sorted((root / "exercise_code").rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not path.is_symlink() and not any(p in JUNK for p in rel.parts):
            if path.suffix not in (".pyc", ".pyo"):
                files.append(rel.as_posix())
    files += [p.relative_to(root).as_posix() for p in sorted((root / "notebooks").glob("*.ipynb"))]
    for name in CONFIG.model_names:
        files += [f"models/{name}.pt", f"models/{name}.json"]
    return files


def _run_checks() -> tuple[bool, list[str]]:
    from exercise_code.checks import run_checks

    report: Any = run_checks()
    failing = [r.line() for r in report.results if str(r.status) != "passed"]
    return bool(report.ok), [*report.score_lines(), *failing[:20]]


def build_submission(
    root: Path, *, out: Path | None = None, strict: bool = False, public_checks: bool = True
) -> SubmitReport:
    """Check the kit at `root` and write the submission zip (default `root/submission.zip`).

    Raises SubmissionError naming every missing or broken piece (nothing is written then).
    """
    root = Path(root).resolve()
    out = Path(out) if out else root / "submission.zip"
    missing = missing_parts(root)
    if missing:
        lines = [f"  - {m}" + (f" ({HINTS[m]})" if m in HINTS else "") for m in missing]
        raise SubmissionError("your submission is incomplete; missing:\n" + "\n".join(lines))
    _use_student_code(root)
    report = SubmitReport(out)
    report.models = [check_model(root, name) for name in CONFIG.model_names]
    problems = [m.problem for m in report.models if m.problem]
    if problems:
        raise SubmissionError("some models cannot be submitted:\n" + "\n".join(f"  - {p}" for p in problems))
    if public_checks:
        report.checks_ok, report.checks_summary = _run_checks()
        if not report.checks_ok:
            if strict:
                raise SubmissionError(
                    "public checks failed (--strict):\n  " + "\n  ".join(report.checks_summary)
                )
            report.warnings.append(
                "some public checks fail; the zip is written anyway (use --strict to refuse)"
            )
    report.files = _files(root)
    _write_zip(root, report.files, out)
    return report


def _write_zip(root: Path, files: list[str], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for rel in files:
                archive.write(root / rel, rel)
        with tempfile.TemporaryDirectory(prefix="autograder-submit-") as check_dir:
            extract_submission(tmp, Path(check_dir), limits=IntakeLimits())  # the grader's own rules
        os.replace(tmp, out)
    except IntakeRejected as exc:
        raise SubmissionError(f"the zip would be rejected by the grader: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
