"""Dispatcher half of the forbidden-shortcut guard: a TorchDispatchMode, on torch's mode stack only while
a guarded call runs, that sees every op as it reaches the dispatcher (`torch.ops.aten.*`,
`torch._C._VariableFunctions.*` and `torch.nn.grad.*` included) and trips on the ops a forbidden name
stands for, as listed in `ATEN_RULES`. Threads started during a guarded call get the mode too.
"""

from __future__ import annotations

import _thread
import re
import sys
import threading
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from .state import ForbiddenTrip, GuardState

_len_stack = torch._C._len_torch_dispatch_stack
_stack_at = torch._C._get_dispatch_stack_at
_push = torch._C._push_on_torch_dispatch_stack
_pop = torch._C._pop_torch_dispatch_stack
_excluded = torch._C._dispatch_tls_is_dispatch_key_excluded
_set_excluded = torch._C._dispatch_tls_set_dispatch_key_excluded
_PYTHON_KEY = torch._C.DispatchKey.Python
# Taken when the worker imports this module, before any student import: replacing them in torch._C later
# does not blind the checks below.


_THREAD_STARTERS = (
    (_thread, "start_new_thread"),
    (_thread, "start_new"),
    (_thread, "start_joinable_thread"),
    (threading, "_start_new_thread"),
    (threading, "_start_joinable_thread"),
)
"""Where Python threads begin (the names differ between Python versions; absent ones are skipped)."""


@dataclass(frozen=True)
class AtenRule:
    """The dispatcher ops that one forbidden torch callable reaches torch's dispatcher as."""

    ops: str
    """Regex searched in the op's name without namespace or overload (`convolution`, `upsample_nearest2d`)."""
    transposed: bool = False
    """Also match ops with a `transposed` argument (aten.convolution, aten._convolution) when it is True."""
    inside: str | None = None
    """Match only while this pure-Python torch function runs (its code on the Python stack): for a shortcut
    with no op of its own, such as torch.pca_lowrank (an SVD, which students may call themselves)."""


_TRANSPOSED_CONV = AtenRule(r"conv.*(transpose|backward)", transposed=True)
"""A transposed convolution, or the backward of any convolution (torch.nn.grad.conv2d_input is that adjoint,
as is autograd through F.conv2d). aten.convolution with transposed=False stays allowed: F.conv2d on a
zero-inserted input with a flipped kernel is a legitimate route to conv_transpose2d."""
_ANY_CONV = AtenRule(r"conv(?!ert)")
"""Every convolution op, forward or backward, any backend (`_convert_*` ops are no convolution)."""
_CONV_BACKWARD = AtenRule(r"conv.*backward")
_UPSAMPLE = AtenRule(r"^_?upsample")
_MAX_UNPOOL = AtenRule(r"^max_unpool")

ATEN_RULES: dict[str, AtenRule] = {
    "torch.nn.functional.conv_transpose2d": _TRANSPOSED_CONV,
    "torch.nn.functional.conv_transpose1d": _TRANSPOSED_CONV,
    "torch.nn.ConvTranspose2d": _TRANSPOSED_CONV,
    "torch.nn.ConvTranspose1d": _TRANSPOSED_CONV,
    "torch.conv_transpose2d": _TRANSPOSED_CONV,
    "torch.conv_transpose1d": _TRANSPOSED_CONV,
    "torch.nn.grad.conv2d_input": _TRANSPOSED_CONV,
    "torch.convolution": _TRANSPOSED_CONV,  # with transposed=False it is F.conv2d, forbidden by that name
    "torch.nn.functional.conv1d": _ANY_CONV,
    "torch.nn.functional.conv2d": _ANY_CONV,
    "torch.nn.Conv1d": _ANY_CONV,
    "torch.nn.Conv2d": _ANY_CONV,
    "torch.conv1d": _ANY_CONV,
    "torch.conv2d": _ANY_CONV,
    "torch.nn.grad.conv2d_weight": _CONV_BACKWARD,
    "torch.nn.functional.interpolate": _UPSAMPLE,
    "torch.nn.functional.upsample": _UPSAMPLE,
    "torch.nn.functional.upsample_nearest": _UPSAMPLE,
    "torch.nn.functional.upsample_bilinear": _UPSAMPLE,
    "torch.nn.Upsample": _UPSAMPLE,
    "torch.nn.UpsamplingNearest2d": _UPSAMPLE,
    "torch.nn.UpsamplingBilinear2d": _UPSAMPLE,
    "torch.nn.functional.max_unpool2d": _MAX_UNPOOL,
    "torch.nn.MaxUnpool2d": _MAX_UNPOOL,
    "torch.max_unpool2d": _MAX_UNPOOL,  # gone from the torch namespace; torch.ops.aten.max_unpool2d is not
    "torch.pca_lowrank": AtenRule(r"svd", inside="torch._lowrank.pca_lowrank"),
}
"""Forbidden name (as forbidden.toml spells it) -> the ops it reaches the dispatcher as, checked in
tests/test_forbidden.py against torch on CPU. Names missing here are left to the attribute layer."""


@dataclass(frozen=True)
class _Candidate:
    """A rule that may match one particular op; `transposed` is the index of that op's argument to read."""

    name: str
    by_name: bool
    transposed: int | None
    inside: types.CodeType | None


