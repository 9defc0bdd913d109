"""A student's own lines: a file is aligned with each starter version of it (skeleton, reference, release
folders) as `diff` would, moved blocks included; what no alignment matches is the student's."""

from __future__ import annotations

import difflib
import io
import tokenize
from collections.abc import Sequence

from .documents import Part

MOVED_LINES = 2
"""A block of this many starter code lines found elsewhere in the file is starter code that was moved."""
MOVE_PASSES = 3
"""Diffs of what is left after the first, each finding blocks moved further."""


def _whole_strings(part: Part, own: set[int]) -> set[int]:
    """`own` widened so that a string spanning lines is kept whole (half a docstring would make the
    lexer read the rest of the document as a string). Unreadable code is left as it is."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO("\n".join(part.lines)).readline))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return own
    for token in tokens:
        if token.type == tokenize.STRING and token.end[0] > token.start[0]:
            span = range(token.start[0] - 1, token.end[0])
            if not own.isdisjoint(span):
                own.update(span)
    return own


def _code(lines: Sequence[str]) -> list[int]:
    """Indices of the lines that hold code (not blank, not only a comment)."""
    return [n for n, line in enumerate(lines) if line.strip() and not line.strip().startswith("#")]


def _matched(version: list[str], lines: list[str]) -> set[int]:
    """Indices of the code lines of `lines` that an alignment with the code lines of `version` matches: one
    diff, then diffs of what is left on both sides, which find blocks of at least MOVED_LINES lines that
    were moved (a function put elsewhere)."""
    matched: set[int] = set()
    left_v, left = _code(version), _code(lines)
    for attempt in range(MOVE_PASSES + 1):
        matcher = difflib.SequenceMatcher(
            None, [version[i] for i in left_v], [lines[j] for j in left], autojunk=False
        )
        blocks = [m for m in matcher.get_matching_blocks() if m.size >= (MOVED_LINES if attempt else 1)]
        if not blocks:
            break
        done_v = {left_v[m.a + t] for m in blocks for t in range(m.size)}
        done = {left[m.b + t] for m in blocks for t in range(m.size)}
        matched |= done
        left_v = [i for i in left_v if i not in done_v]
        left = [j for j in left if j not in done]
    return matched


def own_lines(part: Part, versions: Sequence[Part]) -> set[int]:
    """Indices of the lines of `part` that are code and that no version in `versions` has: every line
    matched by aligning `part` with a version is starter code."""
    if any(version.lines == part.lines for version in versions):
        return set()
    stripped = [line.strip() for line in part.lines]
    own = set(_code(stripped))
    for version in versions:
        own -= _matched([line.strip() for line in version.lines], stripped)
        if not own:
            return own
    return _whole_strings(part, own)
