"""TEST DOUBLE, trusted tests only: a pytest plugin that stands in for the grading plugin's fixtures.

`submission.call` imports the code under test directly (no sandbox, no worker) from `--double-root`,
which must come first on `sys.path` (`run_double` starts pytest in a subprocess for that). Values are
cloned both ways, exceptions become `StudentCodeError` like the real proxy's. Like the real grader it
passes model handles as arguments and returns modules as handles and dataclasses as dicts. Never used
for grading: `autograder verify` and the CI test of it go through `grade_submission`.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from autograder.errors import MissingPart, StudentCodeError
from autograder.grading.rubric import load_rubric, rubric_key

REPO = Path(__file__).resolve().parent.parent
SUITES = REPO / "autograder" / "hidden"


def run_double(
    root: Path, out: Path, *, seed: int = 0, files: list[str] | None = None, key: int = 1234
) -> dict[str, Any]:
    """Run the hidden suites (or `files` of them) against the kit at `root`; returns the result JSON."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(REPO / "tests")])}
    targets = [str(SUITES / f) for f in files] if files else [str(SUITES)]
    command = [
        sys.executable,
        "-m",
        "pytest",
        *targets,
        "-q",
        "-p",
        "hidden_double",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "--rootdir",
        str(SUITES),
        "--confcutdir",
        str(SUITES),
        "-c",
        os.devnull,
        "--import-mode=importlib",
        f"--double-root={root}",
        f"--double-out={out}",
        f"--double-seed={seed}",
        f"--double-key={key}",
    ]
    # cwd: `python -m` puts the working directory first on sys.path, before PYTHONPATH
    done = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True, timeout=600)
    if not out.exists():
        raise RuntimeError(f"the double run wrote no result:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(out.read_text())


# --- values across the (pretend) boundary ---------------------------------------------------------------


def _inbound(value: Any) -> Any:
    if isinstance(value, FakeHandle):
        return value.model
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, tuple | list):
        return type(value)(_inbound(v) for v in value)
    if isinstance(value, dict):
        return {k: _inbound(v) for k, v in value.items()}
    return value