def _transposed(args: tuple[Any, ...], kwargs: dict[str, Any], index: int) -> bool:
    value = args[index] if len(args) > index else kwargs.get("transposed", False)
    return bool(value)


def _on_stack(code: types.CodeType) -> bool:
    frame: types.FrameType | None = sys._getframe(2)
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False


class DispatchGuard(TorchDispatchMode):
    """The mode: built once for the guard's forbidden names, pushed by `arm`, popped by `disarm`."""

    def __init__(self, state: GuardState, names: Iterable[str], resolve: Callable[[str], Any]) -> None:
        """`resolve(dotted)` gives the original torch function a dotted name points to (for `inside`)."""
        super().__init__()
        self.state = state
        self.rules: list[tuple[str, AtenRule, types.CodeType | None]] = []
        self.uncovered: list[str] = []
        """Forbidden names with no rule here (the attribute layer still guards their Python names)."""
        for name in sorted(set(names)):
            rule = ATEN_RULES.get(name)
            if rule is None:
                self.uncovered.append(name)
                continue
            inside = None
            if rule.inside is not None:
                try:
                    inside = getattr(resolve(rule.inside), "__code__", None)
                except (LookupError, AttributeError):
                    inside = None
                if inside is None:
                    self.uncovered.append(name)
                    continue
            self.rules.append((name, rule, inside))
        self._candidates: dict[Any, tuple[_Candidate, ...]] = {}
        self._depth = -1
        self._thread_hooks: list[tuple[Any, str, Any, Any]] = []
        hooks: dict[int, Any] = {}
        for owner, attr in _THREAD_STARTERS:
            original = getattr(owner, attr, None)
            if original is not None:
                hook = hooks.setdefault(id(original), self._thread_hook(original))
                self._thread_hooks.append((owner, attr, original, hook))
                setattr(owner, attr, hook)

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        """No torch.compile wrapper around `__torch_dispatch__`: it doubled the cost of every op."""
        return False

    def _learn(self, func: Any) -> tuple[_Candidate, ...]:
        """The rules that may match `func` (an OpOverload), worked out once per op."""
        schema = func._schema
        opname = schema.name.split("::")[-1]
        arguments = [a.name for a in schema.arguments]
        index = arguments.index("transposed") if "transposed" in arguments else None
        found = []
        for name, rule, inside in self.rules:
            by_name = re.search(rule.ops, opname) is not None
            transposed = index if rule.transposed and not by_name else None
            if by_name or transposed is not None:
                found.append(_Candidate(name, by_name, transposed, inside))
        self._candidates[func] = tuple(found)
        return self._candidates[func]

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        candidates = self._candidates.get(func)
        if candidates is None:
            candidates = self._learn(func)
        if candidates and self.state.armed:
            names = {
                c.name
                for c in candidates
                if (c.by_name or _transposed(args, kwargs, c.transposed))  # type: ignore[arg-type]
                and (c.inside is None or _on_stack(c.inside))
            }
            trip = self.state.hit(names, str(func)) if names else None
            if trip is not None:
                raise ForbiddenTrip(trip.label)
        return func(*args, **kwargs)

    def _thread_hook(self, start: Any) -> Any:
        """`start` (a `_thread` thread starter) whose threads, when started while armed, run under the
        mode and inside the guarded student functions their starter is in."""

        def hooked(function: Any, *args: Any, **kwargs: Any) -> Any:
            if self.state.armed:
                function = self._in_thread(function, self.state.scopes_here())
            return start(function, *args, **kwargs)

        return hooked

    def _in_thread(self, function: Any, inherited: list[Any]) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            self.state.local.inherited = inherited
            depth = _len_stack()
            _push(self)
            try:
                return function(*args, **kwargs)
            finally:
                while _len_stack() > depth:
                    _pop(None)
                self.state.local.inherited = ()

        return run

    def uninstall(self) -> None:
        """Put the thread starters back (tests and tools; the worker never does this)."""
        for owner, attr, original, _ in reversed(self._thread_hooks):
            setattr(owner, attr, original)
        self._thread_hooks.clear()

    def arm(self) -> None:
        """Push the mode (on top of whatever is there)."""
        self._depth = _len_stack()
        _push(self)

    def disarm(self) -> str | None:
        """Pop the mode and anything pushed above it; a description when it was not where `arm` put it
        or when the Python dispatch key was switched off (both undone here), else None."""
        if self._depth < 0:
            return None
        tampered = None
        if _excluded(_PYTHON_KEY):
            _set_excluded(_PYTHON_KEY, False)
            tampered = "torch's Python dispatch key was left excluded"
        depth, self._depth = self._depth, -1
        if _len_stack() <= depth or _stack_at(depth) is not self:
            tampered = "the dispatcher guard was removed from torch's dispatch mode stack"
        if vars(type(self)).get("__torch_dispatch__") is not _HANDLER or "__torch_dispatch__" in vars(self):
            tampered = "the dispatcher guard's handler was replaced"
            vars(self).pop("__torch_dispatch__", None)
            type(self).__torch_dispatch__ = _HANDLER  # type: ignore[method-assign]
        while _len_stack() > depth:
            _pop(None)
        for owner, attr, _, hook in self._thread_hooks:
            setattr(owner, attr, hook)  # in case the call replaced one
        return tampered


_HANDLER = vars(DispatchGuard)["__torch_dispatch__"]
"""The handler as defined, to notice a call that replaced it."""
