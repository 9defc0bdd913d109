"""Leak check on near copies: solution lines copied into docstrings, renamed, split into runs, quoted in
notebook Markdown, while lines the source shows publicly stay allowed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from autograder.errors import LeakError
from autograder.release import ReleasePolicy, find_leaks, release, secret_lines
from autograder.release.package import package_files

REPO = Path(__file__).resolve().parent.parent

LAYERS = '''"""Synthetic layer module."""

import torch
from torch.nn import functional as F


def upsample_rows(x, s):
    """Repeat every row of x (Tensor[N, C, H, W]) s times: Tensor[N, C, H * s, W]."""
    # BEGIN SOLUTION
    out = x.repeat_interleave(s, dim=2)
    return out
    # END SOLUTION


def poly(a):
    """a ** 2 - a, elementwise."""
    # BEGIN SOLUTION
    t = a * a
    t = t - a
    return t
    # END SOLUTION


def norm(x):
    """The L2 norm of each image, Tensor[N]."""
    # BEGIN SOLUTION
    N, C, H, W = x.shape
    from torch.nn import functional as F
    total = x.reshape(N, C * H * W).pow(2).sum(dim=1)
    return F.relu(total).sqrt()
    # END SOLUTION


def energy(img):
    """Public code that happens to share lines with the solution of `norm`."""
    N, C, H, W = img.shape
    sq = img.reshape(N, C * H * W).pow(2).sum(dim=1)  # the sum of norm, other names
    return F.relu(sq) + 0 * torch.pi
'''
SOLUTION = "out = x.repeat_interleave(s, dim=2)"


def make_kit(root: Path, extra: dict[str, str] | None = None) -> Path:
    files = {
        "pyproject.toml": '[project]\nname = "leak-kit"\nversion = "0.1.0"\ndependencies = []\n',
        "exercise_code/__init__.py": '"""Synthetic package."""\n',
        "exercise_code/layers.py": LAYERS,
        **(extra or {}),
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def line_of(text: str, needle: str) -> int:
    """1-based number of the first line of `text` that holds `needle`."""
    return next(n for n, line in enumerate(text.split("\n"), start=1) if needle in line)


def release_error(tmp_path: Path, helper: str) -> str:
    """The LeakError message of releasing the kit with `exercise_code/helpers.py` holding `helper`."""
    kit = make_kit(tmp_path / "kit", {"exercise_code/helpers.py": helper})
    with pytest.raises(LeakError) as info:
        release(source=kit, out=tmp_path / "out", notebooks=False)
    assert not (tmp_path / "out").exists()
    return str(info.value)


@pytest.mark.parametrize(
    "copy",
    [
        f"    {SOLUTION}",  # a line of its own in the docstring
        f"    Hint: {SOLUTION} does it.",  # inside a sentence
        f"    >>> {SOLUTION}",  # a doctest
        f"    `{SOLUTION}`",  # a code span
    ],
)
def test_solution_line_copied_into_a_docstring_is_caught_with_file_and_line(tmp_path, copy):
    helper = f'def explain():\n    """How to upsample.\n\n{copy}\n    """\n'
    message = release_error(tmp_path, helper)
    source_line = line_of(LAYERS, SOLUTION)
    assert re.search(
        rf"exercise_code/helpers.py:4: solution line from exercise_code/layers.py:{source_line}: "
        rf"'{re.escape(SOLUTION)}'",
        message,
    ), message


def test_commented_out_solution_line_is_caught(tmp_path):
    helper = f"def explain(x, s):\n    # {SOLUTION}\n    return None\n"
    assert "exercise_code/helpers.py:2: solution line from exercise_code/layers.py" in release_error(
        tmp_path, helper
    )


def test_renamed_and_respaced_copy_is_caught(tmp_path):
    copy = "result  =  inp.repeat_interleave( k,dim = 2 )"
    message = release_error(tmp_path, f'def explain():\n    """Upsampling:\n\n    {copy}  # mine\n    """\n')
    where = f"exercise_code/layers.py:{line_of(LAYERS, SOLUTION)}"
    assert f"exercise_code/helpers.py:4: solution line from {where}, names changed: {copy!r}" in message, (
        message
    )


def test_a_run_of_two_short_solution_lines_is_caught(tmp_path):
    helper = (
        "def square_minus(v):\n    w = v * v\n\n    w = w - v  # each line alone is too short\n    return w\n"
    )
    message = release_error(tmp_path, helper)
    where = f"exercise_code/layers.py:{line_of(LAYERS, 't = a * a')}"
    expected = f"helpers.py:2: solution lines from {where}, two in a row: 'w = v * v / w = w - v'"
    assert f"exercise_code/{expected}" in message, message


@pytest.mark.parametrize(
    "helper",
    [
        "def half(v):\n    w = v * v\n    return w\n",  # one of the two lines: too short alone
        "def other(v):\n    w = v - v\n    w = w * v\n    return w\n",  # the two lines, other order and ops
        "def plain(out):\n    return out\n",
    ],
)
def test_short_lines_and_trivia_are_not_runs(tmp_path, helper):
    kit = make_kit(tmp_path / "kit", {"exercise_code/helpers.py": helper})
    release(source=kit, out=tmp_path / "out", notebooks=False)  # no LeakError


