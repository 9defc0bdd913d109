"""The demo's sample submissions: the reference with briefly trained models, the untouched skeleton,
two realistic buggy ones and a malicious one, each a folder as students hand it in
(`exercise_code/`, `notebooks/*.ipynb`, `models/<name>.pt` + `.json`)."""

from __future__ import annotations

import json
import logging
import pickle
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.errors import AutograderError
from autograder.grading.notebooks.source import released_form
from autograder.release.notebooks.build import read_source, source_notebooks

from .models import train_reference_models

log = logging.getLogger(__name__)

ESCAPE_MARKER = "autograder-demo-escaped"
"""A file the malicious submission tries to create on the grader's machine (in the system temp dir)."""


@dataclass(frozen=True)
class DemoSubmission:
    """One sample submission and what grading it should show."""

    name: str
    path: Path
    expectation: str


def replace_solution(text: str, function: str, body: str) -> str:
    """`text` with the fenced solution region of `function` replaced by `body` (re-indented)."""
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if re.match(rf"\s*def {function}\(", line)), None)
    if start is None:
        raise AutograderError(f"function {function!r} not found")
    begin = next(i for i in range(start, len(lines)) if lines[i].strip() == "# BEGIN SOLUTION")
    end = next(i for i in range(begin, len(lines)) if lines[i].strip() == "# END SOLUTION")
    indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
    new = [indent + line if line else line for line in body.strip("\n").split("\n")]
    return "\n".join(lines[:begin] + new + lines[end + 1 :])


def _patch(root: Path, module: str, function: str, body: str) -> None:
    path = root / "exercise_code" / module
    path.write_text(replace_solution(path.read_text(encoding="utf-8"), function, body), encoding="utf-8")


def _copy_package(source: Path, dest: Path) -> None:
    shutil.copytree(
        source / "exercise_code", dest / "exercise_code", ignore=shutil.ignore_patterns("__pycache__")
    )


def _write_notebooks(dest: Path, notebooks: list[nbformat.NotebookNode], names: list[str]) -> None:
    (dest / "notebooks").mkdir(parents=True, exist_ok=True)
    for nb, name in zip(notebooks, names, strict=True):
        nbformat.write(nb, dest / "notebooks" / f"{name}.ipynb")


def _copy_models(models: Path, dest: Path) -> None:
    shutil.copytree(models, dest / "models")


# --- the bugs ------------------------------------------------------------------------------------

BEN_BED_OF_NAILS = """\
N, C, H, W = x.shape
out = x.new_zeros(N, C, H * sh, W * sw)
out[:, :, sh // 2 :: sh, sw // 2 :: sw] = x  # bug: the centre of each block, not its top-left corner
return out
"""
BEN_BILINEAR = """\
factor = (kernel_size + 1) // 2
centre = factor - 1  # bug: right for odd kernels only (even kernels need factor - 0.5)
taps = 1 - (torch.arange(kernel_size, dtype=torch.float32) - centre).abs() / factor
tent = taps[:, None] * taps[None, :]
weight = torch.zeros(in_channels, out_channels, kernel_size, kernel_size)
channels = torch.arange(min(in_channels, out_channels))
weight[channels, channels] = tent
return weight
"""
CARA_NEAREST = """\
return x.repeat(1, 1, sh, sw)  # bug: tiles the whole map instead of repeating each value
"""
MALLORY_INIT = '''\
"""Looks innocent; tries to escape at import time and keeps quiet about it."""
import os as _os
import socket as _socket
import subprocess as _subprocess
import tempfile as _tempfile

_FOUND = []
for _attempt in (
    lambda: open("/etc/shadow").read(),
    lambda: _os.listdir("/work") + _os.listdir("/root"),
    lambda: _socket.create_connection(("1.1.1.1", 80), timeout=1),
    lambda: open(_os.path.join(_tempfile.gettempdir(), "{marker}"), "w").write("out"),
    lambda: open("/tmp/{marker}", "w").write("out"),
    lambda: open("/submission/pwned.txt", "w").write("pwned"),
    lambda: _subprocess.run(["sh", "-c", "touch /tmp/{marker}-sh"], check=True),
):
    try:
        _FOUND.append(str(_attempt())[:80])
    except Exception as _exc:  # noqa: BLE001
        _FOUND.append(type(_exc).__name__)
print("mallory:", _FOUND)
'''
MALLORY_CONV = """\
return torch.nn.functional.conv_transpose2d(  # the forbidden shortcut
    x, weight, bias, stride=stride, padding=padding, output_padding=output_padding, groups=groups,
    dilation=dilation,
)
"""
MALLORY_MAX_UNPOOL = """\
hog = torch.ones(2**31, dtype=torch.float64)  # 16 GiB
return hog
"""
MALLORY_BILINEAR = """\
import os
os._exit(3)
"""
MALLORY_CELL = """\
# make failing tests look clean: hide every traceback
get_ipython().showtraceback = lambda *args, **kwargs: None
"""


