"""`autograder export gradescope`: an autograder.zip with setup.sh, run_autograder and the trusted kit.

Gradescope unpacks the zip into /autograder/source, runs setup.sh once when it builds the image, then
run_autograder per submission, which must leave /autograder/results/results.json behind. The zip
carries the whole trusted kit (hidden suites included: Gradescope keeps the source private).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import AutograderError

SETUP_SH = """#!/usr/bin/env bash
# Runs once when Gradescope builds the autograder image (Ubuntu, as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y bubblewrap python3.11 python3.11-venv || apt-get install -y bubblewrap python3 python3-venv
PY=$(command -v python3.11 || command -v python3)
"$PY" -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --upgrade pip
/autograder/venv/bin/python -m pip install /autograder/source
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Runs per submission. Always leaves results.json behind, even if Python cannot start.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PY="${AUTOGRADER_PYTHON:-/autograder/venv/bin/python}"
mkdir -p "$ROOT/results"
"$PY" -m autograder.export.entry --root "$ROOT" || true
if [ ! -s "$ROOT/results/results.json" ]; then
  MSG="The autograder could not start. Please resubmit later or contact the course staff."
  printf '{"score": 0, "output": "%s", "tests": []}\\n' "$MSG" > "$ROOT/results/results.json"
fi
exit 0
"""

_SOURCE_ITEMS = ("pyproject.toml", "README.md", "exercise_code", "autograder")
_SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints"}


@dataclass(frozen=True)
class GradescopeExport:
    """What `export_gradescope` wrote."""

    zip_path: Path
    files: int


def _source_files(repo: Path) -> list[Path]:
    files = []
    for item in _SOURCE_ITEMS:
        path = repo / item
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and not _SKIP_PARTS & set(p.parts) and p.suffix not in {".pyc", ".pt"}
            )
    return files


def export_gradescope(*, repo: Path, out: Path) -> GradescopeExport:
    """Write Gradescope's autograder.zip for the kit at `repo` to `out`."""
    repo, out = Path(repo), Path(out)
    if not (repo / "pyproject.toml").is_file() or not (repo / "autograder").is_dir():
        raise AutograderError(f"{repo} is not the kit's root (no pyproject.toml and autograder/)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    files = _source_files(repo)
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o100755 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
        for path in files:
            archive.write(path, path.relative_to(repo).as_posix())
    tmp.replace(out)
    return GradescopeExport(zip_path=out, files=len(files) + 2)
