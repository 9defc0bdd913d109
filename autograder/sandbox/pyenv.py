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
    return PythonEnv(executable, prefix, tuple(sites), tuple(masked))


def worker_argv(env: PythonEnv, parent: str, config_json: str) -> list[str]:
    """Command line that starts the worker package found in folder `parent`."""
    from autograder.worker.main import BOOTSTRAP

    code = BOOTSTRAP.format(parent=parent, package=WORKER_PACKAGE)
    return [str(env.executable), "-I", "-S", "-B", "-c", code, config_json]
