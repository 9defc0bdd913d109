"""Hostile replies from the worker: every cap is checked before the part it bounds is parsed, unsafe
tensors are refused right after the weights-only load, a refusal is an `error` naming the request and
restarts the worker, and student-facing messages carry no pytest or torch noise."""

from __future__ import annotations

import collections
import fractions
import io
import os
import pickle
import struct
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from grading_helpers import base_files, write_tree

from autograder.errors import MissingPart, RefusedReply, SandboxCrash
from autograder.grading import GradeSettings
from autograder.grading.plugin import GradingRun, assertion_message, student_message
from autograder.grading.results import TestStatus as Status
from autograder.grading.session import WorkerSession
from autograder.sandbox import SandboxLimits
from autograder.sandbox.limits import MIB
from autograder.worker import protocol
from autograder.worker.ops import Worker
from autograder.worker.protocol import Caps, ProtocolError

WHAT = "exercise_code.layers.conv_transpose2d"


def _payload(header: bytes, blob: bytes = b"") -> bytes:
    return struct.pack(">I", len(header)) + header + blob


def _blob(tensors: list[torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(tensors, buffer)  # as they are: strides, offsets and shared storages kept
    return buffer.getvalue()


# --- forged torch.save archives (what a student who patched the worker's torch.save could send) ---------


class _Storage:
    """Stands for storage "0" of the archive (4 float32 values)."""


_STORAGE = _Storage()


class _Forged:
    """Pickles as `torch._utils._rebuild_tensor_v2(storage "0", offset, size, stride, ...)`, any numbers."""

    def __init__(self, size: tuple[int, ...], stride: tuple[int, ...], offset: int = 0) -> None:
        self.args = (_STORAGE, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self) -> tuple[Any, tuple]:
        return torch._utils._rebuild_tensor_v2, self.args


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        return ("storage", torch.FloatStorage, "0", "cpu", 4) if obj is _STORAGE else None


def _rezip(blob: bytes, *, pickled: bytes | None = None, compression: int = zipfile.ZIP_STORED) -> bytes:
    """`blob` rewritten entry by entry, with another `data.pkl` and/or compressed entries."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as src, zipfile.ZipFile(out, "w", compression) as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info.filename, pickled if pickled and info.filename.endswith("data.pkl") else data)
    return out.getvalue()


def _forged(*tensors: _Forged) -> bytes:
    data = io.BytesIO()
    _Pickler(data, protocol=2).dump(list(tensors))
    return _rezip(_blob([torch.arange(4.0)]), pickled=data.getvalue())


# --- protocol: caps before parsing ----------------------------------------------------------------------


def test_an_oversized_header_is_refused_from_its_length_before_json_parsing(monkeypatch):
    header = b'{"ok":true,"value":[' + b"0," * (2**20) + b"0]}"  # 2 MiB of JSON
    monkeypatch.setattr(protocol.json, "loads", lambda *a, **k: pytest.fail("json.loads was reached"))
    with pytest.raises(ProtocolError, match=rf"JSON header is {len(header)} bytes; the cap is 1048576 bytes"):
        protocol.decode(_payload(header))
    with pytest.raises(ProtocolError, match="the cap is 100 bytes"):
        protocol.decode(_payload(b"{" + b" " * 200 + b"}"), Caps(header_bytes=100))


def test_deep_json_is_refused_quickly_without_recursion():
    start = time.perf_counter()
    with pytest.raises(ProtocolError, match="nested deeper than 104 levels"):
        protocol.decode(_payload(b"[" * 100_000 + b"]" * 100_000))
    assert time.perf_counter() - start < 1.0
    start = time.perf_counter()  # escaped quotes: a one-regex string scan would be quadratic here
    with pytest.raises(ProtocolError, match="nested deeper than 104 levels"):
        protocol.decode(_payload(b'\\"[' * 330_000))
    assert time.perf_counter() - start < 1.0
    brackets_in_a_string = b'{"message": "' + b"[{" * 5_000 + b'\\"]"}'
    assert protocol.decode(_payload(brackets_in_a_string))[0]["message"].startswith("[{[{")
    with pytest.raises(ProtocolError, match="nested deeper than 3"):
        protocol.decode(_payload(b'{"v": [[[1]]]}'), Caps(json_depth=3))


def test_unpack_caps_the_item_count():
    with pytest.raises(ProtocolError, match="more than 100000 items"):
        protocol.unpack([0] * 100_001, [])
    assert protocol.unpack([0] * 9, [], max_items=10) == [0] * 9
    with pytest.raises(ProtocolError, match="more than 10 items"):
        protocol.unpack({"__tuple__": [0] * 10}, [], max_items=10)
    with pytest.raises(ProtocolError, match="malformed model reference"):
        protocol.unpack({"__model__": {"handle": [1]}}, [], lambda info: info)


@pytest.mark.parametrize(
    ("blob", "match"),
    [
        (_blob([torch.empty(1).expand(10**9)]), r"tensor 0 has stride 0 in dim 0 \(shape \(1000000000,\)"),
        (_blob([torch.ones(2), torch.zeros(3).expand(4, 3)]), r"tensor 1 has stride 0 in dim 0"),
        (_blob([torch.as_strided(torch.arange(10.0), (5, 5), (1, 1))]), "tensor 0 overlaps itself"),
        (_forged(_Forged((10**9,), (0,))), "tensor 0 has stride 0"),
        (_forged(_Forged((2, 2), (1, 1))), "tensor 0 overlaps itself"),
        (_forged(_Forged((400,), (1,))), "rejected by the weights-only loader"),  # torch refuses too
        (_forged(_Forged((4,), (-1,), 3)), "rejected by the weights-only loader"),
        (_rezip(_blob([torch.zeros(1000)]), compression=zipfile.ZIP_DEFLATED), "is compressed"),
        (b"\x80\x02]q\x00.", "not a torch.save zip archive"),
    ],
    ids=["expand", "expand-2d", "overlap", "stride0", "overlap2", "extent", "negative", "deflated", "legacy"],
)
def test_unsafe_tensors_are_refused_right_after_loading(blob, match):
    with pytest.raises(ProtocolError, match=match):
        protocol.decode(_payload(b'{"ok":true}', blob))


def test_element_and_blob_caps():
    base = torch.zeros(1000)
    aliases = _blob([base] * 100)  # one 4 kB storage, 100 000 elements claimed
    with pytest.raises(ProtocolError, match="more than 50000 elements in all"):
        protocol.decode(_payload(b"{}", aliases), Caps(elements=50_000))
    assert len(protocol.decode(_payload(b"{}", aliases))[1]) == 100  # within the default cap
    many = _blob([torch.zeros(1) for _ in range(30)])
    with pytest.raises(ProtocolError, match="pickled part of the tensor blob is .* the cap is 1024"):
        protocol.decode(_payload(b"{}", many), Caps(header_bytes=1024))
    with pytest.raises(ProtocolError, match="archive entries; the cap is 17"):
        protocol.decode(_payload(b"{}", many), Caps(items=1))
    short = torch.zeros(100)
    short.untyped_storage().resize_(16)  # in-process only: torch.load itself refuses to build this
    with pytest.raises(ProtocolError, match="tensor 0 needs 400 bytes of storage but its storage holds 16"):
        protocol.check_tensors([short], 10**6)
    legit = [torch.empty(1).expand(1, 1), torch.zeros(0, 5), torch.tensor(3.0), torch.ones(2, 1, 3)]
    protocol.check_tensors(legit, 10)  # size-1 and empty dims may have any stride


def test_sandbox_limits_set_the_caps():
    caps = SandboxLimits(max_header_kb=4, max_elements=99).caps()
    assert (caps.header_bytes, caps.elements) == (4096, 99)
    with pytest.raises(ValueError, match="max_header_kb must be positive, got 0"):
        SandboxLimits(max_header_kb=0)
    with pytest.raises(ValueError, match="elements must be positive, got -1"):
        Caps(elements=-1)


# --- the session: a refusal is an error naming the request, and the worker is replaced ------------------


Script = Callable[[dict[str, Any]], bytes]


class FakeWorker:
    """A thread on two pipes standing in for the sandboxed worker; `script(request)` is its reply payload."""

    script: Script
    started: list[FakeWorker] = []

    def __init__(self, isolation: Any, root: Path, limits: SandboxLimits, forbidden: Any, log: Any) -> None:
        self.max_bytes = limits.max_message_mb * MIB
        req_r, self.req_fd = os.pipe()
        self.rep_fd, rep_w = os.pipe()
        self.proc = None
        self.dead = False
        self.closed = False
        threading.Thread(target=self._serve, args=(req_r, rep_w), daemon=True).start()
        FakeWorker.started.append(self)

    def _serve(self, req_r: int, rep_w: int) -> None:
        try:
            while True:
                request, _ = protocol.receive(req_r)
                if request.get("op") == "shutdown":
                    break
                reply = type(self).script(request)
                if reply == b"DIE":
                    self.dead = True
                    break
                if reply == b"HANG UP":
                    break
                protocol.write_frame(rep_w, reply)
        except (ProtocolError, OSError):
            pass
        finally:
            os.close(req_r)
            os.close(rep_w)

    def request(
        self, header: dict[str, Any], tensors: list[torch.Tensor], deadline: float
    ) -> tuple[dict[str, Any], list[torch.Tensor]]:
        """As `WorkerProcess.request`."""
        protocol.write_frame(self.req_fd, protocol.encode(header, tensors), deadline)
        return protocol.receive(self.rep_fd, self.max_bytes, deadline)

    @property
    def alive(self) -> bool:
        return not (self.closed or self.dead)

    def wait(self, timeout: float) -> None:
        """As `WorkerProcess.wait`: the thread is gone with its pipes."""

    def death(self) -> tuple[str, str]:
        return "crashed", "the worker process exited with code 3"

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.req_fd)
            os.close(self.rep_fd)


def _ok(request: dict[str, Any], value: Any = None, tensors: list[torch.Tensor] | tuple = ()) -> bytes:
    return protocol.encode({"ok": True, "id": request["id"], "value": value}, list(tensors))


def _hostile(request: dict[str, Any]) -> bytes:
    """Replies by target name: the honest `good`, and one hostile reply per other name."""
    name, rid = request["target"].rsplit(".", 1)[-1], request["id"]
    head = f'{{"ok":true,"id":{rid},"value":'.encode()
    replies: dict[str, Callable[[], bytes]] = {
        "good": lambda: _ok(request, {"__t__": 0}, [torch.arange(3.0)]),
        "expanded": lambda: _ok(request, {"__t__": 0}, [torch.empty(1).expand(10**9)]),
        "deep": lambda: _payload(head + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        "long": lambda: _payload(head + b"[" + b"0," * 600_000 + b"0]}"),  # a 1.2 MB header
        "frame": lambda: b"x" * (3 * MIB),  # a 3 MiB frame: over the 2 MiB message cap below
        "items": lambda: _ok(request, [0] * 100_001),
        "tree": lambda: _ok(request, {"__evil__": 1}),
        "model": lambda: _ok(request, {"__model__": {"no_handle": 1}}),
        "turn": lambda: protocol.encode({"ok": True, "id": rid + 7, "value": None}),
        "kind": lambda: protocol.encode({"ok": False, "id": rid, "kind": "surprise"}),
        "garbage": lambda: _payload(b"{not json"),
        "hangup": lambda: b"HANG UP",
        "die": lambda: b"DIE",
    }
    return replies[name]()


@pytest.fixture
def session(monkeypatch, tmp_path):
    monkeypatch.setattr("autograder.grading.session.WorkerProcess", FakeWorker)
    monkeypatch.setattr(FakeWorker, "script", staticmethod(_hostile), raising=False)
    monkeypatch.setattr(FakeWorker, "started", [])
    limits = SandboxLimits(max_message_mb=2)
    s = WorkerSession(
        tmp_path,
        None,
        limits=limits,
        forbidden={},
        call_s=10,
        deadline=time.monotonic() + 60,
        submission_s=60,
    )  # type: ignore[arg-type]
    yield s
    s.stop()


def _call(session: WorkerSession, name: str) -> Any:
    decode = lambda info: info["handle"]  # noqa: E731 - like the proxy's ModelHandle(info)
    return session.request(
        {"op": "call", "target": f"exercise_code.x.{name}"}, ((), {}), what=WHAT, decode=decode
    )


def _run(tmp_path: Path) -> GradingRun:
    return GradingRun(
        submission=None,  # type: ignore[arg-type]
        suites=tmp_path,
        rubric={},
        seed=0,
        hidden_data_dir=tmp_path,
        deadline=time.monotonic() + 60,
        submission_s=60,
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("expanded", r"tensor 0 has stride 0 in dim 0 \(shape \(1000000000,\), strides \(0,\)\)"),
        ("deep", "the JSON header is nested deeper than 104 levels"),
        ("long", "the JSON header is 12000.. bytes; the cap is 1048576 bytes"),
        ("frame", "message of 3145728 bytes exceeds the cap of 2097152 bytes"),
        ("items", "value with more than 100000 items"),
        ("tree", "malformed value of type dict"),
        ("model", "KeyError: 'handle'"),
        ("turn", "it does not answer this request"),
        ("kind", "unknown reply kind 'surprise'"),
        ("garbage", "header is not JSON"),
        ("hangup", "the worker's channel failed"),
    ],
)
def test_a_refused_reply_is_an_error_naming_the_request_and_restarts_the_worker(
    session, tmp_path, name, reason
):
    torch.testing.assert_close(_call(session, "good"), torch.arange(3.0))
    with pytest.raises(RefusedReply) as caught:
        _call(session, name)
    assert caught.match(f"^{WHAT}: the reply was refused: {reason}.*; the worker was restarted$")
    assert session.worker is None and FakeWorker.started[0].closed
    status, message = _run(tmp_path).classify(caught.value)
    assert status is Status.ERROR and message == str(caught.value) and "Traceback" not in message
    torch.testing.assert_close(_call(session, "good"), torch.arange(3.0))  # later tests still run
    assert session.starts == 2 and len(FakeWorker.started) == 2


def test_a_worker_that_died_is_still_crashed(session, tmp_path):
    with pytest.raises(SandboxCrash, match=f"^{WHAT} crashed the sandboxed worker .*exited with code 3"):
        _call(session, "die")
    assert _run(tmp_path).classify(SandboxCrash("x"))[0] is Status.CRASHED
    torch.testing.assert_close(_call(session, "good"), torch.arange(3.0))


# --- statuses and messages ------------------------------------------------------------------------------


@pytest.fixture
def own_exercise_code():
    """Lets a test import another `exercise_code`; the kit's modules are back in sys.modules afterwards."""
    saved = {k: v for k, v in sys.modules.items() if k.split(".")[0] == "exercise_code"}
    for name in saved:
        del sys.modules[name]
    yield
    for name in [k for k in sys.modules if k.split(".")[0] == "exercise_code"]:
        del sys.modules[name]
    sys.modules.update(saved)


def test_missing_submodules_are_missing_and_third_party_imports_are_errors(
    tmp_path, monkeypatch, own_exercise_code
):
    root = write_tree(
        tmp_path / "sub",
        {
            "exercise_code/__init__.py": "",
            "exercise_code/layers/__init__.py": "def f():\n    return 1\n",
            "exercise_code/uses_models.py": "from exercise_code.models import thing\n",
            "exercise_code/third.py": "import no_such_package_xyz\n",
        },
    )
    monkeypatch.syspath_prepend(str(root))
    finders = [f for f in sys.meta_path if "__editable__" not in repr(f)]
    monkeypatch.setattr(sys, "meta_path", finders)  # the kit's editable install would fill the gaps
    worker = Worker.__new__(Worker)  # `resolve` and `failure` only: no guard in this process
    worker.root, worker._checked_package = os.path.realpath(root), False

    def reply(target: str) -> dict[str, Any]:
        try:
            worker.resolve(target)
        except Exception as exc:
            return worker.failure(exc)
        return {"kind": "resolved"}

    for target, path in [
        ("exercise_code.models.pca.pca", "exercise_code.models"),
        ("exercise_code.layers.deep.g", "exercise_code.layers.deep"),
        ("exercise_code.uses_models.run", "exercise_code.models"),
    ]:
        got = reply(target)
        assert got["kind"] == "missing" and got["path"] == path, (target, got)
        assert got["message"] == f"{path} is missing from the submission"
    got = reply("exercise_code.layers.g")  # a missing function keeps its precise message
    assert got["kind"] == "missing" and "exercise_code.layers has no attribute 'g'" in got["message"]
    got = reply("exercise_code.third.f")
    assert got["kind"] == "error" and got["type"] == "ModuleNotFoundError"
    assert "no_such_package_xyz" in got["message"]
    assert worker.failure(ModuleNotFoundError("x", name="exercise_code.models"))["kind"] == "missing"
    exc = MissingPart("exercise_code.models", "exercise_code.models is missing from the submission")
    assert _run(tmp_path).classify(exc) == (Status.MISSING, exc.path + " is missing from the submission")


def test_assertion_messages_lose_pytest_rewriting():
    rewritten = "add(1, 1) is wrong\n  second line\nassert 2 == 3\n +  where 2 = <function add at 0x7f>()"
    assert assertion_message(AssertionError(rewritten)) == "add(1, 1) is wrong\n  second line"
    bare = "assert False\n +  where False = <built-in method x at 0x7f>"
    assert assertion_message(AssertionError(bare)) == "wrong result"
    assert assertion_message(AssertionError()) == "wrong result"
    close = "Tensor-likes are not close!\n\nMismatched elements: 3 / 4 (75.0%)"
    assert assertion_message(AssertionError(close)) == close


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (
            'ix >= 0 INTERNAL ASSERT FAILED at "/__w/pytorch/pytorch/aten/src/ATen/x.cpp":103, please report '
            "a bug to PyTorch. shapes do not match",
            "ix >= 0: an internal PyTorch check failed. shapes do not match",
        ),
        (
            "Expected a 4-D input. This is likely a bug in PyTorch. Please file an issue at "
            "https://github.com/pytorch/pytorch/issues/new?template=bug-report.yml with a repro.",
            "Expected a 4-D input.",
        ),
        (
            "bad view\nException raised from view at /pytorch/aten/src/ATen/x.cpp:12 "
            "(most recent call first):\nframe #0: c10::f()",
            "bad view",
        ),
        ("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)", None),
        ("Tensor-likes are not close!\n\nMismatched elements: 3 / 4 (75.0%)", None),
    ],
)
def test_student_messages_lose_torch_boilerplate(tmp_path, raw, clean):
    from autograder.errors import StudentCodeError

    assert student_message(raw) == (clean or raw)
    status, message = _run(tmp_path).classify(StudentCodeError("RuntimeError", raw))
    assert status is Status.ERROR and message == f"your code raised RuntimeError: {clean or raw}"