def test_lines_public_in_the_source_are_not_secrets(tmp_path):
    kit = make_kit(tmp_path / "kit")
    files, _ = package_files(kit)
    secrets = secret_lines([p for p in files if p.suffix == ".py"], kit)
    assert SOLUTION in secrets
    assert "N, C, H, W = x.shape" not in secrets  # verbatim in numel
    assert "from torch.nn import functional as F" not in secrets  # the module imports it too
    # public in numel with other names and spacing: not a secret, although never verbatim outside
    assert "total = x.reshape(N, C * H * W).pow(2).sum(dim=1)" not in secrets
    out = tmp_path / "out"
    release(source=kit, out=out, notebooks=False)
    assert find_leaks(out, secrets) == []


def _notebook(cells: list[tuple[str, str]]) -> str:
    """A notebook's JSON as nbformat writes it (indent 1, sources as lists of lines)."""
    nb = {
        "cells": [
            {"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True)}
            | ({"execution_count": None, "outputs": []} if kind == "code" else {})
            for kind, text in cells
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(nb, indent=1) + "\n"


def test_markdown_hints_in_a_released_notebook_are_caught(tmp_path):
    kit = make_kit(tmp_path / "kit")
    files, _ = package_files(kit)
    secrets = secret_lines([p for p in files if p.suffix == ".py"], kit)
    notebook_answer = "UP_KERNEL, UP_STRIDE, UP_PADDING = 4, 2, 1"
    secrets.update({notebook_answer: "notebooks/01_up.py:12"})  # as `release` merges a notebook's secrets
    text = _notebook(
        [
            (
                "markdown",
                "## Upsampling\n\nThe rows repeat `s` times: `out = x.repeat_interleave(s, dim=2)`.\n",
            ),
            ("markdown", f"A transpose convolution doubling the size:\n`{notebook_answer}`\n"),
            ("markdown", "Or, in full:\n```python\nimg_up = img.repeat_interleave(factor, dim=2)\n```\n"),
            ("code", "x = torch.zeros(1, 1, 2, 2)\nprint(x.shape)\n"),
        ]
    )
    out = tmp_path / "out"
    (out / "notebooks").mkdir(parents=True)
    (out / "notebooks" / "01_up.ipynb").write_text(text)
    leaks = find_leaks(out, secrets)
    where = {(leak.path.as_posix(), leak.line) for leak in leaks}
    assert where == {
        ("notebooks/01_up.ipynb", line_of(text, "The rows repeat")),
        ("notebooks/01_up.ipynb", line_of(text, "`UP_KERNEL")),
        ("notebooks/01_up.ipynb", line_of(text, "img_up = ")),
    }, "\n".join(map(str, leaks))
    assert all("solution line from " in leak.what for leak in leaks)


def test_the_real_package_releases_clean(tmp_path):
    files, _ = package_files(REPO)
    secrets = secret_lines([p for p in files if p.suffix == ".py"], REPO)
    assert len(secrets) >= 20
    out = tmp_path / "release"
    release(source=REPO, out=out, notebooks=False)
    assert find_leaks(out, secrets) == []


@pytest.mark.parametrize(
    "settings, match",
    [
        ({"min_renamed_tokens": 0}, "min_renamed_tokens must be a positive int, got 0"),
        ({"min_secret_length": True}, "min_secret_length must be a positive int, got True"),
        ({"trivial_lines": "(return"}, r"trivial_lines must be a regular expression, got '\(return'"),
    ],
)
def test_bad_leak_settings_are_refused(settings, match):
    with pytest.raises(ValueError, match=match):
        ReleasePolicy(**settings)


def test_fewer_renamed_tokens_catch_shorter_renamed_lines(tmp_path):
    kit = make_kit(
        tmp_path / "kit", {"exercise_code/helpers.py": 'def explain():\n    """u = v ** 2 - w"""\n'}
    )
    source = kit / "exercise_code/layers.py"
    source.write_text(LAYERS.replace("    t = t - a\n", "    t = t - a\n    y = a ** 2 - t\n"))
    files, _ = package_files(kit)
    out = tmp_path / "out"
    release(source=kit, out=out, notebooks=False)  # 7 tokens: too short to count renamed by default
    strict = ReleasePolicy(min_renamed_tokens=7, min_secret_length=5)
    secrets = secret_lines([p for p in files if p.suffix == ".py"], kit, strict)
    leaks = find_leaks(out, secrets, strict)
    where = f"exercise_code/layers.py:{line_of(source.read_text(), 'y = ')}"
    expected = f"exercise_code/helpers.py:2: solution line from {where}, names changed: 'u = v ** 2 - w'"
    assert [str(leak) for leak in leaks] == [expected]
