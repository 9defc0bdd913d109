"""Batch grading on a real Dask cluster (LocalCluster worker processes, and the `dask` CLI): the same
results as the local executor, a killed worker, a submission that kills every worker it reaches,
resuming an interrupted batch, and a scheduler plus workers started from the command line."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from grading_helpers import base_files, write_tree, zip_tree

distributed = pytest.importorskip("distributed")
import cloudpickle  # noqa: E402 - a dependency of distributed
import dask  # noqa: E402

from autograder.cli import main as cli_main  # noqa: E402 - after the skip
from autograder.errors import GradingError  # noqa: E402
from autograder.grading import BatchSummary, GradeSettings, SubmissionResult, grade_batch  # noqa: E402
from autograder.grading.executors import (  # noqa: E402
    ClusterSpec,
    can_fork_warm,
    make_executor,
    parse_cluster,
)
from autograder.grading.remote import ALLOWED_FAILURES, local_cluster, zip_bytes  # noqa: E402
from autograder.grading.secret import write_key  # noqa: E402
from autograder.sandbox import IsolationChoice  # noqa: E402

DASK = Path(sys.executable).with_name("dask")
WORKERS_START_S = 300
"""How long a (re)started Dask worker may take to arrive: a guard, it returns as soon as they are there."""

SUITE = """
import torch


def test_double(submission):
    x = torch.arange(4.0)
    torch.testing.assert_close(submission.call("exercise_code.ops.double", x), 2 * x)


def test_nap(submission):
    assert submission.call("exercise_code.ops.nap") == "rested"


def test_key(hidden_key, record_fraction):
    record_fraction((hidden_key % 997) / 997)  # points that differ unless the batch's key arrived
"""
RUBRIC = """
["test_suite.py::test_double"]
points = 2
["test_suite.py::test_nap"]
points = 1
["test_suite.py::test_key"]
points = 1
"""
GOOD = """
import time
def double(x): return 2 * x
def nap(): return "rested"
"""
BUGGY = GOOD.replace("return 2 * x", "return x")
SLOW = GOOD.replace('def nap(): return "rested"', 'def nap():\n    time.sleep(5)\n    return "rested"')
SETTINGS = GradeSettings(call_s=30, submission_s=120)
KEY = 0x0123456789ABCDEF
KEY_POINTS = pytest.approx((KEY % 997) / 997, abs=1e-5)  # points are stored rounded
GOOD_SCORE = pytest.approx(3 + (KEY % 997) / 997, abs=1e-5)


cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test file


class KillOnStart(distributed.WorkerPlugin):
    """Test-only stand-in for a submission whose grading kills its worker (the OOM killer, a crash):
    whichever worker starts a task of `student` dies at once, every time."""

    def __init__(self, student: str) -> None:
        self.prefix = f"grade-{student}-"

    def transition(self, key, start, finish, **kwargs) -> None:
        if finish == "executing" and str(key).startswith(self.prefix):
            os.kill(os.getpid(), signal.SIGKILL)


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    return write_tree(tmp_path_factory.mktemp("suite"), {"test_suite.py": SUITE, "rubric.toml": RUBRIC})


@pytest.fixture(scope="module")
def key_file(tmp_path_factory) -> Path:
    return write_key(tmp_path_factory.mktemp("key") / "hidden-key", KEY)


@pytest.fixture(scope="module")
def subs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("subs")
    paths = {name: write_tree(root / name, base_files(GOOD)) for name in ("good", "killer", "a", "b")}
    paths["slow"] = write_tree(root / "slow", base_files(SLOW))
    paths["buggy"] = zip_tree(write_tree(root / "_buggy", base_files(BUGGY)), root / "buggy.zip")
    return paths


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A LocalCluster of 2 worker processes (one thread each), as `--cluster local:2` starts it."""
    cluster = local_cluster(2, local_directory=str(tmp_path_factory.mktemp("dask")))
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _grade(paths: list[Path], out: Path, suite: Path, key_file: Path, **kwargs) -> BatchSummary:
    return grade_batch(
        paths, out=out, seed=5, suites=suite, settings=SETTINGS, secret_file=key_file, **kwargs
    )


