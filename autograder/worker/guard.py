"""Runtime guard against forbidden torch shortcuts, installed in the worker before any student import.

Two layers, armed only while a guarded request runs (a `call` of a student function, building a student
model, a method call on one): the attribute layer replaces each forbidden callable, wherever torch keeps
the same object (`_ALIAS_HOMES`), by a pass-through wrapper; the dispatcher layer (`dispatch.py`) is a
dispatch mode that sees ops as they reach torch's dispatcher, so `torch.ops.aten.*`,
`torch._C._VariableFunctions`, `torch._C._nn`, `torch.nn.grad.*`, `torch._lowrank.pca_lowrank` and Python
threads started during the call are caught as well. A forbidden op trips when the request's own target
forbids it, or when it runs (anywhere down the Python stack) inside a student function or class named in
forbidden.toml, found by code object, so aliases such as `from exercise_code.layers import
conv_transpose2d as ct` count; a method call on an instance of such a class arms its names throughout.
Undoing a wrapper, taking the dispatch mode off the stack, excluding the Python dispatch key, or flipping
the guard's own switches (armed flag, armed names, the mode's handler) is reported as `tampered` after
the call, and undone.

Not covered (the trusted AST scan and grading outside the sandbox are the other lines): in a model, a
guarded class used as a submodule whose forward is torch's own (a subclass of nn.ConvTranspose2d) or a
plain function set on the instance runs no student frame and is not caught; code in the same process can
reach the originals through the wrappers' closures, `gc` or ctypes, edit the guard's other objects (its
rule cache, its trip list), pop the dispatch mode and push it back within one call (or run under
`torch._C._DisableTorchDispatch()` or `_disable_current_modes()`), call kernels from C extensions, or
compute in a forked process.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .dispatch import DispatchGuard
from .state import ForbiddenTrip, GuardState, StudentScopes, Trip

__all__ = ["ForbiddenTrip", "Guard", "GuardState", "Outcome", "Trip"]

_ALIAS_HOMES = (
    "torch",
    "torch.nn.functional",
    "torch._C._VariableFunctions",
    "torch._C._nn",
    "torch.nn.grad",
)
"""Namespaces where torch keeps second references to the same builtin (e.g. F.conv_transpose2d)."""


@dataclass
class _Patch:
    owner: Any
    attr: str
    original: Any
    wrapper: Any


@dataclass(frozen=True)
class Outcome:
    """How a guarded call went: the first forbidden use and any tampering with the guard."""

    trip: Trip | None
    tampered: str | None


def _object(dotted: str) -> Any:
    """The object a dotted name points to (a module or an attribute of one)."""
    try:
        return importlib.import_module(dotted)
    except ImportError:
        return _resolve(dotted)[2]


def _resolve(dotted: str) -> tuple[Any, str, Any]:
    """(owner, attribute, object) of a dotted name such as `torch.nn.functional.conv_transpose2d`."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:-1]:
            owner = getattr(owner, attr)
        return owner, parts[-1], getattr(owner, parts[-1])
    raise LookupError(f"cannot resolve {dotted!r}")


def _members(home: Any) -> list[tuple[str, Any]]:
    """Attributes of a module or class without triggering lazy imports (dir() only without __dict__)."""
    members = getattr(home, "__dict__", None)
    if members is not None:
        return list(members.items())
    found = []
    for key in dir(home):
        try:
            found.append((key, getattr(home, key)))
        except Exception:
            continue
    return found


