"""The worker protocol (framing, value packing, weights-only decoding) and the runtime guard, in-process."""

from __future__ import annotations

import io
import os
import pickle
import struct
import threading
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from autograder.worker import protocol
from autograder.worker.guard import ForbiddenTrip, Guard
from autograder.worker.protocol import ChannelClosed, ProtocolError


def _roundtrip(value):
    tree, tensors = protocol.pack(value)
    header, out = protocol.decode(protocol.encode({"v": tree}, tensors))
    return protocol.unpack(header["v"], out)


def test_nested_values_roundtrip():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, generator=g)
    value = {
        "t": x,
        "pair": (1, 2.5),
        "list": [True, None, "s", -(2**70)],
        3: {"inner": (x[0], float("inf"))},
    }
    got = _roundtrip(value)
    torch.testing.assert_close(got["t"], x)
    assert got["pair"] == (1, 2.5) and isinstance(got["pair"], tuple)
    assert got["list"] == [True, None, "s", -(2**70)]
    torch.testing.assert_close(got[3]["inner"][0], x[0])
    assert got[3]["inner"][1] == float("inf")
    assert _roundtrip(float("nan")) != _roundtrip(float("nan"))  # NaN survives as NaN


def test_tensors_come_back_plain_and_compact():
    big = torch.arange(1_000_000, dtype=torch.float32)
    view = big[:3]
    param = torch.nn.Parameter(torch.ones(2))
    nc = torch.arange(6.0).reshape(2, 3).t()
    tree, tensors = protocol.pack([view, param, nc])
    assert tensors[0].untyped_storage().nbytes() == 3 * 4  # a view does not ship its whole storage
    assert type(tensors[1]) is torch.Tensor and not tensors[1].requires_grad
    got = _roundtrip([view, param, nc])
    torch.testing.assert_close(got[2], nc)


def _nested(depth: int) -> list:
    value: list = [0]
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (np.zeros(2), "numpy.ndarray cannot be sent"),
        (object(), "object cannot be sent"),
        ({(1, 2): 3}, "dict keys must be str or int"),
        (_nested(40), "nested deeper"),
    ],
)
def test_pack_rejects_unsupported_values(value, match):
    with pytest.raises(ProtocolError, match=match):
        protocol.pack(value)


@pytest.mark.parametrize(
    ("tree", "match"),
    [
        ({"__t__": 5}, "out of range"),
        ({"a": 1, "b": 2}, "malformed value"),
        ({"__dict__": [[1]]}, "malformed dict entry"),
        ({"__evil__": 1}, "malformed value"),
    ],
)
def test_unpack_rejects_malformed_trees(tree, match):
    with pytest.raises(ProtocolError, match=match):
        protocol.unpack(tree, [])


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_decode_never_unpickles_code(tmp_path):
    marker = tmp_path / "marker"
    buffer = io.BytesIO()
    torch.save([_Payload(str(marker))], buffer)
    head = b'{"ok":true}'
    with pytest.raises(ProtocolError, match="weights-only"):
        protocol.decode(struct.pack(">I", len(head)) + head + buffer.getvalue())
    raw = pickle.dumps(_Payload(str(marker)), protocol=2)  # a legacy (non-zip) blob: refused unread
    with pytest.raises(ProtocolError, match="not a torch.save zip archive"):
        protocol.decode(struct.pack(">I", len(head)) + head + raw)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"\x00", "shorter than its header"),
        (struct.pack(">I", 99) + b"{}", "exceeds the payload"),
        (struct.pack(">I", 3) + b"{{{", "not JSON"),
        (struct.pack(">I", 2) + b"[]", "not a JSON object"),
    ],
)
def test_decode_rejects_bad_payloads(payload, match):
    with pytest.raises(ProtocolError, match=match):
        protocol.decode(payload)


def test_decode_rejects_a_blob_that_is_not_a_tensor_list():
    buffer = io.BytesIO()
    torch.save({"a": torch.ones(1)}, buffer)
    head = b"{}"
    with pytest.raises(ProtocolError, match="not a list of plain tensors"):
        protocol.decode(struct.pack(">I", 2) + head + buffer.getvalue())