def _parent(pid: int) -> int | None:
    """The parent pid of a live process `pid`, None when it is gone (or a zombie)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return None if "zombie" in fields.get("State", "") else int(fields["PPid"])


def _grading_child(student: str, workers: set[int]) -> tuple[int, int, int] | None:
    """(its Dask worker, the grading child, the child's parent) of `student`'s task while the child runs.
    The child is the top-most process whose output goes to a task folder that holds `<student>.zip` (the
    sandbox below it writes there too), below a worker: its child when started cold, else its fork
    server's."""
    writing = set()
    for entry in Path("/proc").iterdir():
        try:
            log = Path(os.readlink(entry / "fd" / "1")) if entry.name.isdigit() else None
        except OSError:
            continue
        if log is not None and log.name == "child.log" and (log.parent / f"{student}.zip").is_file():
            writing.add(int(entry.name))
    for pid in writing:
        if _parent(pid) in writing:
            continue
        parent = ancestor = _parent(pid)
        for _ in range(2):
            if ancestor in workers:
                return ancestor, pid, parent
            ancestor = _parent(ancestor) if ancestor else None
    return None


def _tests(result: SubmissionResult) -> dict[str, tuple[str, float]]:
    return {t.name: (str(t.status), t.points) for t in result.tests}


def test_cluster_gives_the_same_results_as_local(client, subs, suite, key_file, tmp_path):
    paths = [subs["good"], subs["buggy"]]
    local = _grade(paths, tmp_path / "local", suite, key_file, workers=2)
    seen = []
    dask = _grade(
        paths,
        tmp_path / "dask",
        suite,
        key_file,
        cluster=client.scheduler.address,
        on_result=lambda r, resumed: seen.append((r.student, resumed)),
    )
    assert dask.graded == 2 and sorted(seen) == [("buggy", False), ("good", False)]
    for student in ("good", "buggy"):
        mine, theirs = dask.results[student], local.results[student]
        assert _tests(mine) == _tests(theirs) and mine.score == theirs.score
        assert (mine.status, mine.isolation, mine.seed) == (theirs.status, theirs.isolation, 5)
        assert mine.source_sha256 == theirs.source_sha256  # so a re-run resumes either one
        stored = SubmissionResult.load(tmp_path / "dask" / "results" / f"{student}.json")
        assert _tests(stored) == _tests(theirs)
        assert (tmp_path / "dask" / "work" / student / "manifest.json").is_file()
        assert (tmp_path / "dask" / "logs" / f"{student}.log").is_file()
    assert _tests(dask.results["good"])["test_suite.py::test_key"] == ("passed", KEY_POINTS)
    assert _tests(dask.results["buggy"])["test_suite.py::test_double"] == ("failed", 0.0)


def test_a_killed_worker_has_its_task_rerun(client, subs, suite, key_file, tmp_path):
    """`local:N` workers are not daemonic: each grading child is forked from its worker's fork server (a
    child cold-started by the worker would be the worker's own child), and dies with the worker."""
    client.wait_for_workers(2, timeout=WORKERS_START_S)
    worker_pids = set(client.run(os.getpid).values())
    killed: list[tuple[int, int, int]] = []

    def kill_the_slow_ones_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = _grading_child("slow", worker_pids)
            if found is not None:  # the grading child of `slow` runs: kill its Dask worker
                time.sleep(1.0)
                os.kill(found[0], signal.SIGKILL)
                killed.append(found)
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_the_slow_ones_worker, daemon=True)
    killer.start()
    summary = _grade(
        [subs["slow"], subs["good"]], tmp_path / "out", suite, key_file, cluster=client.scheduler.address
    )
    killer.join(timeout=5)
    assert killed, "the slow submission's worker was never seen"
    worker, child, parent = killed[0]
    assert parent != worker  # forked from the worker's fork server, not started cold by the worker
    assert {s: r.status for s, r in summary.results.items()} == {"slow": "graded", "good": "graded"}
    assert _tests(summary.results["slow"])["test_suite.py::test_nap"] == ("passed", 1.0)
    for _ in range(100):  # the grading child died with its worker (PR_SET_PDEATHSIG)
        if _parent(child) is None:
            break
        time.sleep(0.1)
    assert _parent(child) is None
    client.wait_for_workers(2, timeout=WORKERS_START_S)
    assert worker not in client.run(os.getpid).values()  # the nanny started a fresh one


def test_a_submission_that_kills_every_worker_ends_crashed(subs, suite, key_file, tmp_path):
    """On a cluster of its own: after workers are killed this often, distributed's nannies may give up on
    one (on a loaded machine they did), which must not leave the other tests' cluster short."""
    cluster = local_cluster(2, local_directory=str(tmp_path / "dask"))
    client = distributed.Client(cluster)
    try:
        client.wait_for_workers(2, timeout=WORKERS_START_S)
        client.register_plugin(KillOnStart("killer"), name="kill-on-start")
        summary = _grade(
            [subs["killer"], subs["good"]],
            tmp_path / "out",
            suite,
            key_file,
            cluster=client.scheduler.address,
        )
    finally:
        client.close()
        cluster.close()
    crashed = summary.results["killer"]
    assert crashed.status == "crashed" and crashed.tests == [] and crashed.max_score == 4.0
    assert f"killed its Dask worker {ALLOWED_FAILURES + 1} times" in crashed.message
    assert SubmissionResult.load(tmp_path / "out" / "results" / "killer.json").status == "crashed"
    assert summary.results["good"].status == "graded" and summary.results["good"].score == GOOD_SCORE


class _Stop(Exception):
    """Stands for a TA's Ctrl-C after the first result."""


