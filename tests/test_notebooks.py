"""Every course notebook runs end to end in fast mode: no error, no stderr in graded cells, full marks.

Each notebook is built into a temp folder and executed there (cwd in tmp, `KIT_FAST=1`), so nothing is
written into the source tree. nbgrader's own validator then scores the executed notebook without
running it again.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbclient
import nbformat
import pytest
from nbgrader.preprocessors import CheckCellMetadata
from nbgrader.validator import Validator

from autograder.release.notebooks import build_notebook, source_notebooks

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = source_notebooks(ROOT / "notebooks")
FAST_LIMIT_S = 180.0
"""The issue's limit for one notebook in fast mode on 2 CPU cores (the notebooks aim for far less)."""
CELL_TIMEOUT_S = 120


def _kernel_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"MPLBACKEND", "NBGRADER_EXECUTION"}}
    env["KIT_FAST"] = "1"
    env["OMP_NUM_THREADS"] = "1"  # two notebooks may run at once (pytest -n 2) on 2 cores
    return env


def _tree_snapshot() -> dict[str, float]:
    """Files a notebook could write into the source tree by mistake (models, notebooks, repo root)."""
    found: dict[str, float] = {}
    for folder in (ROOT, ROOT / "notebooks", ROOT / "models"):
        if folder.is_dir():
            for path in folder.iterdir():
                if path.is_file():
                    found[str(path)] = path.stat().st_mtime
    return found


def execute(source: Path, workdir: Path) -> tuple[nbformat.NotebookNode, float]:
    """Build `source` into `workdir`, run it there in fast mode and save it; returns (notebook, seconds)."""
    path = build_notebook(source, workdir / f"{source.stem}.ipynb")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(workdir)}},
    )
    start = time.perf_counter()
    client.execute(env=_kernel_env(), cwd=str(workdir))
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return nb, seconds


def _problems(nb: nbformat.NotebookNode) -> list[str]:
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        graded = cell.metadata.get("nbgrader", {}).get("grade", False)
        for output in cell.outputs:
            if output.output_type == "error":
                tail = "\n".join(output.traceback[-3:])
                problems.append(f"cell {index}: {output.ename}: {output.evalue}\n{tail}")
            elif output.output_type == "stream" and output.name == "stderr" and graded:
                problems.append(
                    f"graded cell {index} wrote to stderr (nbgrader scores it 0): {output.text!r}"
                )
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("source", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_fast_mode(source: Path, tmp_path: Path) -> None:
    before = _tree_snapshot()
    nb, seconds = execute(source, tmp_path)
    problems = _problems(nb)
    assert not problems, "\n\n".join(problems)
    assert seconds < FAST_LIMIT_S, f"{source.name} took {seconds:.0f} s in fast mode"

    # nbgrader's validator on the executed notebook (same scoring as `nbgrader validate`, no rerun)
    validator = Validator(preprocessors=[CheckCellMetadata])
    results = validator.validate(str(tmp_path / f"{source.stem}.ipynb"))
    assert results == {}, results
    assert _tree_snapshot() == before, "the notebook wrote into the source tree"
    print(f"{source.stem}: {seconds:.1f} s")
