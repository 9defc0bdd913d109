"""The `submission` fixture's object: student functions and models, run in the sandbox, seen from the
trusted process. Every value that comes back is a plain tensor/number/string, a dict (dataclasses too)
or a ModelHandle (an nn.Module stays in the worker); assertions stay here.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from autograder.errors import ForbiddenCall, MissingPart, SandboxCrash, SandboxTimeout, StudentCodeError
from exercise_code.config import CONFIG, ModelLimits, state_dict_values

from .forbidden import AMBIGUOUS, scan_function
from .session import WorkerSession

_MODEL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_SPEC_BYTES = 1 << 20
MAX_SPEC_DEPTH = 16
"""Nesting depth of a model's JSON spec (a classifier spec nests its encoder's: depth 4 or so)."""
MIB = 2**20


class ModelRejected(AssertionError):
    """A submitted model file breaks a rule the trusted side checks before any student code runs (its
    limits, its format): the tests that use the model fail with this message."""


@dataclass(frozen=True)
class ModelFile:
    """What the trusted side read from `models/<name>.pt` itself (never from the sandbox)."""

    name: str
    values: int
    """Values in every tensor of the state_dict, parameters and buffers (what the limits count)."""
    tensors: int
    megabytes: float
    shapes: dict[str, tuple[int, ...]]
    """Key -> shape of every tensor in the state_dict."""


def _depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_SPEC_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def read_spec(path: Path, name: str) -> dict[str, Any]:
    """`models/<name>.json` as `{"name", "kwargs"}`; StudentCodeError naming the file when it is not."""
    what = f"models/{name}.json"
    if path.stat().st_size > MAX_SPEC_BYTES:
        raise StudentCodeError("ValueError", f"{what} is larger than {MAX_SPEC_BYTES} bytes")
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        spec = None
    except (UnicodeDecodeError, ValueError) as exc:
        raise StudentCodeError("ValueError", f"{what} is not valid JSON: {exc}") from None
    if spec is None or _depth(spec) > MAX_SPEC_DEPTH:
        raise StudentCodeError("ValueError", f"{what} is nested deeper than {MAX_SPEC_DEPTH} levels")
    if not (isinstance(spec, dict) and "name" in spec and "kwargs" in spec):
        raise StudentCodeError("ValueError", f"{what} must hold {{'name', 'kwargs'}}")
    return spec


def read_model_file(path: Path, name: str, limits: ModelLimits) -> ModelFile:
    """Check `models/<name>.pt` on the trusted side: size first, then every tensor of the state_dict
    (loaded with `weights_only=True`, memory-mapped, nothing materialised) against `limits`."""
    what = f"models/{name}.pt"
    megabytes = path.stat().st_size / MIB
    if megabytes > limits.max_file_mb:
        raise ModelRejected(f"{what} is {megabytes:.1f} MiB; the limit is {limits.max_file_mb:g} MiB")
    try:
        with warnings.catch_warnings():  # torch's notes on a file's pickle protocol are not the student's
            warnings.simplefilter("ignore")
            state = torch.load(path, weights_only=True, map_location="cpu", mmap=True)
    except Exception:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                state = torch.load(path, weights_only=True, map_location="cpu")
        except Exception as exc:
            lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
            detail = next((ln for ln in lines if "WeightsUnpickler error" in ln), lines[-1] if lines else "")
            raise StudentCodeError(
                "UnpicklingError",
                f"{what} does not load with torch.load(weights_only=True) (save model.state_dict(), "
                f"not the model): {detail[:300] or type(exc).__name__}",
            ) from None
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        kind = type(state).__name__
        raise StudentCodeError("TypeError", f"{what} must hold a state_dict (name -> tensor), got {kind}")
    shapes = {k: tuple(v.shape) for k, v in state.items() if isinstance(v, torch.Tensor)}
    values = state_dict_values(state)
    if values > limits.max_parameters:
        raise ModelRejected(
            f"{what} holds {values:,} values in {len(shapes)} tensors (parameters and buffers); "
            f"the limit is {limits.max_parameters:,}"
        )
    return ModelFile(name, values, len(shapes), round(megabytes, 3), shapes)


class Submission:
    """A submission: `root` for file checks only (never import from it); its code runs in the sandbox."""

    def __init__(self, root: Path, session: WorkerSession, *, seed: int = 0) -> None:
        self.root = root
        self._session = session
        self._seed = seed
        self._scans: dict[str, ForbiddenCall | None] = {}
        self._files: dict[str, ModelFile | ModelRejected | StudentCodeError] = {}
        self._timed_out: dict[str, str] = {}
        """Request name -> the test case in which it ran past its time limit (it is not waited for again)."""
        self.stopped: dict[str, str] = {}
        """`module:qualname` of a student function one call of which used a whole CPU limit -> the test
        case; the worker stubs each out (autograder.worker.hung), so its callers fail at once too."""
        self.current_case = ""
        """The hidden test running now (the plugin sets it), named in later timeouts of the same request."""

    @property
    def session(self) -> WorkerSession:
        return self._session

    def fresh_worker(self) -> None:
        """Stop the worker: the next request starts a new one, so nothing an earlier call left in memory
        (a cache of inputs, a patched module) survives; models are rebuilt from their files."""
        self._session.stop()

    def _check_source(self, dotted: str) -> None:
        """AST scan of the function's source for its forbidden callables (cached per function)."""
        names = tuple(self._session.forbidden.get(dotted, ()))
        if not names:
            return
        if dotted not in self._scans:
            found = scan_function(self.root, dotted, names)
            if found is None:
                self._scans[dotted] = None
            elif found.name == AMBIGUOUS:  # the scan cannot tell which file Python would run
                self._scans[dotted] = ForbiddenCall(found.name, f"{dotted} cannot be checked: {found.where}")
            else:
                message = f"{dotted} uses the forbidden {found.name} (at {found.where})"
                self._scans[dotted] = ForbiddenCall(found.name, message)
        if self._scans[dotted] is not None:
            raise self._scans[dotted]

    def _request(self, header: dict[str, Any], value: Any, what: str, label: str = "") -> Any:
        """One request; model handles in `value` go as references, models in the reply become handles."""

        def decode(info: dict[str, Any]) -> ModelHandle:
            return ModelHandle(self, (header, value), label or f"model from {what}", info)

        earlier = self._timed_out.get(what)
        if earlier is not None:  # a hang costs one call timeout, not one per test case
            raise SandboxTimeout(
                f"{what} was not run again: it did not finish within {self._session.call_s:g} s in {earlier}"
            )
        if self.stopped:
            header = {**header, "hung": self.stub_messages()}
        try:
            return self._session.request(header, value, what=what, encode=_encode_handle, decode=decode)
        except SandboxTimeout as exc:
            if not (exc.budget or exc.again):
                self._timed_out[what] = self.current_case or "an earlier call"
            if exc.hung:
                self.stopped.setdefault(exc.hung, self.current_case or "an earlier call")
            raise

    def stub_messages(self) -> dict[str, str]:
        """What each stopped function's stub says when it is called (in the worker or a notebook)."""
        return stub_messages(self.stopped, self._session.call_s)

    def call(self, dotted: str, *args: Any, **kwargs: Any) -> Any:
        """Run student function `dotted` (e.g. `exercise_code.layers.conv_transpose2d`) in the sandbox.

        args/kwargs and the result: Tensor, int, float, bool, str, None, tuple/list/dict of those; a
        ModelHandle may be passed, and an nn.Module (e.g. a class called as constructor) comes back
        as a ModelHandle; dataclasses come back as dicts.
        """
        if not dotted.startswith("exercise_code."):
            raise ValueError(f"only functions inside exercise_code can be called, got {dotted!r}")
        self._check_source(dotted)
        header = {"op": "call", "target": dotted, "seed": self._seed}
        return self._request(
            header, (tuple(args), dict(kwargs)), dotted, f"{dotted.rsplit('.', 1)[-1]} model"
        )

    def model_file(self, name: str, limits: ModelLimits | None = None) -> ModelFile:
        """The trusted reading of `models/<name>.pt` (cached): ModelRejected when it breaks `limits`
        (default: the assignment's limits for `name`) or is no plain state_dict; MissingPart if absent."""
        if not _MODEL_NAME.match(name):
            raise ValueError(f"model name must be letters, digits, '_' or '-', got {name!r}")
        if name not in self._files:
            weights = self.root / "models" / f"{name}.pt"
            if not weights.is_file():
                raise MissingPart(f"models/{name}.pt", f"models/{name}.pt is missing from the submission")
            if limits is None:
                limits = CONFIG.limits_for(name) if name in CONFIG.model_names else ModelLimits()
            try:
                self._files[name] = read_model_file(weights, name, limits)
            except (ModelRejected, StudentCodeError) as exc:
                self._files[name] = exc
        found = self._files[name]
        if isinstance(found, Exception):
            raise found
        return found

    def load_model(self, name: str) -> ModelHandle:
        """`models/<name>.json` + `models/<name>.pt`, rebuilt with the student's own code in the sandbox.

        Before anything runs in the sandbox, the trusted side reads both files itself: the spec's size and
        depth, the weights' file size and every tensor against the model's limits (ModelRejected).
        """
        if not _MODEL_NAME.match(name):
            raise ValueError(f"model name must be letters, digits, '_' or '-', got {name!r}")
        spec_path = self.root / "models" / f"{name}.json"
        if not spec_path.is_file():
            raise MissingPart(f"models/{name}.json", f"models/{name}.json is missing from the submission")
        self.model_file(name)
        spec = read_spec(spec_path, name)
        header = {"op": "load_model", "name": name, "spec": {"name": spec["name"], "kwargs": spec["kwargs"]}}
        return self._model(header, None, f"model {name!r}")

    def build_model(
        self, spec: dict[str, Any], state_dict: dict[str, torch.Tensor] | None = None
    ) -> ModelHandle:
        """A student model built from `spec` (`{"name", "kwargs"}`), optionally loaded with `state_dict`."""
        label = f"model {spec.get('name', '?')!r}" if isinstance(spec, dict) else "model"
        return self._model({"op": "build_model", "spec": spec, "seed": self._seed}, state_dict, label)

    def _model(self, header: dict[str, Any], value: Any, label: str) -> ModelHandle:
        handle = self._request(header, value, f"building {label}", label)
        if not isinstance(handle, ModelHandle):
            raise StudentCodeError("TypeError", f"building {label} did not give an nn.Module")
        return handle


