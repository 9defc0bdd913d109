"""Hand in: `python -m exercise_code.submit [--out submission.zip] [--root KIT] [--strict]`, or in a notebook
`from exercise_code.submit import submit; submit()`. Runs the public checks, checks the required files,
the models and the notebooks, and writes the zip only when nothing is missing.

Only the standard library, torch and the kit's own modules: it ships in the student kit. Names load on
first use, so the grader can read `layout` (what a submission holds) without importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .build import find_kit, submission_files, submit
    from .layout import NOTEBOOKS, SAVED_BY, how_to_make, missing_parts, required_files
    from .model_files import ModelCheck, check_model
    from .notebooks import NotebookCheck, check_notebook
    from .report import SubmitReport

_HOMES = {
    "find_kit": "build",
    "submission_files": "build",
    "submit": "build",
    "NOTEBOOKS": "layout",
    "SAVED_BY": "layout",
    "how_to_make": "layout",
    "missing_parts": "layout",
    "required_files": "layout",
    "ModelCheck": "model_files",
    "check_model": "model_files",
    "NotebookCheck": "notebooks",
    "check_notebook": "notebooks",
    "SubmitReport": "report",
}
__all__ = [
    "NOTEBOOKS",
    "SAVED_BY",
    "ModelCheck",
    "NotebookCheck",
    "SubmitReport",
    "check_model",
    "check_notebook",
    "find_kit",
    "how_to_make",
    "missing_parts",
    "required_files",
    "submission_files",
    "submit",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