class _Payload:
    """A pickle that runs a shell command when unpickled without `weights_only`."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        import os

        return (os.system, (self.command,))


def _released_notebooks(sources: list[Path], release: Path) -> list[nbformat.NotebookNode]:
    released = []
    for path in sources:
        shipped = release / "notebooks" / f"{path.stem}.ipynb"
        if shipped.is_file():
            released.append(nbformat.read(shipped, as_version=4))
        else:  # the release step has not shipped notebooks: nbgrader's own preprocessors
            released.append(released_form(read_source(path)[0]))
    return released


def _strip_metadata(nb: nbformat.NotebookNode, drop_test: str | None = None) -> nbformat.NotebookNode:
    """What VS Code / Colab save: no nbgrader metadata; optionally one test cell deleted by accident."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    cells = []
    for cell in nb.cells:
        if drop_test and cell.metadata.get("nbgrader", {}).get("grade_id") == drop_test:
            continue
        cell.metadata = {}
        cells.append(cell)
    nb.cells = cells
    return nb


def _first_test(nb: nbformat.NotebookNode) -> str | None:
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            return meta["grade_id"]
    return None


def build_demo_submissions(
    *, source: Path, release: Path, out: Path, train_seconds: float = 4.0, seed: int = 0
) -> list[DemoSubmission]:
    """Write the five sample submissions into `out` (replaced) and return them in grading order."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    sources = source_notebooks(source / "notebooks")
    names = [p.stem for p in sources]
    reference_nbs = [read_source(p)[0] for p in sources]
    released_nbs = _released_notebooks(sources, release)
    models = train_reference_models(out / "_models", seconds=train_seconds, seed=seed)
    subs = []

    ref = out / "reference"
    _copy_package(source, ref)
    _write_notebooks(ref, reference_nbs, names)
    _copy_models(models.trained, ref)
    subs.append(
        DemoSubmission(
            "reference", ref, "every correctness test passes; quality as far as a few seconds train"
        )
    )

    skeleton = out / "skeleton"
    _copy_package(release, skeleton)
    _write_notebooks(skeleton, released_nbs, names)
    subs.append(DemoSubmission("skeleton", skeleton, "about zero: every function says not implemented yet"))

    ben = out / "ben_buggy_layers"
    _copy_package(source, ben)
    _patch(ben, "layers/unpooling.py", "bed_of_nails_unpool2d", BEN_BED_OF_NAILS)
    _patch(ben, "layers/bilinear.py", "bilinear_kernel", BEN_BILINEAR)
    _write_notebooks(ben, reference_nbs, names)
    _copy_models(models.trained, ben)
    subs.append(
        DemoSubmission(ben.name, ben, "loses bed-of-nails and bilinear points, in suites and notebooks")
    )

    cara = out / "cara_vscode_untrained"
    _copy_package(source, cara)
    _patch(cara, "layers/unpooling.py", "nearest_unpool2d", CARA_NEAREST)
    stripped = [
        _strip_metadata(nb, _first_test(nb) if i == 0 else None) for i, nb in enumerate(reference_nbs)
    ]
    _write_notebooks(cara, stripped, names)
    _copy_models(models.untrained, cara)
    subs.append(
        DemoSubmission(
            cara.name,
            cara,
            "nearest unpooling fails; notebooks matched without metadata; "
            "one deleted test cell restored (tampering); untrained model scores low",
        )
    )

    mallory = out / "mallory_malicious"
    _copy_package(source, mallory)
    (mallory / "exercise_code" / "__init__.py").write_text(MALLORY_INIT.replace("{marker}", ESCAPE_MARKER))
    _patch(mallory, "layers/transpose_conv.py", "conv_transpose2d", MALLORY_CONV)
    _patch(mallory, "layers/unpooling.py", "max_unpool2d", MALLORY_MAX_UNPOOL)
    _patch(mallory, "layers/bilinear.py", "bilinear_kernel", MALLORY_BILINEAR)
    evil = [nbformat.from_dict(json.loads(json.dumps(nb))) for nb in reference_nbs]
    first = evil[0]
    first.cells.insert(1, nbformat.v4.new_code_cell(MALLORY_CELL))
    for cell in first.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == _first_test(reference_nbs[0]):
            cell.source = "assert True  # the tests are fine, trust me"
    first.cells.append(nbformat.v4.new_code_cell("while True:\n    pass"))
    _write_notebooks(mallory, evil, names)
    _copy_models(models.trained, mallory)
    with open(mallory / "models" / "segmentation.pt", "wb") as handle:
        pickle.dump(_Payload(f"touch /tmp/{ESCAPE_MARKER}-pickle"), handle)
    subs.append(
        DemoSubmission(
            mallory.name,
            mallory,
            "nothing escapes the sandbox: forbidden call, memory, crash, "
            "timeout and tampering each cost only their own tests",
        )
    )
    shutil.rmtree(out / "_models", ignore_errors=True)
    return subs


def escaped_markers() -> list[Path]:
    """Files the malicious submission managed to create on this machine (must be empty)."""
    import tempfile

    folders = {Path("/tmp"), Path(tempfile.gettempdir())}
    return sorted(p for folder in folders for p in folder.glob(f"{ESCAPE_MARKER}*"))