def stub_messages(stopped: dict[str, str], call_s: float) -> dict[str, str]:
    """`module:qualname` -> the message its stub raises: which function, and where it hung."""
    return {
        name: f"{name.replace(':', '.')} was not run again: one call of it used the whole {call_s:g} s "
        f"CPU-time limit in {case} (look for an endless loop)"
        for name, case in stopped.items()
    }


def _encode_handle(value: Any) -> dict[str, Any] | None:
    return {"handle": value._ensure()} if isinstance(value, ModelHandle) else None


class ModelHandle:
    """A student model living in the worker; rebuilt (by replaying what made it) after a restart."""

    def __init__(
        self,
        submission: Submission,
        recipe: tuple[dict[str, Any], Any] | None,
        label: str,
        info: dict[str, Any],
    ) -> None:
        self._submission = submission
        self._recipe = recipe
        self.label = label
        self._adopt(info)

    def _adopt(self, info: dict[str, Any]) -> None:
        self._handle = int(info["handle"])
        self._params = int(info.get("params", 0))
        self.class_name = str(info.get("class", ""))
        self._generation = self._submission.session.generation

    def _ensure(self) -> int:
        session = self._submission.session
        if self._generation == session.generation and session.worker is not None:
            return self._handle
        if self._recipe is None:
            raise SandboxCrash(f"{self.label} was lost when the worker restarted after an earlier failure")
        header, value = self._recipe
        again = self._submission._request(header, value, f"rebuilding {self.label}", self.label)
        if not isinstance(again, ModelHandle):
            raise SandboxCrash(f"rebuilding {self.label} after a worker restart did not give a model")
        self._adopt({"handle": again._handle, "params": again._params, "class": again.class_name})
        return self._handle

    def _model_call(
        self, method: str, args: tuple, kwargs: dict, batch_size: int | None, no_grad: bool
    ) -> Any:
        header = {
            "op": "model_call",
            "handle": self._ensure(),
            "method": method,
            "batch_size": batch_size,
            "no_grad": no_grad,
            "seed": self._submission._seed,
        }
        return self._submission._request(header, (args, kwargs), f"{self.label}.{method}")

    def __call__(
        self,
        *tensors: torch.Tensor,
        method: str = "forward",
        batch_size: int | None = None,
        no_grad: bool = True,
    ) -> Any:
        """Run `method` (default forward) on `tensors`, in chunks of `batch_size` along dim 0 if given."""
        if batch_size is not None and batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        return self._model_call(method, tuple(tensors), {}, batch_size, no_grad)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call any method of the student's model (no gradients), e.g. `handle.call("encode", x)`."""
        return self._model_call(method, tuple(args), dict(kwargs), None, True)

    def param_count(self) -> int:
        """Parameters counted with numel inside the sandbox (`nn.Module.parameters`, overrides bypassed)."""
        self._ensure()
        return self._params

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The model's state_dict, copied out of the sandbox as plain tensors."""
        header = {"op": "state_dict", "handle": self._ensure()}
        value = self._submission._request(header, None, f"{self.label}.state_dict")
        if not isinstance(value, dict) or not all(isinstance(v, torch.Tensor) for v in value.values()):
            raise StudentCodeError("TypeError", f"{self.label}.state_dict() did not return tensors")
        return value

    def __repr__(self) -> str:
        return f"<ModelHandle {self.label} ({self.class_name}, {self._params} parameters)>"