@pytest.mark.parametrize("text", ["a" * 20_000, " \t" * 10_000 + "x", '"/pytorch/' * 2_000, "a." * 10_000])
def test_student_message_takes_linear_time(text):
    start = time.perf_counter()
    student_message(text)  # student-controlled text: no regex may backtrack quadratically on it
    assert time.perf_counter() - start < 0.5


class _Cwd:
    def __reduce__(self) -> tuple[Any, tuple]:
        return os.getcwd, ()  # a blocked module


class _Fraction:
    def __reduce__(self) -> tuple[Any, tuple]:
        return fractions.Fraction, (1, 3)  # a global that is merely not allowed


@pytest.mark.parametrize(("value", "kept"), [(_Cwd(), "posix.getcwd"), (_Fraction(), "GLOBAL fractions")])
def test_weights_only_advice_is_dropped(value, kept):
    buffer = io.BytesIO()
    torch.save([value], buffer)
    with pytest.raises(Exception, match="Weights only load failed") as caught:
        torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    message = student_message(f"models/tiny.pt does not load: {caught.value}")
    assert message.startswith("models/tiny.pt does not load: Weights only load failed.") and kept in message
    noise = ["\x1b[", "still be loaded", "PyTorch 2.6", "set to `False`", "add_safe_globals", "documentation"]
    assert not [n for n in noise if n in message], message


