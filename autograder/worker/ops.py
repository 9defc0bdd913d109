"""What the sandboxed worker does on request: call a student function, build/load/run student models.

Runs inside the sandbox with the student's `exercise_code` (from the submission root) and torch only.
Every failure becomes a reply `{"ok": false, "kind": ..., ...}`; nothing here trusts student values.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import random
import re
import signal
import sys
import traceback
from typing import Any

import torch

from . import hung
from .guard import ForbiddenTrip, Guard, Outcome
from .protocol import ProtocolError, pack, unpack

_MODEL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ALLOC_HINTS = ("can't allocate memory", "not enough memory", "out of memory", "std::bad_alloc")
MAX_TEXT = 2000


class Missing(Exception):
    """The requested function, module, attribute or model file does not exist in the submission."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class Reply(Exception):
    """A finished failure reply, raised from deep inside a handler."""

    def __init__(self, reply: dict[str, Any]) -> None:
        super().__init__(reply.get("message", ""))
        self.reply = reply


def _short(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 20] + " ...[truncated]"


class CpuLimit(BaseException):
    """Raised in student code when the request has used its CPU time (SIGPROF from ITIMER_PROF)."""


CPU_RETRY_S = 0.25
"""After the limit, SIGPROF comes again every this many CPU-seconds (code that swallows one still stops)."""


