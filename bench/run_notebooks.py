"""Run the course notebooks for real (not in fast mode) and report how long each took.

    .venv/bin/python bench/run_notebooks.py [01 03 ...] [--fast] [--out build/notebooks-run]

Executed copies go to `--out` (git-ignored `build/` by default) with the kernel's working folder there,
so their figures and printed metrics can be read afterwards. On a CPU the notebooks pick their CPU
settings (minutes each); on a GPU their GPU settings.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.release.notebooks import build_notebook, source_notebooks  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="notebook number prefixes to run (default: all)")
    parser.add_argument("--fast", action="store_true", help="fast mode, as the tests and the grader run them")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "notebooks-run")
    parser.add_argument("--cell-timeout", type=int, default=3600)
    args = parser.parse_args(argv)

    dropped = {"CI", "NBGRADER_EXECUTION", "MPLBACKEND", "KIT_FAST"}  # fast-mode switches; inline figures
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    if args.fast:
        env["KIT_FAST"] = "1"
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for source in source_notebooks(ROOT / "notebooks"):
        if args.only and not any(source.name.startswith(prefix) for prefix in args.only):
            continue
        path = build_notebook(source, args.out / f"{source.stem}.ipynb")
        nb = nbformat.read(path, as_version=4)
        client = nbclient.NotebookClient(
            nb,
            timeout=args.cell_timeout,
            kernel_name="python3",
            allow_errors=True,
            resources={"metadata": {"path": str(args.out)}},
        )
        start = time.perf_counter()
        client.execute(env=env, cwd=str(args.out))
        seconds = time.perf_counter() - start
        nbformat.write(nb, path)
        errors = [
            f"cell {i}: {o.ename}: {o.evalue}"
            for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code"
            for o in cell.outputs
            if o.output_type == "error"
        ]
        failed += bool(errors)
        print(f"{source.stem}: {seconds:.0f} s, {len(errors)} error(s) -> {path}", flush=True)
        for line in errors:
            print(f"  {line}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