class Guard:
    """Wrappers for a fixed set of forbidden names; `activate(names)` arms some of them for one call.

    `enable_dispatch()` adds the dispatcher layer and `watch(targets, root)` the student functions whose
    names trip inside them; the worker does both, a bare Guard is the attribute layer alone.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self.names = sorted(set(names))
        self.state = GuardState()
        self.patches: list[_Patch] = []
        self._wrappers: dict[int, Any] = {}
        self._originals: dict[int, Any] = {}
        self.dispatch: DispatchGuard | None = None
        self._expected: tuple[Any, ...] = (self.state.active, None, self.state.tripped)
        """What `activate` set (armed names, scopes, trip list), checked by `finish`."""
        self.unresolved: list[str] = []
        for name in self.names:
            try:
                owner, attr, obj = _resolve(name)
            except (LookupError, AttributeError):
                self.unresolved.append(name)
                continue
            if getattr(obj, "__autograder_guard__", None) is not None:
                obj.__autograder_guard__.add(name)  # an alias of a callable wrapped already
            elif isinstance(obj, type):
                for method in ("__init__", "forward"):
                    if method in vars(obj):
                        self._patch(obj, method, vars(obj)[method], name)
            else:
                self._patch_everywhere(owner, attr, obj, name)

    def _wrap(self, original: Any, name: str) -> Any:
        if id(original) in self._wrappers:  # one object, several forbidden names (F.x is torch.x)
            wrapper = self._wrappers[id(original)]
            wrapper.__autograder_guard__.add(name)
            return wrapper
        state = self.state
        names = {name}

        @functools.wraps(original)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if state.armed:
                trip = state.hit(names)
                if trip is not None:
                    raise ForbiddenTrip(trip.label)
            return original(*args, **kwargs)

        del guarded.__wrapped__  # no one-attribute way back to the original
        guarded.__autograder_guard__ = names  # type: ignore[attr-defined]
        self._wrappers[id(original)] = guarded
        self._originals[id(guarded)] = original
        return guarded

    def _patch(self, owner: Any, attr: str, original: Any, name: str) -> None:
        if getattr(original, "__autograder_guard__", None) is not None:
            original.__autograder_guard__.add(name)  # already wrapped under another name
            return
        wrapper = self._wrap(original, name)
        try:
            setattr(owner, attr, wrapper)
        except (AttributeError, TypeError):
            return
        self.patches.append(_Patch(owner, attr, original, wrapper))

    def _patch_everywhere(self, owner: Any, attr: str, obj: Any, name: str) -> None:
        homes = [owner]
        for home in _ALIAS_HOMES:
            try:
                homes.append(_object(home))
            except (LookupError, AttributeError):
                continue
        done: set[tuple[int, str]] = set()
        for home in homes:
            for key, value in _members(home):
                if value is obj and (id(home), key) not in done:
                    done.add((id(home), key))
                    self._patch(home, key, obj, name)

    def original(self, dotted: str) -> Any:
        """What `dotted` pointed to before the guard wrapped it."""
        obj = _resolve(dotted)[2]
        return self._originals.get(id(obj), obj)

    def enable_dispatch(self) -> None:
        """Add the dispatcher layer for this guard's names (pushed on torch's mode stack only while armed)."""
        if self.dispatch is None:
            self.dispatch = DispatchGuard(self.state, self.names, self.original)

    def watch(self, targets: Mapping[str, Iterable[str]], root: str) -> None:
        """Guard student code too: `targets` maps a student function or class (`exercise_code.layers.
        conv_transpose2d`) to the names forbidden inside it, in any armed call; `root` is the submission."""
        self.state.scopes = StudentScopes({k: tuple(dict.fromkeys(v)) for k, v in targets.items()}, root)

    def owner(self, instance: Any) -> str | None:
        """The watched student class (forbidden.toml key) `instance` is an instance of, else None."""
        return self.state.scopes.owner(instance) if self.state.scopes is not None else None

    def activate(self, names: Iterable[str] = ()) -> None:
        """Arm `names` (the ones forbidden for the call about to run) and every watched student function's
        names inside it; clear earlier trips."""
        self.state.active = tuple(dict.fromkeys(names))
        self.state.tripped.clear()
        if self.state.scopes is not None:
            self.state.scopes.refresh(force=True)
        self._expected = (self.state.active, self.state.scopes, self.state.tripped)
        self.state.armed = True
        if self.dispatch is not None:
            self.dispatch.arm()

    def finish(self) -> Outcome:
        """Disarm; the first forbidden use and any tampering (each None when clean).

        Wrappers replaced during the call are put back and the dispatch mode is popped, so the next call
        is guarded again.
        """
        state = self.state
        now = (state.active, state.scopes, state.tripped)
        intact = state.armed and all(a is b for a, b in zip(self._expected, now, strict=True))
        self.state.armed = False
        tampered = self.dispatch.disarm() if self.dispatch is not None else None
        if not intact:
            tampered = "the guard's own state was changed during the call"
        armed = set(self.state.active)
        if self.state.scopes is not None:
            for _, scope in self.state.scopes.codes.values():
                armed.update(scope.names)
        self.state.active = ()
        for patch in self.patches:
            if getattr(patch.owner, patch.attr, None) is patch.wrapper:
                continue
            names = patch.wrapper.__autograder_guard__ & armed
            if names and tampered is None:
                tampered = f"{min(names)} was replaced while the guard was active"
            try:
                setattr(patch.owner, patch.attr, patch.wrapper)
            except (AttributeError, TypeError):
                pass
        trip = self.state.tripped[0] if self.state.tripped else None
        self.state.tripped.clear()
        return Outcome(trip, tampered)

    def deactivate(self) -> tuple[str | None, str | None]:
        """`finish()` as (first tripped name, tampering description), each None when clean."""
        outcome = self.finish()
        return (outcome.trip.label if outcome.trip else None), outcome.tampered

    def uninstall(self) -> None:
        """Put every original back (the worker never does this; tests and tools do)."""
        if self.state.armed:
            self.finish()
        if self.dispatch is not None:
            self.dispatch.uninstall()
        for patch in reversed(self.patches):
            try:
                setattr(patch.owner, patch.attr, patch.original)
            except (AttributeError, TypeError):
                pass
        self.patches.clear()
