"""Runtime guard against forbidden torch shortcuts, installed in the worker before any student import.

Every forbidden callable is replaced, wherever torch exposes the same object, by a pass-through wrapper;
a wrapper trips only while a guarded call is active. Limits (documented, not hidden): code in the same
process can still reach the ops through `torch.ops.aten`, `torch._C._VariableFunctions` (an immutable
C type), closures of the wrappers, ctypes or C extensions, and can undo the wrappers; undoing is
detected after each call (`tampered`), the rest is left to the trusted AST scan and to the fact that
every grade is computed outside the sandbox.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_ALIAS_HOMES = (
    "torch",
    "torch.nn.functional",
    "torch._C._VariableFunctions",
    "torch._C._nn",
    "torch.nn.grad",
)
"""Namespaces where torch keeps second references to the same builtin (e.g. F.conv_transpose2d)."""


class ForbiddenTrip(BaseException):  # noqa: N818 - BaseException so `except Exception` cannot hide it
    """Raised inside student code when it calls a forbidden callable during a guarded call."""


@dataclass
class _Patch:
    owner: Any
    attr: str
    original: Any
    wrapper: Any


@dataclass
class GuardState:
    """Which names trip right now, and what tripped."""

    active: frozenset[str] = frozenset()
    tripped: list[str] = field(default_factory=list)


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
        except Exception:  # noqa: BLE001 - odd attributes of C objects
            continue
    return found


class Guard:
    """Wrappers for a fixed set of forbidden names; `activate(names)` arms some of them for one call."""

    def __init__(self, names: Iterable[str]) -> None:
        self.state = GuardState()
        self.patches: list[_Patch] = []
        self._wrappers: dict[int, Any] = {}
        self.unresolved: list[str] = []
        for name in sorted(set(names)):
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
            hit = names & state.active
            if hit:
                state.tripped.append(min(hit))
                raise ForbiddenTrip(min(hit))
            return original(*args, **kwargs)

        del guarded.__wrapped__  # no one-attribute way back to the original
        guarded.__autograder_guard__ = names  # type: ignore[attr-defined]
        self._wrappers[id(original)] = guarded
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

    def activate(self, names: Iterable[str]) -> None:
        """Arm `names` (the ones forbidden for the call about to run) and clear earlier trips."""
        self.state.active = frozenset(names)
        self.state.tripped.clear()

    def deactivate(self) -> tuple[str | None, str | None]:
        """Disarm; returns (first tripped name, tampering description), each None when clean.

        Wrappers replaced during the call are put back, so the next call is guarded again.
        """
        armed = self.state.active
        self.state.active = frozenset()
        tampered = None
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
        tripped = self.state.tripped[0] if self.state.tripped else None
        self.state.tripped.clear()
        return tripped, tampered

    def uninstall(self) -> None:
        """Put every original back (the worker never does this; tests and tools do)."""
        self.state.active = frozenset()
        for patch in reversed(self.patches):
            try:
                setattr(patch.owner, patch.attr, patch.original)
            except (AttributeError, TypeError):
                pass
        self.patches.clear()
