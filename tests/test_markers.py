"""Solution markers: regions found, stripped to a hint + raise, broken markers named by file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.errors import MarkerError
from autograder.release.markers import find_regions, strip_solutions

SOURCE = '''"""A module."""


def double(x):
    """Twice x."""
    # BEGIN SOLUTION
    y = x * 2
    return y
    # END SOLUTION


class Net:
    def forward(self, x):
        if x:
            # BEGIN SOLUTION
            return x + 1
            # END SOLUTION
        return 0
'''


def test_regions_and_function_names():
    regions = find_regions(SOURCE, Path("m.py"))
    assert [(r.begin, r.end, r.function, r.indent) for r in regions] == [
        (6, 9, "double", "    "),
        (15, 17, "Net.forward", " " * 12),
    ]


def test_strip_keeps_docstring_and_raises_with_function_name():
    text, regions = strip_solutions(SOURCE, Path("m.py"))
    assert len(regions) == 2
    assert "x * 2" not in text and "x + 1" not in text and "BEGIN SOLUTION" not in text
    assert '"""Twice x."""' in text
    namespace: dict = {}
    exec(compile(text, "m.py", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="^double: not implemented yet"):
        namespace["double"](3)
    with pytest.raises(NotImplementedError, match="Net.forward"):
        namespace["Net"]().forward(1)
    assert namespace["Net"]().forward(0) == 0  # code outside the region still runs


@pytest.mark.parametrize(
    "source, match",
    [
        ("def f():\n    # BEGIN SOLUTION\n    return 1\n", r"m.py:2: .* never closed"),
        ("def f():\n    return 1\n    # END SOLUTION\n", r"m.py:3: .* without a matching"),
        (
            "def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n",
            r"m.py:3: nested",
        ),
        ("# BEGIN SOLUTION\nX = 1\n# END SOLUTION\n", r"m.py:1: .* inside a function body"),
        ("def f(:\n    # BEGIN SOLUTION\n    # END SOLUTION\n", r"m.py:1: cannot parse"),
    ],
)
def test_broken_markers_name_file_and_line(source, match):
    with pytest.raises(MarkerError, match=match):
        find_regions(source, Path("m.py"))
