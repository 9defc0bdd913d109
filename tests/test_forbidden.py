"""The forbidden-shortcut rule: the runtime guard's dispatcher layer, its scopes in student code and model
calls (in-process, no sandbox), and the AST scan reading the file Python imports."""

from __future__ import annotations

import importlib
import importlib.util
import py_compile
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from grading_helpers import LEGIT_CONV_T, write_tree
from torch import nn

from autograder.grading.forbidden import AMBIGUOUS, load_forbidden, scan_function
from autograder.worker import protocol
from autograder.worker.dispatch import ATEN_RULES
from autograder.worker.guard import ForbiddenTrip, Guard, Outcome
from autograder.worker.ops import Reply, Worker

REPO = Path(__file__).resolve().parent.parent
RULES = load_forbidden(REPO / "autograder" / "hidden" / "forbidden.toml")
NAMES = sorted({name for names in RULES.values() for name in names})
LAYERS = "exercise_code.layers"
CT = f"{LAYERS}.conv_transpose2d"
CONV_T_TARGETS = [
    f"{LAYERS}.conv_transpose2d",
    f"{LAYERS}.conv_transpose2d_loops",
    f"{LAYERS}.ConvTranspose2d",
]
NEAREST, BILINEAR, MATRIX2D = (
    f"{LAYERS}.nearest_unpool2d",
    f"{LAYERS}.bilinear_kernel",
    f"{LAYERS}.conv2d_as_matrix",
)


def _tensors() -> SimpleNamespace:
    """Small inputs for every route below (seeded here, so each test gets the same ones)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 2, 5, 5, generator=g)  # (N, C_in, H, W)
    pooled, indices = F.max_pool2d(torch.randn(1, 2, 4, 4, generator=g), 2, return_indices=True)
    return SimpleNamespace(
        x=x,
        w=torch.randn(3, 2, 3, 3, generator=g),  # conv2d weight (C_out, C_in, kH, kW)
        wt=torch.randn(2, 3, 3, 3, generator=g),  # conv_transpose2d weight (C_in, C_out, kH, kW)
        gy=torch.randn(1, 3, 5, 5, generator=g),  # a conv2d output gradient for a (1, 2, 7, 7) input
        x1=torch.randn(1, 2, 6, generator=g),
        w1=torch.randn(3, 2, 3, generator=g),
        w1t=torch.randn(2, 3, 3, generator=g),
        pooled=pooled,
        indices=indices,
        a=torch.randn(12, 5, generator=g),
    )


def _conv(transposed: bool) -> list[Any]:
    """aten.convolution's arguments after (input, weight) for a stride-1 2-D convolution."""
    return [None, [1, 1], [0, 0], [1, 1], transposed, [0, 0], 1]


ROUTES: dict[str, Callable[[SimpleNamespace], Any]] = {
    "torch.nn.functional.conv_transpose2d": lambda t: F.conv_transpose2d(t.x, t.wt),
    "torch.nn.ConvTranspose2d": lambda t: nn.ConvTranspose2d(2, 3, 3)(t.x),
    "torch.conv_transpose2d": lambda t: torch.conv_transpose2d(t.x, t.wt),
    "torch.nn.grad.conv2d_input": lambda t: torch.nn.grad.conv2d_input((1, 2, 7, 7), t.w, t.gy),
    "torch.nn.grad.conv2d_weight": lambda t: torch.nn.grad.conv2d_weight(t.x, t.w.shape, t.gy[..., :3, :3]),
    "torch.convolution": lambda t: torch.convolution(t.x, t.wt, *_conv(True)),
    "torch.nn.functional.conv1d": lambda t: F.conv1d(t.x1, t.w1),
    "torch.nn.functional.conv_transpose1d": lambda t: F.conv_transpose1d(t.x1, t.w1t),
    "torch.nn.Conv1d": lambda t: nn.Conv1d(2, 3, 3)(t.x1),
    "torch.nn.ConvTranspose1d": lambda t: nn.ConvTranspose1d(2, 3, 3)(t.x1),
    "torch.conv1d": lambda t: torch.conv1d(t.x1, t.w1),
    "torch.conv_transpose1d": lambda t: torch.conv_transpose1d(t.x1, t.w1t),
    "torch.nn.functional.conv2d": lambda t: F.conv2d(t.x, t.w),
    "torch.nn.Conv2d": lambda t: nn.Conv2d(2, 3, 3)(t.x),
    "torch.conv2d": lambda t: torch.conv2d(t.x, t.w),
    "torch.nn.functional.interpolate": lambda t: F.interpolate(t.x, scale_factor=2),
    "torch.nn.functional.upsample": lambda t: F.upsample(t.x, scale_factor=2),
    "torch.nn.functional.upsample_nearest": lambda t: F.upsample_nearest(t.x, scale_factor=2),
    "torch.nn.functional.upsample_bilinear": lambda t: F.upsample_bilinear(t.x, scale_factor=2),
    "torch.nn.Upsample": lambda t: nn.Upsample(scale_factor=2)(t.x),
    "torch.nn.UpsamplingNearest2d": lambda t: nn.UpsamplingNearest2d(scale_factor=2)(t.x),
    "torch.nn.functional.max_unpool2d": lambda t: F.max_unpool2d(t.pooled, t.indices, 2),
    "torch.nn.MaxUnpool2d": lambda t: nn.MaxUnpool2d(2)(t.pooled, t.indices),
    "torch.max_unpool2d": lambda t: getattr(torch, "max_unpool2d", torch.ops.aten.max_unpool2d)(
        t.pooled, t.indices, [4, 4]
    ),
    "torch.pca_lowrank": lambda t: torch.pca_lowrank(t.a, q=2),
}
"""One call of each forbidden name in forbidden.toml (torch.max_unpool2d is only an aten op in torch 2.x)."""