class Worker:
    """State of one worker: the submission root, the guard, forbidden names per target, built models."""

    def __init__(self, root: str, guard: Guard, forbidden: dict[str, list[str]]) -> None:
        self.root = os.path.realpath(root)
        self.guard = guard
        self.forbidden = forbidden
        guard.enable_dispatch()  # torch.ops.aten & co. too, not just the Python names
        guard.watch(forbidden, self.root)  # and inside the student's guarded functions, from any call
        self.models: dict[int, torch.nn.Module] = {}
        self._next = 0
        self._checked_package = False
        self.cpu_expired = False
        self.cpu_s = 0.0
        self._halfway: list[Any] | None = None
        """Student frames on the stack halfway through the request's CPU time (None: not reached yet)."""
        self._paths: dict[str, bool] = {}
        self.blamed: str | None = None
        """`module:qualname` of the student function whose one call used the time up (hung.blame)."""
        signal.signal(signal.SIGPROF, self._cpu_limit)

    def _cpu_limit(self, signum: int, frame: Any) -> None:
        if self._halfway is None:  # halfway: look at the stack, go on
            self._halfway = hung.student_frames(frame, self.root, self._paths)
            signal.setitimer(signal.ITIMER_PROF, self.cpu_s / 2, CPU_RETRY_S)
            return
        if not self.cpu_expired:
            self.blamed = hung.blame(hung.student_frames(frame, self.root, self._paths), self._halfway)
            self._halfway = []  # no frame kept alive past the limit
        self.cpu_expired = True
        raise CpuLimit()

    # --- failures --------------------------------------------------------------------------------

    def failure(self, exc: BaseException) -> dict[str, Any]:
        """The reply for an exception raised by student code (or by resolving a name)."""
        if isinstance(exc, Reply):
            return exc.reply
        if isinstance(exc, ModuleNotFoundError) and str(exc.name).split(".")[0] == "exercise_code":
            exc = Missing(f"{exc.name} is missing from the submission", str(exc.name))  # not a third party's
        if isinstance(exc, Missing):
            return {"ok": False, "kind": "missing", "message": _short(str(exc)), "path": exc.path}
        text = str(exc)
        if isinstance(exc, MemoryError) or (
            isinstance(exc, RuntimeError) and any(h in text for h in _ALLOC_HINTS)
        ):
            return {"ok": False, "kind": "memory", "type": type(exc).__name__, "message": _short(text)}
        return {
            "ok": False,
            "kind": "error",
            "type": type(exc).__name__,
            "message": _short(text),
            "not_implemented": isinstance(exc, NotImplementedError),
            "traceback": self.student_traceback(exc),
        }

    def student_traceback(self, exc: BaseException) -> str:
        """Traceback frames from the submission only, with paths relative to its root."""
        lines = []
        for frame in traceback.extract_tb(exc.__traceback__):
            path = os.path.realpath(frame.filename)
            if path.startswith(self.root + os.sep):
                rel = os.path.relpath(path, self.root)
                lines.append(f'  File "{rel}", line {frame.lineno}, in {frame.name}\n    {frame.line or ""}')
        lines.append(f"{type(exc).__name__}: {exc}")
        return _short("\n".join(lines), 4 * MAX_TEXT)

    # --- names -------------------------------------------------------------------------------------

    def _check_package(self) -> None:
        if self._checked_package:
            return
        try:
            package = importlib.import_module("exercise_code")
        except ModuleNotFoundError as exc:
            if exc.name == "exercise_code":
                raise Missing("the submission has no exercise_code package", "exercise_code") from None
            raise
        paths = [os.path.realpath(p) for p in getattr(package, "__path__", [])]
        if not paths or not all(p.startswith(self.root + os.sep) for p in paths):
            found = f"exercise_code was not imported from the submission (found {paths})"
            raise Missing(found, "exercise_code")
        self._checked_package = True

    def resolve(self, dotted: str) -> Any:
        """The object `exercise_code.a.b.name` names, imported from the submission."""
        parts = dotted.split(".")
        if parts[0] != "exercise_code" or not all(p.isidentifier() for p in parts):
            raise Missing(f"{dotted!r} is not a name inside exercise_code", dotted)
        self._check_package()
        absent = ""  # the first module on the way that does not exist (the target itself may be a function)
        for cut in range(len(parts), 0, -1):
            module_name = ".".join(parts[:cut])
            try:
                obj = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name == module_name or module_name.startswith(f"{exc.name}."):
                    absent = str(exc.name)
                    continue  # this prefix is not a module: try a shorter one
                raise  # a module imported by the student's code: `failure` tells theirs from a third party's
            for i, attr in enumerate(parts[cut:], start=cut):
                if not hasattr(obj, attr):
                    where, wanted = ".".join(parts[:i]), ".".join(parts[: i + 1])
                    if wanted == absent and wanted != dotted:
                        raise Missing(f"{wanted} is missing from the submission", wanted)
                    raise Missing(f"{where} has no attribute {attr!r} (looking for {dotted})", dotted)
                obj = getattr(obj, attr)
            return obj
        raise Missing(f"cannot import {dotted}", dotted)

    # --- handlers ----------------------------------------------------------------------------------

    def guarded(self, target: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run `fn` with the guard armed: `target`'s forbidden names anywhere, and each guarded student
        function's names inside it. A trip names that student function (or `target`) and the op."""
        self.guard.activate(self.forbidden.get(target, ()))
        try:
            value = fn(*args, **kwargs)
        except ForbiddenTrip:
            value = None
        except BaseException:
            outcome = self.guard.finish()
            if outcome.trip or outcome.tampered:
                raise Reply(_outcome_reply(target, outcome)) from None
            raise
        outcome = self.guard.finish()
        if outcome.trip or outcome.tampered:
            raise Reply(_outcome_reply(target, outcome))
        return value

    def call(self, request: dict[str, Any], tensors: list[torch.Tensor]) -> Any:
        target = str(request["target"])
        fn = self.resolve(target)
        if not callable(fn):
            raise Missing(f"{target} is not callable", target)
        args, kwargs = unpack(request["payload"], tensors, self.find_model)
        _seed(request.get("seed", 0))
        return self.guarded(target, fn, *args, **kwargs)

    def _build(self, spec: Any) -> torch.nn.Module:
        if not (isinstance(spec, dict) and set(spec) == {"name", "kwargs"}):
            raise Reply(_error("ValueError", f"a model spec is {{'name', 'kwargs'}}, got {spec!r:.200}"))
        models = importlib.import_module("exercise_code.models")
        build = getattr(models, "build_model", None)
        if build is None:
            build = self.resolve("exercise_code.models.registry.build_model")
        model = build(spec)
        if not isinstance(model, torch.nn.Module):
            raise Reply(_error("TypeError", f"build_model returned {type(model).__name__}, not an nn.Module"))
        return model

    def register(self, value: Any) -> dict[str, Any] | None:
        """A model reference for an nn.Module leaving the worker (kept here by handle), else None."""
        if not isinstance(value, torch.nn.Module):
            return None
        handle = next((h for h, known in self.models.items() if known is value), None)
        if handle is None:
            self._next += 1
            handle = self._next
            self.models[handle] = value
        value.eval()
        params = sum(p.numel() for p in torch.nn.Module.parameters(value))
        return {"handle": handle, "params": int(params), "class": type(value).__name__}

    def find_model(self, info: dict[str, Any]) -> torch.nn.Module:
        """The model a reference from the grader names."""
        handle = info.get("handle")
        if handle not in self.models:
            raise Reply(_error("LookupError", f"no model with handle {handle!r} in this worker"))
        return self.models[handle]

    def load_model(self, request: dict[str, Any], tensors: list[torch.Tensor]) -> Any:
        name = str(request["name"])
        if not _MODEL_NAME.match(name):
            raise Missing(f"invalid model name {name!r}", f"models/{name}.pt")
        path = os.path.join(self.root, "models", f"{name}.pt")
        if not os.path.isfile(path):
            raise Missing(f"models/{name}.pt is missing", f"models/{name}.pt")
        try:
            state = torch.load(path, weights_only=True, map_location="cpu")
        except Exception as exc:
            detail = [ln for ln in str(exc).splitlines() if "WeightsUnpickler error" in ln] or [
                str(exc)[:300]
            ]
            message = (
                f"models/{name}.pt is not a plain state_dict (weights_only load failed; save "
                f"model.state_dict(), not the model): {detail[0].strip()}"
            )
            raise Reply(_error("UnpicklingError", message)) from None
        _seed(request.get("seed", 0))
        model = self.guarded("build_model", self._build, request["spec"])  # student __init__ code runs here
        return self._load_into(model, state, f"models/{name}.pt")

    def build_model(self, request: dict[str, Any], tensors: list[torch.Tensor]) -> Any:
        _seed(request.get("seed", 0))
        model = self.guarded("build_model", self._build, request["spec"])
        state = unpack(request.get("payload"), tensors)
        if state is None:
            return model
        return self._load_into(model, state, "the given state_dict")

    def _load_into(self, model: torch.nn.Module, state: Any, what: str) -> torch.nn.Module:
        if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
        ):
            raise Reply(_error("TypeError", f"{what} is not a dict of parameter name -> tensor"))
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise Reply(_error("RuntimeError", f"{what} does not fit the model: {exc}")) from None
        return model

    def model(self, request: dict[str, Any]) -> torch.nn.Module:
        return self.find_model({"handle": request.get("handle")})

    def model_call(self, request: dict[str, Any], tensors: list[torch.Tensor]) -> Any:
        model = self.model(request)
        method = getattr(model, str(request.get("method", "forward")), None)
        if method is None or not callable(method):
            method_name = request.get("method")
            raise Missing(f"{type(model).__name__} has no method {method_name!r}", str(method_name))
        args, kwargs = unpack(request["payload"], tensors, self.find_model)
        batch = request.get("batch_size")
        _seed(request.get("seed", 0))
        # a guarded class's own instance (ConvTranspose2d) has its names armed throughout, other models
        # inside the guarded student functions they run
        target = self.guard.owner(model) or f"{type(model).__name__}.{request.get('method', 'forward')}"
        with torch.no_grad() if request.get("no_grad", True) else contextlib.nullcontext():
            return self.guarded(target, _batched, method, args, kwargs, batch)

    def state_dict(self, request: dict[str, Any], tensors: list[torch.Tensor]) -> Any:
        return {k: v for k, v in self.model(request).state_dict().items()}

    def drop_model(self, request: dict[str, Any], tensors: list[torch.Tensor]) -> Any:
        self.models.pop(request.get("handle"), None)
        return None

    def handle(self, request: dict[str, Any], tensors: list[torch.Tensor]) -> tuple[dict, list]:
        """The reply header and tensors for one request; never raises for student failures."""
        handlers = {
            "ping": lambda r, t: {"pid": os.getpid(), "torch": torch.__version__},
            "call": self.call,
            "load_model": self.load_model,
            "build_model": self.build_model,
            "model_call": self.model_call,
            "state_dict": self.state_dict,
            "drop_model": self.drop_model,
        }
        op = request.get("op")
        if op not in handlers:
            return {"ok": False, "kind": "protocol", "message": f"unknown op {op!r}"}, []
        cpu_s = request.get("cpu_s")
        self.cpu_s = float(cpu_s) if isinstance(cpu_s, int | float) and cpu_s > 0 else 0.0
        self.cpu_expired, self._halfway, self.blamed = False, None, None
        hung.tripped.clear()
        try:
            try:
                if self.cpu_s:  # the limit is CPU time: a busy machine slows the clock, not the verdict
                    signal.setitimer(signal.ITIMER_PROF, self.cpu_s / 2)
                stopped = request.get("hung")
                if isinstance(stopped, dict) and stopped:
                    hung.stub_out(stopped)  # functions that hung earlier fail at once, callers included
                value = handlers[op](request, tensors)
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
                self._halfway = None
            if self.cpu_expired or hung.tripped:
                return self._stopped_reply(), []
            tree, out = pack(value, self.register)
        except ProtocolError as exc:
            return _error("TypeError", f"the result cannot be sent back: {exc}"), []
        except BaseException as exc:
            stopped_early = self.cpu_expired or hung.tripped
            return (self._stopped_reply() if stopped_early else self.failure(exc)), []
        finally:
            _flush()
        return {"ok": True, "value": tree}, out

    def _stopped_reply(self) -> dict[str, Any]:
        """The reply of a request stopped at its CPU limit (naming the function to blame, when one call
        of it used half the time or more), or of one that reached a function stubbed out earlier."""
        if self.cpu_expired:
            reply = _cpu_reply(self.cpu_s)
            return {**reply, "hung": self.blamed} if self.blamed else reply
        return {"ok": False, "kind": "not_run", "message": _short(hung.tripped[0])}