def test_an_interrupted_batch_resends_only_unfinished(client, subs, suite, key_file, tmp_path):
    paths, out = [subs["a"], subs["b"]], tmp_path / "out"

    def stop(result: SubmissionResult, resumed: bool) -> None:
        raise _Stop(result.student)

    with pytest.raises(_Stop):  # `local:1`: a LocalCluster of its own (its worker has a GPU slot), closed
        _grade(paths, out, suite, key_file, cluster="local:1", gpu=True, on_result=stop)
    first = sorted(p.stem for p in (out / "results").glob("*.json"))
    assert len(first) == 1
    seen = []
    with distributed.get_task_stream(client) as stream:
        summary = _grade(
            paths,
            out,
            suite,
            key_file,
            cluster=client.scheduler.address,
            on_result=lambda r, resumed: seen.append((r.student, resumed)),
        )
    sent = sorted(str(task["key"]).split("-")[1] for task in stream.data if "grade-" in str(task["key"]))
    assert sent == sorted(set("ab") - set(first))
    assert summary.resumed == 1 and summary.graded == 1 and (first[0], True) in seen
    assert all(r.status == "graded" for r in summary.results.values())


def test_a_worker_that_cannot_sandbox_gives_an_unstored_error(client, subs, suite, key_file, tmp_path):
    client.wait_for_workers(2, timeout=WORKERS_START_S)
    paths = client.run(lambda: os.environ["PATH"])
    client.run(lambda: os.environ.__setitem__("PATH", "/nonexistent"))  # no bwrap on these workers
    try:
        settings = dataclasses.replace(SETTINGS, isolation=IsolationChoice.BUBBLEWRAP)
        summary = grade_batch(
            [subs["good"]],
            out=tmp_path / "out",
            suites=suite,
            settings=settings,
            secret_file=key_file,
            cluster=client.scheduler.address,
        )
    finally:
        for worker, path in paths.items():
            client.run(lambda path=path: os.environ.__setitem__("PATH", path), workers=[worker])
    result = summary.results["good"]
    assert result.status == "error" and "SandboxUnavailable: bubblewrap was required" in result.message
    assert not (tmp_path / "out" / "results" / "good.json").exists()  # a re-run grades it again


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_scheduler_and_workers_started_with_the_dask_cli(subs, suite, key_file, tmp_path):
    """One worker started as docs/cluster.md says (not daemonic: its grading children are forked from a
    warm fork server), one with Dask's defaults (daemonic: they start cold); both grade."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    common = {"cwd": tmp_path, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]
    procs = [subprocess.Popen(scheduler, **common)]
    try:
        for daemon in ("False", None):
            env = {k: v for k, v in os.environ.items() if k != "DASK_DISTRIBUTED__WORKER__DAEMON"}
            env |= {"DASK_DISTRIBUTED__WORKER__DAEMON": daemon} if daemon else {}
            args = [DASK, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"]
            procs.append(subprocess.Popen([*args, "--local-directory", str(tmp_path)], env=env, **common))
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=WORKERS_START_S)
            assert sorted(client.run(can_fork_warm).values()) == [False, True]
        out = tmp_path / "out"
        args = ["grade", str(subs["good"]), str(subs["buggy"]), "--out", str(out), "--cluster", address]
        args += ["--suites", str(suite), "--seed", "5", "--secret-file", str(key_file)]
        assert cli_main([*args, "--call-timeout", "30", "--submission-timeout", "120"]) == 0
        results = {p.stem: SubmissionResult.load(p) for p in (out / "results").glob("*.json")}
        assert {s: r.status for s, r in results.items()} == {"good": "graded", "buggy": "graded"}
        assert results["good"].score == GOOD_SCORE
        assert _tests(results["buggy"])["test_suite.py::test_double"] == ("failed", 0.0)
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_bad_cluster_settings_are_refused(tmp_path, subs, capsys):
    assert parse_cluster("local:3") == ClusterSpec(local_workers=3)
    assert parse_cluster("tcp://lab1:8786", gpu=True) == ClusterSpec(address="tcp://lab1:8786", gpu=True)
    with pytest.raises(ValueError, match="local:N needs at least one worker, got 'local:0'"):
        parse_cluster("local:0")
    with pytest.raises(ValueError, match="cluster must be 'tcp://HOST:PORT'.*got 'http://lab1'"):
        parse_cluster("http://lab1")
    with pytest.raises(ValueError, match="gpu=True needs a Dask cluster"):
        make_executor(gpu=True)
    with pytest.raises(ValueError, match="gpu=True needs a Dask cluster"):
        grade_batch([subs["good"]], out=tmp_path / "out", gpu=True)
    assert cli_main(["grade", str(subs["good"]), "--out", str(tmp_path), "--cluster", "lab1"]) == 2
    assert "cluster must be" in capsys.readouterr().err
    with pytest.raises(GradingError, match="good is over the intake cap"):
        zip_bytes(subs["good"], max_bytes=10)


def test_an_unreachable_scheduler_is_a_grading_error(subs, suite, key_file, tmp_path):
    port = _free_port()  # nothing listens there
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        with pytest.raises(GradingError, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"):
            _grade([subs["good"]], tmp_path / "out", suite, key_file, cluster=f"tcp://127.0.0.1:{port}")
