"""The sandbox: command line, limits, isolation detection and fallback, and what a real worker can see."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from grading_helpers import write_tree

from autograder.errors import SandboxUnavailable
from autograder.grading.notebooks.settings import NotebookGradingSettings
from autograder.sandbox import (
    CappedLog,
    IsolationChoice,
    IsolationKind,
    SandboxLimits,
    WorkerProcess,
    detect_cgroups,
    detect_isolation,
    seccomp,
)
from autograder.sandbox import detect as detect_module
from autograder.sandbox import launch as launch_module
from autograder.sandbox.bwrap import BwrapPlan, bwrap_command
from autograder.sandbox.cgroups import WorkerCgroup
from autograder.sandbox.notebook import plan_run
from autograder.sandbox.pyenv import python_env
from autograder.worker import protocol

REPO = Path(__file__).resolve().parent.parent
BWRAP = detect_isolation().kind is IsolationKind.BUBBLEWRAP
needs_bwrap = pytest.mark.skipif(not BWRAP, reason="bubblewrap is not usable on this machine")

PROBE = """
import os, socket, sys, importlib.util

def facts():
    status = open("/proc/self/status").read()
    def field(name):
        return next(l.split(":", 1)[1].strip() for l in status.splitlines() if l.startswith(name + ":"))
    out = {"uid": os.getuid(), "caps": field("CapEff"), "bounding": field("CapBnd"),
           "no_new_privs": field("NoNewPrivs"), "root": sorted(os.listdir("/")),
           "sys_path_has_kit": any(p.startswith("/work/main") and ".venv" not in p for p in sys.path),
           "exercise_code_file": __import__("exercise_code").__file__}
    return out

def attacks():  # only ever run inside bubblewrap: in process mode these would really happen
    out = {}
    for path in ("/submission/x", "/usr/x", "/x"):
        try:
            open(path, "w").write("x")
            out[path] = "WROTE"
        except OSError as exc:
            out[path] = type(exc).__name__
    open("/tmp/scratch.txt", "w").write("fine")
    out["scratch"] = open("/tmp/scratch.txt").read()
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=2)
        out["net"] = "CONNECTED"
    except OSError as exc:
        out["net"] = type(exc).__name__
    return out

def keyring(tag, action):  # the user keyring: (result, errno) of add_key / KEYCTL_SEARCH / KEYCTL_UNLINK
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    add_key, keyctl = {"x86_64": (248, 250), "aarch64": (217, 219)}[os.uname().machine]
    user_keyring = -4
    if action == "stash":
        data = b"the hidden digits, for the decoder"
        found = libc.syscall(add_key, b"user", tag.encode(), data, len(data), user_keyring)
    else:
        found = libc.syscall(keyctl, 10, user_keyring, b"user", tag.encode(), 0)
        if action == "drop" and found > 0:
            found = libc.syscall(keyctl, 9, found, user_keyring)
    return [found, ctypes.get_errno() if found < 0 else 0]