def _cpu_reply(cpu_s: float) -> dict[str, Any]:
    return {"ok": False, "kind": "timeout", "message": f"used {cpu_s:g} s of CPU time without finishing"}


def _batched(method: Any, args: list[Any], kwargs: dict[str, Any], batch: Any) -> Any:
    """`method(*args, **kwargs)`, in chunks of `batch` along the first tensor argument when given."""
    if not batch or not args or not isinstance(args[0], torch.Tensor):
        return method(*args, **kwargs)
    outputs = []
    for start in range(0, args[0].shape[0], int(batch)):
        chunk = [a[start : start + batch] if isinstance(a, torch.Tensor) else a for a in args]
        outputs.append(method(*chunk, **kwargs))
    return _concat(outputs)


def _outcome_reply(target: str, outcome: Outcome) -> dict[str, Any]:
    """The `forbidden` reply: naming the guarded student function the trip happened in, else `target`."""
    if outcome.trip is None:
        return _forbidden(target, None, outcome.tampered)
    return _forbidden(outcome.trip.scope or target, outcome.trip.label, outcome.tampered)


def _forbidden(target: str, tripped: str | None, tampered: str | None) -> dict[str, Any]:
    if tripped:
        return {"ok": False, "kind": "forbidden", "name": tripped, "message": f"{target} called {tripped}"}
    return {"ok": False, "kind": "forbidden", "name": "guard", "message": f"{target}: {tampered}"}


def _error(type_name: str, message: str) -> dict[str, Any]:
    return {
        "ok": False,
        "kind": "error",
        "type": type_name,
        "message": _short(message),
        "not_implemented": False,
    }


def _seed(seed: Any) -> None:
    seed = int(seed) if isinstance(seed, int) else 0
    random.seed(seed)
    torch.manual_seed(seed)


def _concat(outputs: list[Any]) -> Any:
    first = outputs[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(outputs)
    if isinstance(first, tuple | list):
        return type(first)(_concat([o[i] for o in outputs]) for i in range(len(first)))
    raise TypeError(f"cannot join batched outputs of type {type(first).__name__}")


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
