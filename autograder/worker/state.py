"""What the forbidden-shortcut guard knows while a call runs: the armed names, the guarded student code
(code objects found in imported student modules, without running any code), and what tripped.
"""

from __future__ import annotations

import os
import sys
import threading
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class ForbiddenTrip(BaseException):
    """Raised inside student code when it calls a forbidden callable during a guarded call."""


@dataclass(frozen=True)
class Trip:
    """One forbidden use: which name, reached through which dispatcher op, inside which student function."""

    name: str
    """The forbidden callable as forbidden.toml spells it (`torch.nn.functional.conv_transpose2d`)."""
    op: str | None = None
    """The op as it reached torch's dispatcher (`aten.convolution.default`); None for the attribute layer."""
    scope: str | None = None
    """The guarded student function it ran inside; None when the call's own target forbids it."""

    @property
    def label(self) -> str:
        """`torch.conv_transpose2d (as aten.convolution.default)`, or just the name."""
        return f"{self.name} (as {self.op})" if self.op else self.name


@dataclass(frozen=True)
class Scope:
    """A guarded student function (forbidden.toml key) and the names forbidden inside it."""

    target: str
    names: tuple[str, ...]
    """In forbidden.toml's order: a trip reports the first one the op stands for."""


def _statically(dotted: str) -> Any:
    """The object `dotted` names in modules imported already, read from `__dict__`s (no student code runs);
    None when some part is not there yet."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        obj = sys.modules.get(".".join(parts[:cut]))
        if obj is None:
            continue
        for attr in parts[cut:]:
            if not isinstance(obj, types.ModuleType | type):
                return None
            obj = vars(obj).get(attr)
        return obj
    return None


def _functions(obj: Any) -> list[Any]:
    """The plain functions behind a function or class (methods of the class and of its bases)."""
    if not isinstance(obj, type):
        return [obj]
    found = []
    for klass in obj.__mro__:
        for value in vars(klass).values():
            if isinstance(value, staticmethod | classmethod):
                found.append(value.__func__)
            elif isinstance(value, property):
                found.extend(f for f in (value.fget, value.fset, value.fdel) if f is not None)
            else:
                found.append(value)
    return found


def _nested(code: types.CodeType) -> list[types.CodeType]:
    """`code` and the code of functions, lambdas and comprehensions defined inside it."""
    codes, todo = [], [code]
    while todo:
        current = todo.pop()
        codes.append(current)
        todo.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return codes


class StudentScopes:
    """forbidden.toml keys resolved to the code objects of the student's own functions and methods.

    Only code from files under `root` counts (a key bound to a torch callable, or a class's inherited
    nn.Module methods, guard nothing). Decorated functions count by the innermost `__wrapped__`.
    """

    def __init__(self, targets: Mapping[str, tuple[str, ...]], root: str) -> None:
        self.targets = dict(targets)
        self.root = os.path.realpath(root) + os.sep
        self.codes: dict[int, tuple[types.CodeType, Scope]] = {}
        """id(code) -> (the code, kept alive so its id stays unique; its scope)."""
        self._files: dict[str, bool] = {}
        self._modules_seen = -1
        self._resolved: dict[str, Any] = {}
        """target -> the object last found for it (each is looked through once)."""

    def _student(self, code: types.CodeType) -> bool:
        inside = self._files.get(code.co_filename)
        if inside is None:
            inside = os.path.realpath(code.co_filename).startswith(self.root)
            self._files[code.co_filename] = inside
        return inside

    def owner(self, instance: Any) -> str | None:
        """The key of the guarded class `instance` is an instance of (the student's class, or whatever
        the key is bound to, such as an alias of torch's own), else None."""
        self.refresh()
        return next(
            (t for t, obj in self._resolved.items() if isinstance(obj, type) and isinstance(instance, obj)),
            None,
        )

    def refresh(self, *, force: bool = False) -> None:
        """Add the code of keys whose module has been imported since the last look."""
        if not force and len(sys.modules) == self._modules_seen:
            return
        self._modules_seen = len(sys.modules)
        for target, names in self.targets.items():
            obj = _statically(target)
            if obj is None or self._resolved.get(target) is obj:
                continue
            self._resolved[target] = obj
            scope = Scope(target, names)
            for fn in _functions(obj):
                while isinstance(fn, types.FunctionType) and "__wrapped__" in fn.__dict__:
                    fn = fn.__dict__["__wrapped__"]
                if isinstance(fn, types.FunctionType) and self._student(fn.__code__):
                    for code in _nested(fn.__code__):
                        self.codes.setdefault(id(code), (code, scope))


@dataclass
class GuardState:
    """Which names trip right now (for the call's target: anywhere; for guarded student code: inside it),
    and what tripped."""

    active: tuple[str, ...] = ()
    """The names the running call's target forbids, in forbidden.toml's order."""
    armed: bool = False
    tripped: list[Trip] = field(default_factory=list)
    scopes: StudentScopes | None = None
    local: threading.local = field(default_factory=threading.local)
    """`inherited`: in a thread started during a guarded call, the scopes its starter was inside."""

    def hit(self, names: frozenset[str] | set[str], op: str | None = None) -> Trip | None:
        """Record and return a Trip when one of `names` (the forbidden names the code running now stands
        for) is armed here, else None."""
        if not self.armed:
            return None
        direct = next((n for n in self.active if n in names), None)
        trip = Trip(direct, op) if direct else self._scoped(names, op)
        if trip is not None:
            self.tripped.append(trip)
        return trip

    def _scoped(self, names: frozenset[str] | set[str], op: str | None) -> Trip | None:
        """The innermost guarded student function on the Python stack (or its thread's starter's) that
        forbids one of `names`."""
        for scope in [*self.scopes_here(sys._getframe(2)), *getattr(self.local, "inherited", ())]:
            hit = next((n for n in scope.names if n in names), None)
            if hit:
                return Trip(hit, op, scope.target)
        return None

    def scopes_here(self, frame: types.FrameType | None = None) -> list[Scope]:
        """The guarded student functions running on the Python stack from `frame` (default: the caller's)
        outwards, innermost first."""
        if self.scopes is None:
            return []
        self.scopes.refresh()
        codes = self.scopes.codes
        frame = frame if frame is not None else sys._getframe(1)
        found = []
        while frame is not None:
            entry = codes.get(id(frame.f_code))
            if entry is not None and entry[0] is frame.f_code:
                found.append(entry[1])
            frame = frame.f_back
        return found
