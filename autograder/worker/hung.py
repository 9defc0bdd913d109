"""Student functions the grader no longer waits for.

When one call of a student function runs past its CPU-time limit, the rest of that submission's grading
(later hidden tests, and the notebooks) finds it replaced by a stub that fails at once with `NotRunAgain`,
and so do its callers: an endless loop in `conv_transpose2d` costs one timeout, not one per test case,
per module built on it and per notebook cell.

Which function is to blame: the CPU timer looks at the stack halfway through the limit and again at the
limit; the innermost student function whose *same call* is on both stacks has run for at least half the
limit by itself. A correct function that is merely called many times by a slow caller is never on both
(each call is a new frame), so the caller is blamed instead.

Standard library only, and no imports from the kit: the notebook grader runs this file's source in the
sandboxed kernel (`preamble`) before the notebook's first cell.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from types import FrameType
from typing import Any

NAME = re.compile(r"^exercise_code(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
"""`module:qualname` of a function that can be stubbed out (no `<locals>`, no lambdas)."""
MAX_NAMES = 32

tripped: list[str] = []
"""Messages of the stubs called since the last `tripped.clear()` (the worker checks it after a request:
student code that catches `NotRunAgain` still gets the request marked as not run)."""


class NotRunAgain(BaseException):
    """Raised in place of a student function that ran past its time limit earlier in the grading.
    A BaseException, so the student's own `except Exception` does not turn it into a result."""


def student_frames(frame: FrameType | None, root: str, cache: dict[str, bool]) -> list[FrameType]:
    """The frames of `frame`'s stack (innermost first) running code from a file under `root`."""
    found = []
    while frame is not None:
        filename = frame.f_code.co_filename
        inside = cache.get(filename)
        if inside is None:
            inside = cache[filename] = os.path.realpath(filename).startswith(root + os.sep)
        if inside:
            found.append(frame)
        frame = frame.f_back
    return found


def blame(now: list[FrameType], halfway: list[FrameType]) -> str | None:
    """`module:qualname` of the innermost frame in `now` that was already running `halfway` (the same
    call, not a later one), skipping frames that cannot be stubbed (nested functions, lambdas)."""
    earlier = {id(f) for f in halfway}
    for frame in now:
        if id(frame) not in earlier:
            continue
        name = f"{frame.f_globals.get('__name__', '')}:{frame.f_code.co_qualname}"
        if NAME.match(name):
            return name
    return None


def _stub(message: str) -> Any:
    def not_run_again(*args: Any, **kwargs: Any) -> Any:
        tripped.append(message)
        raise NotRunAgain(message)

    not_run_again.__autograder_stub__ = True  # type: ignore[attr-defined]
    return not_run_again


def stub_out(hung: dict[str, str]) -> list[str]:
    """Replace each `module:qualname` of `hung` by a stub raising NotRunAgain(its message): on its class
    or module, and wherever another `exercise_code` module holds the same object (re-exports, `from .x
    import f`). Names that do not resolve are skipped. Returns the names stubbed out now."""
    done = []
    for name, message in list(hung.items())[:MAX_NAMES]:
        if not (isinstance(name, str) and isinstance(message, str) and NAME.match(name)):
            continue
        module_name, qualname = name.split(":")
        try:
            parent: Any = importlib.import_module(module_name)
            *path, last = qualname.split(".")
            for part in path:
                parent = getattr(parent, part)
            original = vars(parent)[last]
        except Exception:  # the module does not import or the name is gone: nothing can call it either
            continue
        if getattr(original, "__autograder_stub__", False):
            continue
        stub = _stub(message)
        try:
            setattr(parent, last, stub)
        except (AttributeError, TypeError):
            continue
        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").partition(".")[0] != "exercise_code":
                continue
            for key, value in list(vars(module).items()):
                if value is original:
                    setattr(module, key, stub)
        done.append(name)
    return done


def preamble(hung: dict[str, str]) -> str:
    """Code for a notebook kernel that stubs out `hung` there, leaving no names behind."""
    with open(__file__, encoding="utf-8") as handle:
        source = handle.read()
    return (
        "def _autograder_stub_out():\n"
        "    namespace = {'__name__': '_autograder_hung'}\n"
        f"    exec({source!r}, namespace)\n"
        f"    namespace['stub_out']({hung!r})\n"
        "_autograder_stub_out()\n"
        "del _autograder_stub_out\n"
    )
