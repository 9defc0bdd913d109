"""Training budgets are work (epochs, steps), not wall-clock seconds: a busy machine ends with the same model.

Two halves: `fit` does the same steps with the same learning rates and ends with the same weights whatever
the clock does (frozen, racing, a load spike), and notebooks 3 and 4 give every training run a budget of
epochs or steps, with `max_seconds` only as their large `guard_s` safety net.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import exercise_code.training as training
from exercise_code.config import CONFIG
from exercise_code.training import Schedule, Task, TrainConfig, fit, lr_factor, make_loader, planned_steps

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
BUDGETED_NOTEBOOKS = ("02_patch_segmentation.py", "03_fcn.py", "04_autoencoders.py")
GUARD = 1000.0
"""The safety net of the `fit` runs below: never reached by the clocks they run under."""
MIN_GUARD_S = {"fast": 30.0, "cuda": 600.0, "cpu": 600.0}
"""Smallest safety net a notebook may set per mode: many times what its runs take on an idle machine."""
CLOCK_FUNCTIONS = ("perf_counter", "monotonic", "time", "process_time")
STEPS = 24
"""Steps of the runs below: 3 epochs of 8 batches."""


def _ticking(tick: float, spike: float = 0.0) -> Callable[[], float]:
    """A clock that advances `tick` seconds per reading, plus `spike` seconds once, at its second reading
    (inside the first training step: a load spike that passes and leaves the rest of the run normal)."""
    state = {"now": 1000.0, "reads": 0}

    def read() -> float:
        state["reads"] += 1
        state["now"] += tick + (spike if state["reads"] == 2 else 0.0)
        return state["now"]

    return read


CLOCKS = {
    "frozen": lambda: _ticking(0.0),
    "slow machine (10 s a reading)": lambda: _ticking(10.0),
    "load spike (0.9 of the safety net)": lambda: _ticking(1e-3, spike=0.9 * GUARD),
}


def _patch_clock(mp: pytest.MonkeyPatch, clock: Callable[[], float]) -> None:
    """Every clock the training module could read: the `time` module's functions and names it imported."""
    for name in CLOCK_FUNCTIONS:
        mp.setattr(time, name, clock)
        if callable(getattr(training, name, None)):
            mp.setattr(training, name, clock)