def _run(guard: Guard, names: tuple[str, ...] | list[str], fn: Callable[[], Any]) -> Outcome:
    """How `fn()` went with `names` armed (a trip raised into it is swallowed, as a student might)."""
    guard.activate(names)
    try:
        fn()
    except ForbiddenTrip:
        pass
    return guard.finish()


@pytest.fixture
def guard():
    """Both layers for every name in forbidden.toml, as the worker has them."""
    g = Guard(NAMES)
    g.enable_dispatch()
    yield g
    g.uninstall()


@pytest.fixture
def dispatcher_only():
    """The dispatcher layer alone (the attribute wrappers are put back), to test what it sees itself."""
    g = Guard(NAMES)
    g.enable_dispatch()
    g.uninstall()
    yield g
    g.uninstall()


# --- (a) the dispatcher layer ---------------------------------------------------------------------------


def test_every_forbidden_name_has_a_dispatcher_rule_and_a_route_here(dispatcher_only):
    assert set(NAMES) <= set(ATEN_RULES)
    assert set(ROUTES) == set(NAMES)
    assert dispatcher_only.dispatch.uncovered == []


@pytest.mark.filterwarnings("ignore:.*is deprecated")
@pytest.mark.parametrize("name", NAMES)
def test_each_forbidden_name_trips_at_the_dispatcher(dispatcher_only, name):
    t = _tensors()
    outcome = _run(dispatcher_only, [name], lambda: ROUTES[name](t))
    assert outcome.trip is not None and outcome.trip.name == name
    assert outcome.trip.op is not None and outcome.tampered is None
    assert torch._C._len_torch_dispatch_stack() == 0  # the mode is only there while a call runs


def _redispatched(t: SimpleNamespace) -> Any:
    """aten.convolution sent straight to its CPU kernel, past the Python dispatch key."""
    keys = torch._C.DispatchKeySet(torch._C.DispatchKey.CPU)
    return torch.ops.aten.convolution.default.redispatch(keys, t.x, t.wt, *_conv(True))


def _autograd_adjoint(t: SimpleNamespace) -> Any:
    """The transpose convolution as the gradient of F.conv2d (what torch.nn.grad.conv2d_input does)."""
    z = torch.zeros(1, 3, 7, 7, requires_grad=True)
    return torch.autograd.grad(F.conv2d(z, t.wt), z, t.x)[0]  # (1, 2, 5, 5) output, (1, 3, 7, 7) input


def _conv_backward(t: SimpleNamespace) -> Any:
    """torch.nn.grad.conv2d_input's own op: the input gradient of a (1, 2, 7, 7) -> (1, 3, 5, 5) conv2d."""
    mask = [True, False, False]
    return torch.ops.aten.convolution_backward(
        t.gy, torch.zeros(1, 2, 7, 7), t.w, None, *_conv(False)[1:], mask
    )


