"""`autograder submit`: required files, models that load safely and meet the limits, public checks."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from grading_helpers import write_tree
from torch import nn

from autograder import submit
from exercise_code.config import CONFIG, ModelLimits
from exercise_code.models.registry import register

REPO = Path(__file__).resolve().parent.parent

KIT_MODELS = """
from torch import nn

_REGISTRY = {}


class Tiny(nn.Module):
    def __init__(self, n=3):
        super().__init__()
        self.spec_kwargs = {"n": n}
        self.fc = nn.Linear(n, 2)

    def forward(self, x):
        return self.fc(x)


_REGISTRY["Tiny"] = Tiny


def build_model(spec):
    return _REGISTRY[spec["name"]](**spec["kwargs"])
"""

KIT_CHECKS = """
class _Result:
    def __init__(self, ok):
        self.status = "passed" if ok else "failed"
    def line(self):
        return f"[{'PASS' if self.status == 'passed' else 'FAIL'}] tiny check"


class _Report:
    def __init__(self, ok):
        self.ok, self.results = ok, [_Result(ok)]
    def score_lines(self):
        return [f"layers: {int(self.ok)}/1 checks passed"]


def run_checks(*groups):
    return _Report(OK)
"""


def _kit(root: Path, *, checks_ok: bool = True, skip: tuple[str, ...] = ()) -> Path:
    files: dict[str, str | bytes] = {
        "exercise_code/__init__.py": "",
        "exercise_code/config.py": (REPO / "exercise_code" / "config.py").read_text(),
        "exercise_code/models/__init__.py": KIT_MODELS,
        "exercise_code/checks/__init__.py": f"OK = {checks_ok}\n" + KIT_CHECKS,
        "exercise_code/__pycache__/junk.pyc": b"cache",
        "notebooks/01_layers.ipynb": "{}",
    }
    torch.manual_seed(0)
    layer = nn.Linear(3, 2)
    weights = root / "_w.pt"
    root.mkdir(parents=True, exist_ok=True)
    torch.save({f"fc.{k}": v for k, v in layer.state_dict().items()}, weights)
    for name in CONFIG.model_names:
        files[f"models/{name}.pt"] = weights.read_bytes()
        files[f"models/{name}.json"] = '{"name": "Tiny", "kwargs": {"n": 3}}'
    weights.unlink()
    return write_tree(root, {k: v for k, v in files.items() if k not in skip})


def _submit(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "autograder", "submit", *args]
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)


def test_submit_writes_a_zip_the_grader_accepts(tmp_path):
    root = _kit(tmp_path / "kit")
    done = _submit(root, "--out", "out/submission.zip")
    assert done.returncode == 0, done.stderr
    assert "models/segmentation: 8 values (parameters and buffers)" in done.stdout
    assert "layers: 1/1 checks passed" in done.stdout
    names = set(zipfile.ZipFile(root / "out/submission.zip").namelist())
    assert "exercise_code/models/__init__.py" in names and "notebooks/01_layers.ipynb" in names
    assert {f"models/{n}.{ext}" for n in CONFIG.model_names for ext in ("pt", "json")} <= names
    assert not any("__pycache__" in n for n in names)


def test_failing_checks_warn_but_write_unless_strict(tmp_path):
    root = _kit(tmp_path / "kit", checks_ok=False)
    strict = _submit(root, "--strict")
    assert strict.returncode == 1 and "public checks failed (--strict)" in strict.stderr
    assert not (root / "submission.zip").exists()
    done = _submit(root)
    assert done.returncode == 0 and "WARNING: some public checks fail" in done.stdout
    assert "[FAIL] tiny check" in done.stdout and (root / "submission.zip").is_file()


def test_missing_pieces_are_named_and_exit_nonzero(tmp_path):
    root = _kit(tmp_path / "kit", skip=("models/autoencoder.pt", "notebooks/01_layers.ipynb"))
    done = _submit(root)
    assert done.returncode == 1
    assert "models/autoencoder.pt" in done.stderr and "notebooks/*.ipynb" in done.stderr
    assert not (root / "submission.zip").exists()


@register
class SubmitTestTiny(nn.Module):
    """A registered model for the in-process checks below."""

    def __init__(self, n: int = 3) -> None:
        super().__init__()
        self.spec_kwargs = {"n": n}
        self.fc = nn.Linear(n, 2)


def _model_files(root: Path, *, state: object, spec: str = '{"name": "SubmitTestTiny", "kwargs": {"n": 3}}'):
    (root / "models").mkdir(parents=True, exist_ok=True)
    torch.save(state, root / "models" / "m.pt")
    (root / "models" / "m.json").write_text(spec)


def test_check_model_accepts_a_state_dict(tmp_path):
    _model_files(tmp_path, state=SubmitTestTiny().state_dict())
    check = submit.check_model(tmp_path, "m")
    assert check.problem == "" and check.params == 8


@pytest.mark.parametrize(
    ("state", "spec", "match"),
    [
        (SubmitTestTiny(), None, "does not load with weights_only=True"),
        ({"fc.weight": torch.zeros(2, 3)}, None, "rebuilding from models/m.json failed"),
        (SubmitTestTiny().state_dict(), "{not json", "not valid JSON"),
    ],
)
def test_check_model_names_the_problem(tmp_path, state, spec, match):
    _model_files(tmp_path, state=state, **({"spec": spec} if spec else {}))
    assert match in submit.check_model(tmp_path, "m").problem


def test_check_model_enforces_the_config_limits(tmp_path, monkeypatch):
    _model_files(tmp_path, state=SubmitTestTiny().state_dict())
    monkeypatch.setattr(submit, "_limits", lambda name: ModelLimits(max_parameters=5))
    problem = submit.check_model(tmp_path, "m").problem
    assert "has 8 values in its state_dict (parameters and buffers); the limit is 5" in problem
    monkeypatch.setattr(submit, "_limits", lambda name: ModelLimits(max_file_mb=1e-6))
    assert "the limit is 1e-06 MB" in submit.check_model(tmp_path, "m").problem
