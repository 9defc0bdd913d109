"""Workers forked from a factory in the submission's sandbox: as fresh as a new sandbox, and as well judged.

A worker that leaves files (some it made unreadable), processes (its own children, and one in a session
of its own that keeps writing) and IPC objects behind must hand the next worker an empty scratch and a pid
namespace holding nothing but bubblewrap's init, the factory and itself; deaths are named as for a cold
worker; a worker that kills or stops its factory costs a new sandbox, never a grade.
"""

from __future__ import annotations

import errno
import time
from pathlib import Path

import pytest
from grading_helpers import write_tree

from autograder.errors import SandboxCrash
from autograder.grading.session import WorkerSession
from autograder.sandbox import CappedLog, IsolationKind, SandboxLimits, detect_isolation
from autograder.sandbox import launch as launch_module
from autograder.sandbox.launch import ForkedWorker, WorkerProcess
from autograder.worker import zygote

pytestmark = pytest.mark.skipif(
    detect_isolation().kind is not IsolationKind.BUBBLEWRAP, reason="the factory needs bubblewrap"
)

PROBE = """
import ctypes, os, signal, subprocess, sys, time

KEEP_WRITING = '''
import os, time
while True:
    open("/tmp/alive-%d" % os.getpid(), "w").close()
    time.sleep(0.01)
'''

def litter():
    os.makedirs("/tmp/locked/inner")
    with open("/tmp/locked/inner/digits.txt", "w") as out:
        out.write("the hidden digits")
    os.chmod("/tmp/locked/inner", 0)
    os.chmod("/tmp/locked", 0)
    with open("/tmp/note.txt", "w") as out:
        out.write("left behind")
    os.mkfifo("/tmp/pipe")
    subprocess.Popen([sys.executable, "-c", KEEP_WRITING], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if os.fork() == 0:
        time.sleep(1000)
        os._exit(0)
    time.sleep(0.3)  # the writer is running
    libc = ctypes.CDLL(None, use_errno=True)
    ipc = {}
    ipc["shmget"] = [libc.shmget(0x5EED, 4096, 0o1666), ctypes.get_errno()]
    ipc["msgget"] = [libc.msgget(0x5EED, 0o1666), ctypes.get_errno()]
    return {"tmp": sorted(os.listdir("/tmp")), "procs": _procs(), "ipc": ipc}

def _procs():
    return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())

def look():
    return {"tmp": sorted(os.listdir("/tmp")), "procs": _procs(), "me": os.getpid(), "factory": os.getppid()}

def exit3():
    os._exit(3)

def segfault():
    os.kill(os.getpid(), signal.SIGSEGV)

def kill_factory():
    os.kill(os.getppid(), signal.SIGKILL)
    return "done"

def stop_factory():
    os.kill(os.getppid(), signal.SIGSTOP)
    return "done"
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    files = {"exercise_code/__init__.py": "", "exercise_code/probe.py": PROBE}
    return write_tree(tmp_path_factory.mktemp("factory_sub"), files)


@pytest.fixture
def session(root):
    s = WorkerSession(
        root,
        detect_isolation(),
        limits=SandboxLimits(),
        forbidden={},
        call_s=20,
        deadline=time.monotonic() + 600,
        submission_s=600,
        log_sink=CappedLog(),
        warm=True,
    )
    yield s
    s.close()


def _call(session: WorkerSession, name: str):
    return session.request({"op": "call", "target": f"exercise_code.probe.{name}"}, ((), {}), what=name)


def test_the_next_worker_finds_nothing_the_last_one_left(session):
    bare = _call(session, "look")["tmp"]  # bubblewrap's folders for binds under /tmp, if any
    left = _call(session, "litter")
    assert isinstance(session.worker, ForkedWorker)
    assert {"locked", "note.txt", "pipe"} <= set(left["tmp"]) and any(
        n.startswith("alive-") for n in left["tmp"]
    )
    assert len(left["procs"]) >= 5  # init, factory, worker, its child, the writer
    assert left["ipc"] == {"shmget": [-1, errno.EPERM], "msgget": [-1, errno.EPERM]}
    factory = session.factory
    session.stop()  # what test_quality's fresh_worker does
    fresh = _call(session, "look")
    assert isinstance(session.worker, ForkedWorker) and session.factory is factory  # swept, not replaced
    assert fresh["tmp"] == bare
    assert fresh["procs"] == sorted({1, fresh["factory"], fresh["me"]})
    time.sleep(0.2)
    assert _call(session, "look")["tmp"] == bare  # and nothing comes back
    assert session.starts == 2


def test_deaths_are_named_as_for_a_cold_worker(session):
    bare = _call(session, "look")["tmp"]
    with pytest.raises(SandboxCrash, match="exit3 crashed the sandboxed worker .*exited with code 3"):
        _call(session, "exit3")
    with pytest.raises(SandboxCrash, match="segfault crashed the sandboxed worker .*signal SIGSEGV"):
        _call(session, "segfault")
    factory = session.factory
    assert _call(session, "look")["tmp"] == bare and session.factory is factory  # one sandbox throughout


def test_a_worker_that_kills_or_stops_its_factory_costs_a_new_sandbox(session, monkeypatch):
    monkeypatch.setattr(launch_module, "FACTORY_S", 3.0)
    bare = _call(session, "look")["tmp"]
    assert _call(session, "kill_factory") == "done"
    first = session.factory
    session.stop()
    assert _call(session, "look")["tmp"] == bare and session.factory is not first
    assert _call(session, "stop_factory") == "done"
    second = session.factory
    session.stop()  # the sweep gets no answer: the sandbox is killed
    assert second is not None and not second.alive
    assert _call(session, "look")["tmp"] == bare and session.factory not in (first, second)


def test_cold_sessions_and_process_isolation_start_a_process_per_worker(root):
    cold = WorkerSession(
        root,
        detect_isolation("process"),
        limits=SandboxLimits(),
        forbidden={},
        call_s=20,
        deadline=time.monotonic() + 600,
        submission_s=600,
        warm=True,  # asked, but a plain process has no pid namespace to sweep
    )
    try:
        assert _call(cold, "look")["me"] > 0
        assert isinstance(cold.worker, WorkerProcess) and cold.factory is None
    finally:
        cold.close()


def test_the_wipe_keeps_what_the_sandbox_made_and_nothing_else(tmp_path):
    """bubblewrap makes folders in /tmp for the binds of a Python installed under /tmp (a clone in /tmp):
    they stay, whatever a worker put in them goes, and their modes come back."""
    made = tmp_path / "clone" / ".venv"
    made.mkdir(parents=True)
    baseline = zygote.snapshot(str(tmp_path))
    (made / "stash.txt").write_text("the hidden digits")
    (tmp_path / "new" / "deep").mkdir(parents=True)
    (tmp_path / "new" / "deep" / "digits.txt").write_text("x")
    (tmp_path / "new" / "deep").chmod(0)
    (tmp_path / "new").chmod(0)
    made.chmod(0o700)
    assert set(zygote.snapshot(str(tmp_path))) != set(baseline)
    assert zygote.wipe(str(tmp_path), baseline)
    assert zygote.snapshot(str(tmp_path)) == baseline and made.is_dir() and not (made / "stash.txt").exists()
