"""Forbidden shortcuts on the grader's side: `forbidden.toml` read with the grader's errors, and the trusted
AST scan of the submission's source.

The scan and the rules format live in the kit (`exercise_code.forbidden`), so that the public checks and
`submit` flag the same calls the grader does; see `exercise_code/forbidden/scan.py` for its coverage. The
grader always reads its own rules file (`autograder/hidden/forbidden.toml` by default), never the copy a
submission carries.
"""

from __future__ import annotations

from pathlib import Path

from autograder.errors import GradingError
from exercise_code.forbidden import AMBIGUOUS, MAX_HOPS, Finding, Rules, load_rules, scan_function

__all__ = ["AMBIGUOUS", "MAX_HOPS", "Finding", "load_forbidden", "scan_function"]


def load_forbidden(path: Path | None) -> Rules:
    """`{"exercise_code.layers.conv_transpose2d": ("torch.nn.functional.conv_transpose2d", ...)}`.

    A missing file means nothing is forbidden. Unquoted dotted keys (nested tables) are flattened.
    """
    if path is None or not path.exists():
        return {}
    try:
        return load_rules(path)
    except ValueError as exc:
        raise GradingError(str(exc)) from None