"""


@pytest.fixture(scope="module")
def submission_root(tmp_path_factory) -> Path:
    files = {"exercise_code/__init__.py": "", "exercise_code/probe.py": PROBE}
    return write_tree(tmp_path_factory.mktemp("sandbox_sub"), files)


def _call(worker: WorkerProcess, target: str, *args):
    tree, tensors = protocol.pack((args, {}))
    reply, out = worker.request(
        {"op": "call", "target": target, "id": 1, "payload": tree}, tensors, time.monotonic() + 30
    )
    assert reply["ok"], reply
    return protocol.unpack(reply["value"], out)


def test_bwrap_command_binds_only_what_is_needed(tmp_path):
    env = python_env()
    plan = BwrapPlan("bwrap", "privileged", env, str(tmp_path), "/src/worker", scratch_mb=64)
    cmd = bwrap_command(plan, ["python", "-c", "pass"])
    text = " ".join(cmd)
    for flag in ("--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session"):
        assert flag in cmd
    assert cmd[cmd.index("--cap-drop") + 1] == "ALL"
    binds = [(cmd[i + 1], cmd[i + 2]) for i, a in enumerate(cmd) if a == "--ro-bind"]
    dests = {dest for _, dest in binds}
    assert (str(tmp_path), "/submission") in binds
    assert str(env.prefix) in dests and all(str(s) in dests for s in env.site_packages)
    assert not any(d in ("/", "/root", "/etc", "/work", "/work/main") for d in dests)
    assert "--bind" not in cmd  # nothing writable from the host
    assert cmd.index("--tmpfs") < min(i for i, a in enumerate(cmd) if a == "--ro-bind")
    masked = {dest for src, dest in binds if src == "/dev/null"}
    assert {str(m) for m in env.masked} == masked
    assert "setpriv" in text and "--reuid 65534" in text and "--no-new-privs" in text
    assert cmd[-3:] == ["python", "-c", "pass"]
    userns = bwrap_command(BwrapPlan("bwrap", "userns", env, str(tmp_path), "/w", 64), ["true"])
    assert "--unshare-user" in userns and "--disable-userns" in userns and "setpriv" not in " ".join(userns)


def test_limits_validate_and_map_to_rlimits():
    with pytest.raises(ValueError, match="memory_mb must be at least 1024"):
        SandboxLimits(memory_mb=512)
    with pytest.raises(ValueError, match="processes must be positive"):
        SandboxLimits(processes=0)
    limits = SandboxLimits(processes=10)
    assert limits.rlimits(pids_cgroup=False)["nproc"] == 10
    assert limits.rlimits(pids_cgroup=True)["nproc"] == 80
    assert limits.rlimits(pids_cgroup=True)["core"] == 0


def test_capped_log_keeps_head_and_tail():
    log = CappedLog(head=10, tail=10)
    for i in range(1000):
        log.write(f"{i:04d}\n".encode())
    text = log.text()
    assert text.startswith("0000\n0001") and text.endswith("0998\n0999\n")
    assert "[4980 bytes omitted]" in text and log.total == 5000
    short = log.text(limit=100)
    assert len(short) < 140 and short.startswith("0000") and "bytes omitted" in short


def test_missing_bubblewrap_falls_back_and_says_so(monkeypatch):
    monkeypatch.setattr(detect_module.shutil, "which", lambda name: None)
    detect_isolation.cache_clear()
    try:
        isolation = detect_isolation(IsolationChoice.AUTO)
        assert isolation.kind is IsolationKind.PROCESS
        assert "not installed" in isolation.reason and "NOT SANDBOXED" in isolation.summary()
        with pytest.raises(SandboxUnavailable, match="bubblewrap was required"):
            detect_isolation(IsolationChoice.BUBBLEWRAP)
    finally:
        detect_isolation.cache_clear()


def test_bubblewrap_that_refuses_the_filter_still_sandboxes_and_says_so(monkeypatch):
    real = detect_module.try_bubblewrap

    def without_seccomp(bwrap, mode, timeout=60.0, *, filtered=True):
        return "bwrap trial run failed: seccomp filter not loaded" if filtered else real(bwrap, mode, timeout)

    monkeypatch.setattr(detect_module, "try_bubblewrap", without_seccomp)
    monkeypatch.setattr(seccomp, "_refused", None)  # restored afterwards, with the cache below
    detect_isolation.cache_clear()
    try:
        isolation = detect_isolation(IsolationChoice.AUTO)
        if not BWRAP:
            assert isolation.kind is IsolationKind.PROCESS
            return
        assert isolation.kind is IsolationKind.BUBBLEWRAP and seccomp.filter_fd() is None
        assert "keyring NOT filtered: bubblewrap refused the seccomp filter" in isolation.summary()
    finally:
        detect_isolation.cache_clear()


def test_unusable_bubblewrap_is_detected_by_trying_it():
    problem = detect_module.try_bubblewrap("/bin/false", "userns")
    assert problem is not None and "trial run failed" in problem


@pytest.mark.skipif(not detect_cgroups().usable, reason="no writable cgroups here")
def test_worker_cgroup_is_created_and_removed():
    group = WorkerCgroup(detect_cgroups(), 2**30, 16)
    assert all(d.is_dir() for d in group.dirs) and not group.oom_killed()
    group.remove()
    assert not any(d.exists() for d in group.dirs)


@needs_bwrap
def test_real_sandbox_is_locked_down(submission_root):
    worker = WorkerProcess(detect_isolation(), submission_root, SandboxLimits(), {}, CappedLog())
    try:
        facts = _call(worker, "exercise_code.probe.facts")
        attacks = _call(worker, "exercise_code.probe.attacks")
    finally:
        worker.close()
    assert facts["uid"] == 65534 and facts["no_new_privs"] == "1"
    assert int(facts["caps"], 16) == 0 and int(facts["bounding"], 16) == 0
    assert "etc" not in facts["root"] and "home" not in facts["root"]
    assert facts["exercise_code_file"] == "/submission/exercise_code/__init__.py"
    assert not facts["sys_path_has_kit"]
    assert attacks["/submission/x"] == attacks["/usr/x"] == attacks["/x"] == "OSError"  # read-only
    assert attacks["scratch"] == "fine"
    assert attacks["net"] == "OSError"
    assert not (submission_root / "x").exists()


def _stash_then_find(root: Path, tag: str) -> tuple[list[int], list[int]]:
    """One worker adds a key to the user keyring, the next (a fresh sandbox) looks for it and drops it."""
    results = []
    for action in ("stash", "drop"):
        worker = WorkerProcess(detect_isolation(), root, SandboxLimits(), {}, CappedLog())
        try:
            results.append(_call(worker, "exercise_code.probe.keyring", tag, action))
        finally:
            worker.close()
    return results[0], results[1]


@needs_bwrap
def test_the_kernel_keyring_carries_nothing_from_one_sandbox_to_the_next(submission_root, monkeypatch):
    """Keys are in no namespace: without the seccomp filter an encoder could leave the digits it saw in
    uid 65534's keyring for the fresh decoder (or another student's code) to read."""
    tag = f"autograder-test-{os.getpid()}-{time.time_ns()}"
    stashed, found = _stash_then_find(submission_root, tag)
    assert stashed == [-1, errno.EPERM] and found == [-1, errno.EPERM]
    monkeypatch.setattr(launch_module, "filter_fd", lambda: None)  # the same two workers, no filter
    stashed, found = _stash_then_find(submission_root, tag)
    if stashed[0] < 0:
        pytest.skip(f"this machine refuses keys to the sandbox by itself (errno {stashed[1]})")
    if detect_isolation().mode == "privileged":  # one keyring for host uid 65534: the attack is real here
        assert found == [0, 0], "the second worker found and dropped the first one's key"


@needs_bwrap
def test_the_notebook_sandbox_has_the_same_filter(tmp_path):
    run = plan_run(tmp_path, tmp_path, NotebookGradingSettings())
    try:
        assert run.pass_fds and run.argv[run.argv.index("--seccomp") + 1] == str(run.pass_fds[0])
        assert os.read(run.pass_fds[0], 1 << 16) == seccomp.program()
    finally:
        run.close()
    assert "no keyring" in detect_isolation().summary()


def test_process_fallback_runs_the_same_worker(submission_root):
    isolation = detect_isolation(IsolationChoice.PROCESS)
    assert "NOT SANDBOXED" in isolation.summary()
    worker = WorkerProcess(isolation, submission_root, SandboxLimits(), {}, CappedLog())
    try:
        facts = _call(worker, "exercise_code.probe.facts")
    finally:
        worker.close()
    assert facts["exercise_code_file"].endswith("submission/exercise_code/__init__.py")
    assert not facts["sys_path_has_kit"]  # -I -S: the editable install of the kit is not on sys.path
    assert worker.workspace is None  # the private copy is removed


def test_doctor_reports_the_active_isolation():
    from autograder.doctor import diagnose

    report = diagnose(start_worker=False)
    rows = dict(report.rows)
    assert rows["isolation"] == detect_isolation().summary()
    assert "rlimits" in rows and "cgroups" in rows and report.sandboxed == BWRAP
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "doctor",
            "--quick",
            "--isolation",
            "process",
            "--require-sandbox",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert out.returncode == 1 and "NOT SANDBOXED" in out.stdout


def test_worker_memory_limit_is_on_top_of_torch(submission_root):
    if not BWRAP:
        pytest.skip("bubblewrap is not usable on this machine")
    (submission_root / "exercise_code/alloc.py").write_text(
        "import torch\ndef big():\n    return torch.empty(50 * 2**30, dtype=torch.uint8).sum()\n"
    )
    (submission_root / "exercise_code/alloc.py").chmod(0o644)
    worker = WorkerProcess(detect_isolation(), submission_root, SandboxLimits(), {}, CappedLog())
    try:
        tree, tensors = protocol.pack(((), {}))
        reply, _ = worker.request(
            {"op": "call", "target": "exercise_code.alloc.big", "id": 1, "payload": tree},
            tensors,
            time.monotonic() + 30,
        )
        assert reply["kind"] == "memory"
        assert _call(worker, "exercise_code.probe.facts")["uid"] == 65534  # still alive and usable
    finally:
        worker.close()
    assert torch.ones(1).item() == 1.0