def test_pipe_roundtrip_caps_and_deadlines():
    r, w = os.pipe()
    try:
        x = torch.arange(10.0)
        sender = threading.Thread(target=protocol.send, args=(w, {"op": "x"}, [x]))
        sender.start()
        header, tensors = protocol.receive(r, deadline=time.monotonic() + 10)
        sender.join()
        assert header == {"op": "x"}
        torch.testing.assert_close(tensors[0], x)
        os.write(w, struct.pack(">I", 10_000))
        with pytest.raises(ProtocolError, match="exceeds the cap of 100 bytes"):
            protocol.read_frame(r, max_bytes=100, deadline=time.monotonic() + 5)
        with pytest.raises(TimeoutError):
            protocol.read_frame(r, deadline=time.monotonic() + 0.1)
    finally:
        os.close(w)
    with pytest.raises(ChannelClosed):
        protocol.read_frame(r, deadline=time.monotonic() + 5)
    os.close(r)


@pytest.fixture
def guard():
    names = ["torch.nn.functional.conv_transpose2d", "torch.conv_transpose2d", "torch.nn.ConvTranspose2d"]
    g = Guard([*names, "torch.no.such.thing"])  # F.conv_transpose2d IS torch.conv_transpose2d
    yield g
    g.uninstall()


def test_guard_trips_only_while_armed_and_covers_aliases(guard):
    torch.manual_seed(0)
    x, w = torch.randn(1, 2, 3, 3), torch.randn(2, 1, 2, 2)
    expected = torch.ops.aten.conv_transpose2d(x, w)
    torch.testing.assert_close(F.conv_transpose2d(x, w), expected)  # disarmed: passes through
    assert guard.unresolved == ["torch.no.such.thing"]
    for call in (
        lambda: F.conv_transpose2d(x, w),
        lambda: torch.conv_transpose2d(x, w),
        lambda: torch.nn.ConvTranspose2d(2, 1, 2),
    ):
        guard.activate(["torch.nn.functional.conv_transpose2d", "torch.nn.ConvTranspose2d"])
        with pytest.raises(ForbiddenTrip):
            call()
        tripped, tampered = guard.deactivate()
        assert tripped in {"torch.nn.functional.conv_transpose2d", "torch.nn.ConvTranspose2d"}
        assert tampered is None
    guard.activate(["torch.nn.ConvTranspose2d"])  # only the armed names trip
    torch.testing.assert_close(F.conv_transpose2d(x, w), expected)
    assert guard.deactivate() == (None, None)
    guard.activate(["torch.conv_transpose2d"])  # the alias's name arms the same wrapper
    with pytest.raises(ForbiddenTrip):
        F.conv_transpose2d(x, w)
    assert guard.deactivate() == ("torch.conv_transpose2d", None)
    guard.activate(["torch.nn.functional.conv_transpose2d"])  # documented limit: immutable C namespaces
    torch.testing.assert_close(torch._C._VariableFunctions.conv_transpose2d(x, w), expected)
    assert guard.deactivate() == (None, None)


def test_guard_trip_is_recorded_even_when_caught(guard):
    guard.activate(["torch.nn.functional.conv_transpose2d"])
    try:
        F.conv_transpose2d(torch.ones(1, 1, 1, 1), torch.ones(1, 1, 1, 1))
    except BaseException:
        pass
    assert guard.deactivate()[0] == "torch.nn.functional.conv_transpose2d"


def test_guard_detects_and_repairs_tampering(guard):
    wrapper = F.conv_transpose2d
    assert not hasattr(wrapper, "__wrapped__")  # no one-attribute way back to the original
    guard.activate(["torch.nn.functional.conv_transpose2d"])
    F.conv_transpose2d = lambda *a, **k: None  # student "restores" an unguarded version
    tripped, tampered = guard.deactivate()
    assert tripped is None
    assert tampered is not None and "replaced" in tampered
    assert F.conv_transpose2d is wrapper


