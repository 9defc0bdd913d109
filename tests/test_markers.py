"""Solution markers: regions found, stripped to a hint + raise, broken markers named by file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.errors import MarkerError
from autograder.release.markers import HINT, find_regions, solution_lines, strip_solutions

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

    @staticmethod
    async def later(x):
        def inner():
            # BEGIN SOLUTION
            return x
            # END SOLUTION

        return inner
'''


def _run(text: str) -> dict:
    namespace: dict = {}
    exec(compile(text, "m.py", "exec"), namespace)
    return namespace


def test_regions_and_qualified_function_names():
    regions = find_regions(SOURCE, Path("m.py"))
    assert [(r.begin, r.end, r.function, r.indent) for r in regions] == [
        (6, 9, "double", "    "),
        (15, 17, "Net.forward", " " * 12),
        (23, 25, "Net.later.inner", " " * 12),
    ]
    assert [n for n, _ in solution_lines(SOURCE, Path("m.py"))] == [7, 8, 16, 24]


def test_strip_keeps_docstring_and_raises_with_function_name():
    text, regions = strip_solutions(SOURCE, Path("m.py"))
    assert len(regions) == 3
    assert "x * 2" not in text and "x + 1" not in text and "BEGIN SOLUTION" not in text
    assert '"""Twice x."""' in text and f"    {HINT}\n" in text
    namespace = _run(text)
    with pytest.raises(NotImplementedError, match="^double: not implemented yet$"):
        namespace["double"](3)
    with pytest.raises(NotImplementedError, match="^Net.forward: not implemented yet$"):
        namespace["Net"]().forward(1)
    assert namespace["Net"]().forward(0) == 0  # code outside the region still runs


def test_stub_message_is_the_one_the_public_checks_recognise():
    from exercise_code.checks.runner import STUB_SUFFIX

    text, _ = strip_solutions(SOURCE, Path("m.py"))
    assert f'raise NotImplementedError("double{STUB_SUFFIX}")' in text


def test_source_without_regions_is_unchanged():
    source = "def f():\n    return 1\n"
    assert strip_solutions(source, Path("m.py")) == (source, [])


def test_marker_indented_deeper_than_the_code_is_fine():
    source = "def f(x):\n        # BEGIN SOLUTION\n    y = x + 1\n    return y\n        # END SOLUTION\n"
    text, _ = strip_solutions(source, Path("m.py"))
    assert "        raise NotImplementedError" in text
    with pytest.raises(NotImplementedError, match="^f: "):
        _run(text)["f"](1)


def test_empty_region_at_the_end_of_a_function():
    source = 'def f():\n    """Doc."""\n    # BEGIN SOLUTION\n    # END SOLUTION\n\n\nX = 1\n'
    text, regions = strip_solutions(source, Path("m.py"))
    assert regions[0].function == "f" and _run(text)["X"] == 1


def test_crlf_line_endings():
    source = "def f():\r\n    # BEGIN SOLUTION\r\n    return 1\r\n    # END SOLUTION\r\n"
    text, regions = strip_solutions(source, Path("m.py"))
    assert regions[0].function == "f" and "return 1" not in text


@pytest.mark.parametrize(
    "source, match",
    [
        ("def f():\n    # BEGIN SOLUTION\n    return 1\n", r"^m.py:2: .* never closed"),
        ("def f():\n    return 1\n    # END SOLUTION\n", r"^m.py:3: .* without a matching"),
        (
            "def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n",
            r"^m.py:3: nested .* opened at line 2",
        ),
        ("# BEGIN SOLUTION\nX = 1\n# END SOLUTION\n", r"^m.py:1: .* inside a function body"),
        ("def f(:\n    # BEGIN SOLUTION\n    # END SOLUTION\n", r"^m.py:1: cannot parse"),
        (
            "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n",
            r"^m.py:2: malformed marker",
        ),
        ("def f():\n    # BEGIN SOLUTION (part a)\n    return 1\n", r"^m.py:2: malformed marker"),
        ("def f():\n    return 1  # END SOLUTION\n", r"^m.py:2: malformed marker"),
    ],
)
def test_broken_markers_name_file_and_line(source, match):
    with pytest.raises(MarkerError, match=match):
        find_regions(source, Path("m.py"))


def test_region_running_past_its_method_names_class_and_method():
    source = (
        "class A:\n    def f(self):\n        # BEGIN SOLUTION\n        return 1\n\n"
        "    def g(self):\n        return 2\n        # END SOLUTION\n"
    )
    with pytest.raises(MarkerError, match=r"^m.py:3: the region opened in A.f runs past its end"):
        find_regions(source, Path("m.py"))


def test_marker_indented_less_than_its_block_does_not_compile():
    source = (
        "def total(xs):\n    s = 0\n    for x in xs:\n    # BEGIN SOLUTION\n"
        "        s += x\n    # END SOLUTION\n    return s\n"
    )
    with pytest.raises(MarkerError, match=r"^m.py:4: the stripped file does not compile"):
        strip_solutions(source, Path("m.py"))
