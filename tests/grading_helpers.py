"""Helpers for the grading tests: tiny submissions and tiny hidden suites written into temp folders."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

TINY_MODEL = """
import torch
from torch import nn

_REGISTRY = {}


def register(cls):
    _REGISTRY[cls.__name__] = cls
    return cls


@register
class Tiny(nn.Module):
    def __init__(self, n_in=3, n_out=2):
        super().__init__()
        self.spec_kwargs = {"n_in": n_in, "n_out": n_out}
        self.fc = nn.Linear(n_in, n_out)

    def forward(self, x):
        return self.fc(x)


def build_model(spec):
    return _REGISTRY[spec["name"]](**spec["kwargs"])
"""

LEGIT_CONV_T = '''
import torch


def conv_transpose2d(x, w):
    """Stride-1, no-padding transpose convolution by scattering each kernel tap."""
    N, C, H, W = x.shape
    _, O, kh, kw = w.shape
    out = x.new_zeros(N, O, H + kh - 1, W + kw - 1)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i : i + H, j : j + W] += torch.einsum("nchw,co->nohw", x, w[:, :, i, j])
    return out
'''


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write `files` (relative path -> text or bytes) under `root`, readable by everyone."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return root


def zip_tree(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return out


def base_files(ops: str) -> dict[str, str]:
    """A minimal complete-enough submission whose `exercise_code.ops` module is `ops`."""
    return {
        "exercise_code/__init__.py": "",
        "exercise_code/ops.py": ops,
        "notebooks/01.ipynb": "{}",
    }


def tiny_model_files(tmp: Path) -> dict[str, bytes | str]:
    """exercise_code/models/ with a registry and `models/tiny.{pt,json}` saved as a state_dict."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    state = nn.Linear(3, 2).state_dict()
    weights = tmp / "tiny_weights.pt"
    torch.save({f"fc.{k}": v for k, v in state.items()}, weights)
    return {
        "exercise_code/models/__init__.py": TINY_MODEL,
        "models/tiny.pt": weights.read_bytes(),
        "models/tiny.json": '{"name": "Tiny", "kwargs": {"n_in": 3, "n_out": 2}}',
    }


def uid_processes(uid: int = 65534) -> list[int]:
    """Pids of live processes owned by `uid` (the sandbox uid)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        line = next((x for x in status.splitlines() if x.startswith("Uid:")), "")
        if line.split()[1:2] == [str(uid)]:
            pids.append(int(entry.name))
    return pids


def descendants(pid: int) -> set[int]:
    """Pids of every live process below `pid` (children, theirs, ...), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line contains `text` (e.g. a test's output folder)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


# Run the public checks of several kit copies in one fresh Python: argv[1] is JSON [[name, root, groups]].
RUN_KITS = """
import importlib, json, sys
reports = {}
for name, root, groups in json.loads(sys.argv[1]):
    for module in [m for m in sys.modules if m == "exercise_code" or m.startswith("exercise_code.")]:
        del sys.modules[module]
    sys.path.insert(0, root)
    importlib.invalidate_caches()
    import exercise_code.checks as checks
    assert checks.__file__.startswith(root), (checks.__file__, root)
    reports[name] = checks.run_checks(*groups, root=root).to_dict()
    sys.path.remove(root)
print(json.dumps(reports))
"""