aten, nn_c = torch.ops.aten, torch._C._nn
BYPASSES = [
    (CT, "aten.convolution(transposed=True)", lambda t: aten.convolution(t.x, t.wt, *_conv(True))),
    (CT, "aten.conv_transpose2d", lambda t: aten.conv_transpose2d(t.x, t.wt)),
    (CT, "_VariableFunctions", lambda t: torch._C._VariableFunctions.conv_transpose2d(t.x, t.wt)),
    (CT, "aten._convolution", lambda t: aten._convolution(t.x, t.wt, *_conv(True), 0, 0, 1, 1)),
    (CT, "aten.slow_conv_transpose2d", lambda t: aten.slow_conv_transpose2d(t.x, t.wt, [3, 3])),
    (CT, "_C._nn.slow_conv_transpose2d", lambda t: nn_c.slow_conv_transpose2d(t.x, t.wt, [3, 3])),
    (CT, "redispatch to CPU", _redispatched),
    (CT, "autograd adjoint of conv2d", _autograd_adjoint),
    (f"{LAYERS}.ConvTranspose2d", "aten.convolution_backward", _conv_backward),
    (NEAREST, "aten.upsample_nearest2d", lambda t: aten.upsample_nearest2d(t.x, [10, 10])),
    (NEAREST, "_C._nn.upsample_nearest2d", lambda t: nn_c.upsample_nearest2d(t.x, [10, 10])),
    (NEAREST, "nearest-exact", lambda t: aten._upsample_nearest_exact2d(t.x, [10, 10])),
    (BILINEAR, "upsample_bilinear2d", lambda t: nn_c.upsample_bilinear2d(t.x, [9, 9], False)),
    (f"{LAYERS}.max_unpool2d", "aten", lambda t: aten.max_unpool2d(t.pooled, t.indices, [4, 4])),
    (f"{LAYERS}.bed_of_nails_unpool2d", "_C._nn", lambda t: nn_c.max_unpool2d(t.pooled, t.indices, [4, 4])),
    (f"{LAYERS}.MaxUnpool2d", "aten", lambda t: aten.max_unpool2d(t.pooled, t.indices, [4, 4])),
    (MATRIX2D, "aten.convolution", lambda t: aten.convolution(t.x, t.w, *_conv(False))),
    (MATRIX2D, "mkldnn", lambda t: aten.mkldnn_convolution(t.x, t.w, None, [0, 0], [1, 1], [1, 1], 1)),
    (MATRIX2D, "_C._nn.thnn_conv2d", lambda t: nn_c.thnn_conv2d(t.x, t.w, [3, 3])),
    (f"{LAYERS}.conv1d_as_matrix", "aten.conv1d", lambda t: aten.conv1d(t.x1, t.w1)),
    (
        "exercise_code.models.pca.pca",
        "_lowrank",
        lambda t: importlib.import_module("torch._lowrank").pca_lowrank(t.a, q=2),
    ),
]


@pytest.mark.parametrize(
    ("target", "route", "fn"), BYPASSES, ids=[f"{t.split('.')[-1]}:{r}" for t, r, _ in BYPASSES]
)
def test_routes_past_the_python_names_trip(guard, target, route, fn):
    t = _tensors()
    outcome = _run(guard, RULES[target], lambda: fn(t))
    assert outcome.trip is not None, f"{route} went through unseen"
    assert outcome.trip.name in RULES[target] and outcome.trip.op is not None and outcome.tampered is None