# --- the trusted AST scan (the static half of the forbidden-shortcut rule) ------------------------------

_SCAN_NAMES = ("torch.nn.functional.conv_transpose2d", "torch.nn.ConvTranspose2d", "torch.conv_transpose2d")
_SCAN_SOURCES = {
    "exercise_code/__init__.py": "",
    "exercise_code/layers/__init__.py": "from .tc import *  # noqa\nfrom .tc import Mod, clean, plain\n",
    "exercise_code/layers/_h.py": "from torch.nn import functional as FF\ndef helper(x, w):\n"
    "    return FF.conv_transpose2d(x, w)\n",
    "exercise_code/layers/tc.py": (
        "import torch\nimport torch.nn.functional as F\nfrom torch import nn\nfrom ._h import helper\n"
        "def _inner(x, w):\n    return F.conv_transpose2d(x, w)\n"
        "def plain(x, w):\n    return _inner(x, w)\n"
        'def clean(x, w):\n    """Not F.conv_transpose2d."""\n    return F.conv2d(x, w) + torch.zeros(1)\n'
        "def via_helper(x, w):\n    return helper(x, w)\n"
        'def via_getattr(x, w):\n    return getattr(F, "conv_transpose2d")(x, w)\n'
        "def via_import(x, w):\n    from torch.nn.functional import conv_transpose2d as c\n"
        "    return c(x, w)\n"
        "def via_c(x, w):\n    return torch._C._VariableFunctions.conv_transpose2d(x, w)\n"
        "class Mod(nn.Module):\n    def forward(self, x):\n        return nn.ConvTranspose2d(1, 1, 2)(x)\n"
    ),
}


@pytest.fixture
def scan_root(tmp_path):
    for rel, text in _SCAN_SOURCES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("target", "name", "where"),
    [
        ("layers.plain", "torch.nn.functional.conv_transpose2d", "tc.py:6"),
        ("layers.tc.via_helper", "torch.nn.functional.conv_transpose2d", "_h.py:3"),
        ("layers.tc.via_getattr", "torch.nn.functional.conv_transpose2d", "tc.py:15"),
        ("layers.tc.via_import", "torch.nn.functional.conv_transpose2d", "tc.py:17"),
        ("layers.tc.via_c", "torch.nn.functional.conv_transpose2d", "tc.py:20"),
        ("layers.Mod.forward", "torch.nn.ConvTranspose2d", "tc.py:23"),
    ],
)
def test_scan_finds_forbidden_names(scan_root, target, name, where):
    from autograder.grading.forbidden import scan_function

    found = scan_function(scan_root, f"exercise_code.{target}", _SCAN_NAMES)
    assert found is not None and found.name == name and found.where.endswith(where)


def test_scan_passes_clean_code_and_the_reference(scan_root):
    from autograder.grading.forbidden import scan_function

    assert scan_function(scan_root, "exercise_code.layers.clean", _SCAN_NAMES) is None
    assert scan_function(scan_root, "exercise_code.layers.missing", _SCAN_NAMES) is None
    repo = __import__("pathlib").Path(__file__).resolve().parent.parent
    assert scan_function(repo, "exercise_code.layers.conv_transpose2d", _SCAN_NAMES) is None


def test_load_forbidden_flattens_and_validates(tmp_path):
    from autograder.errors import GradingError
    from autograder.grading.forbidden import load_forbidden

    path = tmp_path / "forbidden.toml"
    path.write_text('"exercise_code.a.f" = ["torch.x"]\n[exercise_code.b]\ng = ["torch.y"]\n')
    assert load_forbidden(path) == {"exercise_code.a.f": ("torch.x",), "exercise_code.b.g": ("torch.y",)}
    assert load_forbidden(tmp_path / "absent.toml") == {}
    path.write_text('"exercise_code.a.f" = 3\n')
    with pytest.raises(GradingError, match="must be a list of dotted names"):
        load_forbidden(path)