# --- end to end: the real sandbox -----------------------------------------------------------------------

E2E_SUITE = """
import torch


def test_stride0_reply(submission):
    submission.call("exercise_code.ops.expanded")


def test_deep_reply(submission):
    submission.call("exercise_code.ops.deep")


def test_after(submission):
    assert submission.call("exercise_code.ops.add", 1, 1) == 2, "add(1, 1) should be 2"


def test_missing_models(submission):
    submission.call("exercise_code.models.build_model", {"name": "x", "kwargs": {}})


def test_third_party(submission):
    submission.call("exercise_code.third.f")


def test_bare_assert(submission):
    assert submission.call("exercise_code.ops.add", 1, 1) == 3


def test_message_assert(submission):
    assert submission.call("exercise_code.ops.add", 1, 1) == 3, "add(1, 1) gave the wrong sum"
"""
E2E_OPS = """
import json
import torch


def expanded():
    original = torch.save
    torch.save = lambda obj, f, *a, **k: original([torch.empty(1).expand(10**9)], f)
    return torch.ones(3)


def deep():
    json.dumps = lambda *a, **k: "[" * 100000 + "]" * 100000
    return 1


def add(a, b):
    return a + b
"""


def test_end_to_end_statuses_through_the_sandbox(tmp_path):
    from autograder.grading.single import grade_submission

    names = ["stride0_reply", "deep_reply", "after", "missing_models", "third_party", "bare_assert"]
    rubric = "".join(f'["test_e2e.py::test_{n}"]\npoints = 1\n' for n in [*names, "message_assert"])
    suite = write_tree(tmp_path / "suite", {"test_e2e.py": E2E_SUITE, "rubric.toml": rubric})
    files = {**base_files(E2E_OPS), "exercise_code/third.py": "import no_such_package_xyz\ndef f(): pass\n"}
    sub = write_tree(tmp_path / "sub", files)
    settings = GradeSettings(call_s=30, submission_s=240)
    result = grade_submission(sub, out=tmp_path / "out", suites=suite, settings=settings, seed=0)
    got = {t.name.split("::")[1]: (str(t.status), t.message) for t in result.tests}
    status, message = got["test_stride0_reply"]
    assert status == "error", got
    assert message.startswith("exercise_code.ops.expanded: the reply was refused: tensor 0 has stride 0")
    assert got["test_deep_reply"][0] == "error" and "nested deeper than 104" in got["test_deep_reply"][1]
    assert got["test_after"] == ("passed", "")
    assert got["test_missing_models"] == ("missing", "exercise_code.models is missing from the submission")
    status, message = got["test_third_party"]
    assert status == "error" and "ModuleNotFoundError: No module named 'no_such_package_xyz'" in message
    assert got["test_bare_assert"] == ("failed", "wrong result")
    assert got["test_message_assert"] == ("failed", "add(1, 1) gave the wrong sum")
    assert result.log_excerpt.count("reply refused") == 2 and "worker restarted" in result.log_excerpt