def _legit_conv_transpose2d(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Zero insertion (stride 2) + padding + F.conv2d with the flipped, transposed kernel."""
    N, C, H, W = x.shape
    kh, kw = w.shape[-2:]
    spread = x.new_zeros(N, C, 2 * H - 1, 2 * W - 1)
    spread[..., ::2, ::2] = x
    spread = F.pad(spread, (kw - 1, kw - 1, kh - 1, kh - 1))  # (N, C_in, 2H - 1 + 2(kH - 1), ...)
    return F.conv2d(spread, w.flip(-2, -1).transpose(0, 1))  # weight (C_out, C_in, kH, kW)


BLOCKS: dict[str, Callable[[SimpleNamespace], Any]] = {
    "fold": lambda t: F.fold(F.unfold(t.x, 2), (5, 5), 2),
    "unfold": lambda t: F.unfold(t.x, 3, padding=1),
    "einsum": lambda t: torch.einsum("nchw,co->nohw", t.x, t.wt[:, :, 0, 0]),
    "matmul": lambda t: t.a @ t.a.T,
    "scatter": lambda t: torch.zeros(1, 2, 16).scatter(2, t.indices.flatten(2), t.pooled.flatten(2)),
    "pad": lambda t: F.pad(t.x, (1, 1, 1, 1)),
    "repeat_interleave": lambda t: t.x.repeat_interleave(2, dim=-1).repeat_interleave(2, dim=-2),
    "index_put": lambda t: torch.zeros(5).index_put_((torch.tensor([1, 3]),), torch.ones(2)),
    "max_pool2d": lambda t: F.max_pool2d(t.x, 2, return_indices=True),
    "svd": lambda t: torch.linalg.svd(t.a - t.a.mean(0), full_matrices=False),
}
"""Building blocks forbidden.toml leaves allowed for every exercise."""


@pytest.mark.parametrize("block", sorted(BLOCKS))
@pytest.mark.parametrize("target", sorted(RULES))
def test_allowed_building_blocks_do_not_trip(guard, target, block):
    t = _tensors()
    assert _run(guard, RULES[target], lambda: BLOCKS[block](t)) == Outcome(None, None)


@pytest.mark.parametrize("target", CONV_T_TARGETS)
def test_conv2d_stays_allowed_for_transpose_convolution(guard, target):
    t = _tensors()
    expected = F.conv_transpose2d(t.x, t.wt, stride=2)
    got = []
    x = t.x.clone().requires_grad_(True)  # autograd recording (no backward) must not trip either
    assert _run(guard, RULES[target], lambda: got.append(_legit_conv_transpose2d(x, t.wt))) == Outcome(
        None, None
    )
    torch.testing.assert_close(got[0], expected)
    assert _run(guard, RULES[target], lambda: F.conv2d(t.x, t.w)) == Outcome(None, None)


def test_a_caught_trip_is_still_recorded(guard):
    t = _tensors()

    def student() -> None:
        try:
            torch.ops.aten.conv_transpose2d(t.x, t.wt)
        except BaseException:
            pass

    outcome = _run(guard, RULES[CT], student)
    assert outcome.trip is not None and outcome.trip.label == (
        "torch.nn.functional.conv_transpose2d (as aten.convolution.default)"
    )


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_threads_started_during_a_guarded_call_are_guarded(guard):
    t = _tensors()

    def student() -> None:
        work = threading.Thread(target=lambda: torch.ops.aten.conv_transpose2d(t.x, t.wt))
        work.start()
        work.join()

    outcome = _run(guard, RULES[CT], student)
    assert outcome.trip is not None and outcome.trip.op == "aten.convolution.default"
    work = threading.Thread(target=lambda: torch.ops.aten.conv_transpose2d(t.x, t.wt))  # disarmed: fine
    work.start()
    work.join()


def _pop_c(t: SimpleNamespace) -> None:
    torch._C._pop_torch_dispatch_stack(None)
    torch.ops.aten.conv_transpose2d(t.x, t.wt)


def _pop_python(t: SimpleNamespace) -> None:
    torch.utils._python_dispatch._pop_mode()
    torch.ops.aten.conv_transpose2d(t.x, t.wt)


def _exclude_python_key(t: SimpleNamespace) -> None:
    torch._C._dispatch_tls_set_dispatch_key_excluded(torch._C.DispatchKey.Python, True)
    torch.ops.aten.conv_transpose2d(t.x, t.wt)


def _disarm_the_state(t: SimpleNamespace) -> None:
    torch._C._get_dispatch_stack_at(0).state.armed = False  # the mode is reachable from the stack
    torch.ops.aten.conv_transpose2d(t.x, t.wt)


def _replace_the_handler(t: SimpleNamespace) -> None:
    mode = torch._C._get_dispatch_stack_at(0)
    type(mode).__torch_dispatch__ = lambda self, func, types, args=(), kwargs=None: func(
        *args, **(kwargs or {})
    )
    torch.ops.aten.conv_transpose2d(t.x, t.wt)


TAMPERING = [_pop_c, _pop_python, _exclude_python_key, _disarm_the_state, _replace_the_handler]


@pytest.mark.parametrize("tamper", TAMPERING, ids=lambda f: f.__name__)
def test_switching_the_dispatcher_layer_off_is_tampering_and_undone(guard, tamper):
    t = _tensors()
    outcome = _run(guard, RULES[CT], lambda: tamper(t))
    assert outcome.trip is None and outcome.tampered is not None
    assert torch._C._len_torch_dispatch_stack() == 0
    assert not torch._C._dispatch_tls_is_dispatch_key_excluded(torch._C.DispatchKey.Python)
    again = _run(guard, RULES[CT], lambda: torch.ops.aten.conv_transpose2d(t.x, t.wt))
    assert again.trip is not None  # the next call is guarded again


def test_a_mode_left_on_the_stack_is_cleared_and_ops_run_unguarded_when_disarmed(guard):
    t = _tensors()

    class Passthrough(torch.utils._python_dispatch.TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            return func(*args, **(kwargs or {}))

    left = Passthrough()
    outcome = _run(guard, RULES[CT], lambda: torch._C._push_on_torch_dispatch_stack(left))
    assert outcome == Outcome(None, None) and torch._C._len_torch_dispatch_stack() == 0
    torch.ops.aten.conv_transpose2d(t.x, t.wt)  # disarmed: nothing trips, no mode on the stack


# --- (b) guarded student code, in calls and in model calls -----------------------------------------------

STUDENT = {
    "exercise_code/__init__.py": "",
    "exercise_code/layers/__init__.py": """
from .bilinear import bilinear_kernel
from .transpose_conv import ConvTranspose2d, conv_transpose2d
from .unpool import MaxUnpool2d, nearest_unpool2d
""",
    "exercise_code/layers/bilinear.py": """
import threading

import torch


def bilinear_kernel(c_in, c_out, k):
    impulse, out = torch.zeros(1, 1, 3, 3), []
    impulse[..., 1, 1] = 1.0
    up = torch._C._nn.upsample_bilinear2d
    work = threading.Thread(target=lambda: out.append(up(impulse, [k, k], False)))
    work.start()
    work.join()
    return out[0]
""",
    "exercise_code/layers/transpose_conv.py": """
import torch
import torch.nn.functional as F


def conv_transpose2d(x, w):
    return F.conv_transpose2d(x, w)


class ConvTranspose2d(torch.nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(w)

    def forward(self, x):
        return torch.ops.aten.conv_transpose2d(x, self.w)
""",
    "exercise_code/layers/unpool.py": """
import functools

import torch


def nearest_unpool2d(x, scale):
    return x.repeat_interleave(scale, -1).repeat_interleave(scale, -2)


def _unpool(x, indices, size):
    return torch.ops.aten.max_unpool2d(x, indices, size)


class MaxUnpool2d(torch.nn.Module):
    def __init__(self, size):
        super().__init__()
        self.forward = functools.partial(_unpool, size=size)  # no method of the class runs in forward
""",
    "exercise_code/models.py": """
import torch.nn.functional as F
from torch import nn

from exercise_code.layers import ConvTranspose2d, bilinear_kernel, nearest_unpool2d
from exercise_code.layers import conv_transpose2d as ct


class Aliased(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x):
        return ct(x, self.w)


class WithLayer(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.up = ConvTranspose2d(w)

    def forward(self, x):
        return self.up(x)


class TorchLayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.up = nn.ConvTranspose2d(3, 2, 2, stride=2)

    def forward(self, x):
        y = self.up(self.conv(x))
        return F.interpolate(y, scale_factor=2) + nearest_unpool2d(y, 2)


def run_aliased(x, w):
    return ct(x, w)


def run_bilinear(k):
    return bilinear_kernel(1, 1, k)
""",
}
"""A submission whose exercise functions cheat (F.conv_transpose2d, torch.ops.aten) and whose models use
them under an alias, next to a model built from torch's own layers."""


@pytest.fixture
def worker(tmp_path, monkeypatch):
    """A worker in this process on the STUDENT tree, imported as `exercise_code` (the kit's is put back)."""
    root = write_tree(tmp_path / "sub", STUDENT)
    saved = {k: v for k, v in sys.modules.items() if k.split(".")[0] == "exercise_code"}
    for name in saved:
        del sys.modules[name]
    monkeypatch.syspath_prepend(str(root))
    finders = [f for f in sys.meta_path if not type(f).__module__.startswith("__editable__")]
    monkeypatch.setattr(sys, "meta_path", finders)  # the kit's editable install would fill the gaps
    g = Guard(NAMES)
    yield Worker(str(root), g, {k: list(v) for k, v in RULES.items()})
    g.uninstall()
    for name in [k for k in sys.modules if k.split(".")[0] == "exercise_code"]:
        del sys.modules[name]
    sys.modules.update(saved)


def _model_call(worker: Worker, model: nn.Module, *args: torch.Tensor) -> tuple[dict[str, Any], list]:
    handle = worker.register(model)["handle"]
    tree, tensors = protocol.pack((args, {}))
    return worker.handle(
        {"op": "model_call", "handle": handle, "method": "forward", "payload": tree}, tensors
    )


def test_model_calls_trip_inside_guarded_student_code_under_any_alias(worker):
    models = importlib.import_module("exercise_code.models")
    t = _tensors()
    reply, _ = _model_call(worker, models.Aliased(t.wt), t.x)
    assert reply == {
        "ok": False,
        "kind": "forbidden",
        "name": "torch.nn.functional.conv_transpose2d",
        "message": f"{CT} called torch.nn.functional.conv_transpose2d",
    }
    reply, _ = _model_call(worker, models.WithLayer(t.wt), t.x)
    label = "torch.nn.functional.conv_transpose2d (as aten.convolution.default)"
    assert reply["kind"] == "forbidden" and reply["name"] == label
    assert reply["message"] == f"{LAYERS}.ConvTranspose2d called {label}"


def test_model_calls_on_a_guarded_class_arm_its_names_throughout(worker):
    layers = importlib.import_module("exercise_code.layers")
    t = _tensors()
    reply, _ = _model_call(worker, layers.MaxUnpool2d([4, 4]), t.pooled, t.indices)
    label = "torch.nn.functional.max_unpool2d (as aten.max_unpool2d.default)"
    assert reply["kind"] == "forbidden" and reply["message"] == f"{LAYERS}.MaxUnpool2d called {label}"


def test_calls_of_other_functions_trip_inside_guarded_student_code(worker):
    t = _tensors()
    tree, tensors = protocol.pack(((t.x, t.wt), {}))
    reply, _ = worker.handle(
        {"op": "call", "target": "exercise_code.models.run_aliased", "payload": tree}, tensors
    )
    assert reply["kind"] == "forbidden" and reply["message"].startswith(f"{CT} called ")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_threads_started_inside_guarded_student_code_are_guarded_too(worker):
    tree, tensors = protocol.pack(((4,), {}))
    reply, _ = worker.handle(
        {"op": "call", "target": "exercise_code.models.run_bilinear", "payload": tree}, tensors
    )
    label = "torch.nn.functional.interpolate (as aten.upsample_bilinear2d.default)"
    assert reply["kind"] == "forbidden" and reply["message"] == f"{BILINEAR} called {label}"


def test_torch_layers_outside_guarded_code_do_not_trip_in_models(worker):
    models = importlib.import_module("exercise_code.models")
    torch.manual_seed(0)
    model = models.TorchLayers().eval()
    t = _tensors()
    with torch.no_grad():
        expected = model(t.x)
    reply, out = _model_call(worker, model, t.x)
    assert reply["ok"], reply
    torch.testing.assert_close(protocol.unpack(reply["value"], out), expected)


def test_the_adversarial_guard_student_still_names_the_python_callable(tmp_path, monkeypatch):
    """tests/test_adversarial.py's `guard` student (a name built at run time), in process."""
    write_tree(
        tmp_path,
        {
            "adv_guard.py": "import torch.nn.functional as F\ndef conv_transpose2d(x, w):\n"
            "    return getattr(F, 'conv_' + 'transpose2d')(x, w)\n"
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "adv_guard", raising=False)
    g = Guard(NAMES)
    try:
        worker = Worker(str(tmp_path), g, {CT: list(RULES[CT])})
        t = _tensors()
        with pytest.raises(Reply) as caught:
            worker.guarded(CT, importlib.import_module("adv_guard").conv_transpose2d, t.x, t.wt)
    finally:
        g.uninstall()
        sys.modules.pop("adv_guard", None)
    assert caught.value.reply["name"] == "torch.nn.functional.conv_transpose2d"


# --- (c) the AST scan reads what Python imports ---------------------------------------------------------

_CT_NAMES = tuple(RULES[CT])
_CLEAN = "def conv_transpose2d(x, w):\n    return x\n"
_CHEAT = (
    "import torch.nn.functional as F\n\ndef conv_transpose2d(x, w):\n    return F.conv_transpose2d(x, w)\n"
)
_TREE = {
    "exercise_code/__init__.py": "",
    "exercise_code/layers/__init__.py": "from .transpose_conv import conv_transpose2d\n",
}


def _scan(tmp_path: Path, files: dict[str, str | bytes]):
    return scan_function(write_tree(tmp_path / "sub", {**_TREE, **files}), CT, _CT_NAMES)


def test_scan_refuses_a_package_next_to_a_module_of_the_same_name(tmp_path):
    found = _scan(
        tmp_path,
        {
            "exercise_code/layers/transpose_conv.py": _CLEAN,
            "exercise_code/layers/transpose_conv/__init__.py": _CHEAT,
        },
    )
    assert found is not None and found.name == AMBIGUOUS
    assert found.where == (
        "exercise_code/layers/transpose_conv: both transpose_conv.py and transpose_conv/__init__.py exist "
        "(Python imports transpose_conv/__init__.py); keep one"
    )


def test_scan_reads_a_package_init_and_passes_a_clean_tree(tmp_path):
    found = _scan(tmp_path, {"exercise_code/layers/transpose_conv/__init__.py": _CHEAT})
    assert found is not None and found.name == "torch.nn.functional.conv_transpose2d"
    assert found.where == "exercise_code/layers/transpose_conv/__init__.py:4"
    assert _scan(tmp_path / "clean", {"exercise_code/layers/transpose_conv.py": LEGIT_CONV_T}) is None


@pytest.mark.parametrize(
    ("files", "why"),
    [
        (
            {"exercise_code/layers/transpose_conv.cpython-311-x86_64-linux-gnu.so": b"\x7fELF"},
            "compiled code",
        ),
        ({"exercise_code/layers/transpose_conv.so": b"\x7fELF"}, "compiled code"),
        ({"exercise_code/layers/transpose_conv.pyc": b"\0" * 16}, "compiled code"),
        (
            {
                "exercise_code/layers/transpose_conv.abi3.so": b"",
                "exercise_code/layers/transpose_conv.py": _CLEAN,
            },
            "both",
        ),
        (
            {
                "exercise_code/layers/transpose_conv.pyc": b"",
                "exercise_code/layers/transpose_conv.py": _CLEAN,
            },
            "both",
        ),
        ({"exercise_code/layers/transpose_conv/notes.txt": ""}, "namespace package"),
    ],
    ids=["extension", "bare-so", "sourceless-pyc", "so-next-to-py", "pyc-next-to-py", "namespace"],
)
def test_scan_refuses_modules_python_would_load_from_elsewhere(tmp_path, files, why):
    found = _scan(tmp_path, files)
    assert found is not None and found.name == AMBIGUOUS and why in found.where
    assert found.where.startswith("exercise_code/layers/transpose_conv: ")


def test_scan_refuses_an_unchecked_hash_pyc_but_not_an_ordinary_cache(tmp_path):
    root = write_tree(tmp_path / "sub", {**_TREE, "exercise_code/layers/transpose_conv.py": _CLEAN})
    source = root / "exercise_code" / "layers" / "transpose_conv.py"
    py_compile.compile(str(source), doraise=True)  # timestamp-checked: Python rereads a changed source
    assert scan_function(root, CT, _CT_NAMES) is None
    cheat = tmp_path / "cheat.py"
    cheat.write_text(_CHEAT)
    unchecked = py_compile.PycInvalidationMode.UNCHECKED_HASH
    py_compile.compile(
        str(cheat), cfile=importlib.util.cache_from_source(str(source)), invalidation_mode=unchecked
    )
    found = scan_function(root, CT, _CT_NAMES)
    assert found is not None and found.name == AMBIGUOUS and "runs instead of the source" in found.where


def test_the_adversarial_ast_student_is_still_found(tmp_path):
    """tests/test_adversarial.py's `ast` student, scanned in process."""
    ast_hit = (
        "import torch.nn.functional as F\ndef conv_transpose2d(x, w):\n    return F.conv_transpose2d(x, w)\n"
    )
    files = {"exercise_code/__init__.py": "", "exercise_code/layers/__init__.py": ast_hit}
    found = scan_function(write_tree(tmp_path / "sub", files), CT, _CT_NAMES)
    assert found is not None and found.where == "exercise_code/layers/__init__.py:3"