def _run(clock: Callable[[], float] | None) -> tuple[training.History, list[float], dict[str, torch.Tensor]]:
    """A short one-cycle run (3 epochs of 8 steps) with a safety net; returns its History, lrs and weights."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 6, generator=g)
    data = TensorDataset(x, (x[:, 0] > 0).long() + (x[:, 1] > 1).long())
    loader = make_loader(data, 8, shuffle=True, seed=2)  # 8 batches per epoch
    config = TrainConfig(
        Task.CLASSIFICATION,
        epochs=3,
        lr=0.05,
        scheduler=Schedule.ONECYCLE,
        max_seconds=GUARD,
        seed=3,
        progress=False,
    )
    lrs: list[float] = []
    adam_step = torch.optim.Adam.step

    def spying_step(self, *args, **kwargs):
        lrs.append(self.param_groups[0]["lr"])
        return adam_step(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.optim.Adam, "step", spying_step)
        if clock is not None:
            _patch_clock(mp, clock)
        history = fit(model, loader, None, config)
    assert planned_steps(config, len(loader)) == STEPS
    return history, lrs, {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("clock", list(CLOCKS), ids=list(CLOCKS))
def test_fit_does_the_same_work_whatever_the_clock(clock: str) -> None:
    reference, reference_lrs, reference_weights = _run(None)
    history, lrs, weights = _run(CLOCKS[clock]())
    assert len(reference_lrs) == len(lrs) == STEPS and not history.stopped_early
    want = [0.05 * lr_factor(Schedule.ONECYCLE, i / STEPS) for i in range(STEPS)]
    assert reference_lrs == pytest.approx(want, rel=1e-12)
    assert lrs == reference_lrs, "the learning-rate schedule followed the clock, not the steps"
    torch.testing.assert_close(weights, reference_weights, rtol=0, atol=0)


def test_the_safety_net_stops_a_run_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.MonkeyPatch.context() as mp:
        _patch_clock(mp, _ticking(0.4 * GUARD))  # passes the net at the 4th reading: after the 3rd step
        history, lrs, _ = _run(None)
    assert history.out_of_time and history.stopped_early and history.steps == len(lrs) == 3
    assert lrs == pytest.approx([0.05 * lr_factor(Schedule.ONECYCLE, i / STEPS) for i in range(3)], rel=1e-12)
    assert f"safety net after 3 of {STEPS} steps" in caplog.text


# notebooks -------------------------------------------------------------------------------------------------
def _assigns_run(node: ast.AST) -> bool:
    """True for a statement that contains `RUN = ...`."""
    return any(
        isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "RUN" for t in n.targets)
        for n in ast.walk(node)
    )


def _settings_block(tree: ast.Module) -> ast.If:
    """The top-level `if FAST: RUN = ... elif ...: RUN = ... else: RUN = ...` statement."""
    for node in tree.body:
        if isinstance(node, ast.If) and _assigns_run(node):
            return node
    raise AssertionError("no `if FAST: RUN = dict(...)` settings block found")


def _settings(tree: ast.Module, mode: str) -> dict:
    """RUN as the settings block sets it in `mode` (fast, cuda or cpu)."""
    block = ast.Module(body=[_settings_block(tree)], type_ignores=[])
    namespace = {"FAST": mode == "fast", "device": SimpleNamespace(type=mode), "CONFIG": CONFIG}
    exec(compile(block, "<settings>", "exec"), namespace)
    return namespace["RUN"]


def _is_guard(node: ast.expr) -> bool:
    """True for the expression `RUN["guard_s"]`."""
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id == "RUN"
        and isinstance(node.slice, ast.Constant)
        and node.slice.value == "guard_s"
    )


def wall_clock_budgets(source: str) -> Iterator[str]:
    """Every way `source` (a notebook's percent script) lets the clock decide how long a run trains."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "TrainConfig":
            for keyword in node.keywords:
                if keyword.arg == "max_seconds" and not _is_guard(keyword.value):
                    yield (
                        f"line {node.lineno}: TrainConfig(max_seconds={ast.unparse(keyword.value)}) is a "
                        'wall-clock budget; give epochs or max_steps, and max_seconds=RUN["guard_s"]'
                    )
    for mode, least in MIN_GUARD_S.items():
        run = _settings(tree, mode)
        for key in run:
            if key != "guard_s" and ("second" in key or key.endswith("_s")):
                yield f"{mode} settings: RUN[{key!r}] = {run[key]!r} looks like a time budget"
        guard = run.get("guard_s")
        if guard is not None and guard < least:
            yield f"{mode} settings: RUN['guard_s'] = {guard!r} is no safety net (at least {least:g} s)"


@pytest.mark.parametrize("name", BUDGETED_NOTEBOOKS)
def test_notebook_budgets_are_work_not_seconds(name: str) -> None:
    problems = list(wall_clock_budgets((NOTEBOOKS / name).read_text()))
    assert not problems, "\n".join(problems)


OLD_STYLE = """
if FAST:
    RUN = dict(epochs=1, max_seconds=1.5, guard_s=60)
else:
    RUN = dict(epochs=25, guard_s=5)
config = TrainConfig(task=task, epochs=RUN["epochs"], max_seconds=RUN["max_seconds"])
config = TrainConfig(task=task, epochs=RUN["epochs"], max_seconds=seconds)
"""


def test_the_notebook_check_finds_wall_clock_budgets() -> None:
    problems = list(wall_clock_budgets(OLD_STYLE))
    assert sum("is a wall-clock budget" in p for p in problems) == 2, problems
    assert "fast settings: RUN['max_seconds'] = 1.5 looks like a time budget" in problems
    assert sum("RUN['guard_s'] = 5 is no safety net" in p for p in problems) == 2, problems  # cuda and cpu