def _outbound(value: Any) -> Any:
    if isinstance(value, nn.Module):
        return FakeHandle(value.eval())
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _outbound(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return (
            tuple(_outbound(v) for v in value) if isinstance(value, tuple) else [_outbound(v) for v in value]
        )
    if isinstance(value, dict):
        return {k: _outbound(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise StudentCodeError("TypeError", f"a {type(value).__name__} cannot be sent back")


def _run(fn: Any, args: tuple, kwargs: dict, seed: int) -> Any:
    args, kwargs = _inbound(args), _inbound(kwargs)
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        return _outbound(fn(*args, **kwargs))
    except StudentCodeError:
        raise
    except Exception as exc:
        raise StudentCodeError(type(exc).__name__, str(exc)) from None


class FakeHandle:
    """A model living in this process (the real one lives in the worker)."""

    def __init__(self, model: nn.Module, seed: int = 0) -> None:
        self.model, self.seed = model, seed

    def __call__(
        self,
        *tensors: torch.Tensor,
        method: str = "forward",
        batch_size: int | None = None,
        no_grad: bool = True,
    ) -> Any:
        fn = getattr(self.model, method)
        with torch.no_grad() if no_grad else torch.enable_grad():
            if batch_size is None:
                return _run(fn, tensors, {}, self.seed)
            chunks = [
                _run(fn, tuple(t[i : i + batch_size] for t in tensors), {}, self.seed)
                for i in range(0, len(tensors[0]), batch_size)
            ]
            return torch.cat(chunks)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        with torch.no_grad():
            return _run(getattr(self.model, method), args, kwargs, self.seed)

    def param_count(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}


class FakeSubmission:
    """What the `submission` fixture offers, answered in-process from the kit at `root`."""

    def __init__(self, root: Path, seed: int) -> None:
        self.root, self.seed = root, seed
        package = importlib.import_module("exercise_code")
        here = Path(package.__file__).resolve().parent
        if here != (root / "exercise_code").resolve():
            raise RuntimeError(f"exercise_code was imported from {here}, not from {root}")

    def call(self, dotted: str, *args: Any, **kwargs: Any) -> Any:
        _record_call(dotted, args, kwargs)
        module_name, _, name = dotted.rpartition(".")
        try:
            fn = getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError) as exc:
            raise MissingPart(dotted, str(exc)) from None
        return _run(fn, args, kwargs, self.seed)

    def build_model(self, spec: dict, state_dict: dict[str, torch.Tensor] | None = None) -> FakeHandle:
        if spec.get("name", "").startswith("Oracle:"):
            return FakeHandle(_Oracle(spec["name"].split(":", 1)[1], spec["kwargs"]))
        from exercise_code.models import build_model

        random.seed(self.seed)
        torch.manual_seed(self.seed)
        try:
            model = build_model(spec)
            if state_dict is not None:
                model.load_state_dict(state_dict)
        except Exception as exc:
            raise StudentCodeError(type(exc).__name__, str(exc)) from None
        return FakeHandle(model.eval(), self.seed)

    def fresh_worker(self) -> None:
        """Nothing to restart in-process (the real grader starts a new worker)."""

    def model_file(self, name: str, limits: Any = None) -> Any:
        from autograder.grading.proxy import read_model_file
        from exercise_code.config import CONFIG

        weights = self.root / "models" / f"{name}.pt"
        if not weights.is_file():
            raise MissingPart(f"models/{name}.pt")
        return read_model_file(weights, name, limits or CONFIG.limits_for(name))

    def load_model(self, name: str) -> FakeHandle:
        spec_path, weights = self.root / "models" / f"{name}.json", self.root / "models" / f"{name}.pt"
        if not spec_path.is_file():
            raise MissingPart(f"models/{name}.json")
        spec = json.loads(spec_path.read_text())
        state = torch.load(weights, weights_only=True) if weights.is_file() else None
        return self.build_model({"name": spec["name"], "kwargs": spec["kwargs"]}, state)


class _Oracle(nn.Module):
    """Stub models told the hidden key (test-only; the real sandbox never sees it), to check the
    metric-to-points mapping: `segmentation` returns one-hot logits of the true masks; `lookup` encodes a
    hidden digit as its index (a code of the configured size) and decodes it back; `classifier` encodes
    likewise and its head gives the true label's one-hot; `constant` decodes to 0.5 everywhere."""

    def __init__(self, kind: str, kwargs: dict) -> None:
        super().__init__()
        self.kind, self.kwargs = kind, kwargs
        self.encoder = _OracleEncoder(kwargs.get("key", 0))
        self.head = _OracleHead(kwargs.get("key", 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "segmentation":
            from autograder.hidden.hidden_data import hidden_scenes
            from exercise_code.config import CONFIG

            images, masks = hidden_scenes(self.kwargs["key"], CONFIG.hidden_scenes, x.shape[-1]).tensors()
            found = [int(torch.nonzero((images == img).flatten(1).all(1))[0]) for img in x]
            return torch.nn.functional.one_hot(masks[found], 11).permute(0, 3, 1, 2).float()
        return self.decode(self.encode(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        from autograder.hidden.hidden_data import hidden_digits

        images, _ = hidden_digits(self.kwargs["key"])
        if self.kind == "constant":
            return torch.full((len(z), *images.shape[1:]), 0.5)
        return images[z[:, 0].long()]


class _OracleEncoder(nn.Module):
    def __init__(self, key: int) -> None:
        super().__init__()
        self.key = key

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from autograder.hidden.hidden_data import hidden_digits
        from exercise_code.config import CONFIG

        images, _ = hidden_digits(self.key)
        found = [int(torch.nonzero((images == img).flatten(1).all(1))[0]) for img in x]
        codes = torch.zeros(len(x), CONFIG.latent_dim)
        codes[:, 0] = torch.tensor(found, dtype=torch.float32)
        return codes


class _OracleHead(nn.Module):
    def __init__(self, key: int) -> None:
        super().__init__()
        self.key = key

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        from autograder.hidden.hidden_data import hidden_digits

        _, labels = hidden_digits(self.key)
        return torch.nn.functional.one_hot(labels[z[:, 0].long()], 10).float()


# --- the plugin ----------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--double-root", required=True)
    parser.addoption("--double-out", required=True)
    parser.addoption("--double-seed", type=int, default=0)
    parser.addoption("--double-key", type=int, default=1234)


@pytest.fixture(scope="session")
def submission(pytestconfig: pytest.Config) -> FakeSubmission:
    return FakeSubmission(
        Path(pytestconfig.getoption("--double-root")), pytestconfig.getoption("--double-seed")
    )


@pytest.fixture(scope="session")
def grading_seed(pytestconfig: pytest.Config) -> int:
    return pytestconfig.getoption("--double-seed")


@pytest.fixture(scope="session")
def hidden_key(pytestconfig: pytest.Config) -> int:
    return pytestconfig.getoption("--double-key")


@pytest.fixture(scope="session")
def config() -> Any:
    from exercise_code.config import CONFIG

    return CONFIG


@pytest.fixture(scope="session")
def hidden_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hidden")


_RESULTS: dict[str, dict[str, Any]] = {}
_CURRENT: list[str] = [""]
"""The key of the test running now (for `_record_call`)."""


def _signature(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return ["tensor", list(value.shape), float(value.double().sum()) if value.numel() else 0.0]
    if isinstance(value, tuple | list):
        return [_signature(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _signature(v) for k, v in value.items()}
    return value if value is None or isinstance(value, bool | int | float | str) else type(value).__name__


def _record_call(dotted: str, args: tuple, kwargs: dict) -> None:
    """What the suite sent to the student's code (shapes, arguments, a checksum): the drawn case."""
    entry = _RESULTS.setdefault(_CURRENT[0], {"fraction": 1.0, "notes": []})
    entry.setdefault("calls", []).append([dotted, _signature(args), _signature(kwargs)])


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _CURRENT[0] = item.nodeid.split("::", 1)[-1]


def _entry(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _RESULTS.setdefault(request.node.nodeid.split("::", 1)[-1], {"fraction": 1.0, "notes": []})


@pytest.fixture
def record_fraction(request: pytest.FixtureRequest) -> Any:
    def record(x: float) -> None:
        _entry(request)["fraction"] = float(x)

    return record


@pytest.fixture
def record_message(request: pytest.FixtureRequest) -> Any:
    return lambda text: _entry(request)["notes"].append(str(text))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = (yield).get_result()
    if call.when != "call" and not report.failed:
        return
    entry = _RESULTS.setdefault(item.nodeid.split("::", 1)[-1], {"fraction": 1.0, "notes": []})
    entry["file"] = Path(str(item.path)).name
    if report.passed:
        entry["status"] = "passed"
    else:
        exc = call.excinfo.value if call.excinfo else None
        nie = isinstance(exc, StudentCodeError) and exc.not_implemented
        entry["status"] = "not_implemented" if nie else "failed"
        entry["message"] = str(exc)[:500]


def pytest_sessionfinish(session: pytest.Session) -> None:
    rubric = load_rubric(SUITES / "rubric.toml")
    names = {k: f"{v.get('file', '?')}::{k}" for k, v in _RESULTS.items()}
    cases = Counter(rubric_key(n) for n in names.values())
    out = {}
    for key, entry in _RESULTS.items():
        name = names[key]
        points = rubric[rubric_key(name)].points if rubric_key(name) in rubric else 0.0
        max_points = points / cases[rubric_key(name)]
        earned = max_points * entry["fraction"] if entry.get("status") == "passed" else 0.0
        out[name] = {**entry, "points": earned, "max_points": max_points}
    Path(session.config.getoption("--double-out")).write_text(json.dumps(out, indent=1))
