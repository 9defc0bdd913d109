"""Grading throughput: a mixed batch graded completely (hidden suites AND notebooks), side by side.

The batch (cycled to --n): the demo's five sample students (reference, released skeleton, ben with two
wrong layers, cara with stripped notebook metadata, mallory's escape attempts and memory bomb), wrong
solutions from tests/corpus, and one student whose `conv_transpose2d` never returns. Every one carries
notebooks and models trained for a few seconds, so every stage runs; the scores mean little.

Runs, in the same invocation: `--workers 1`, `--workers 2`, `--cluster local:2` (needs the `cluster`
extra), `cold`: `--workers 2` with every grading process, sandboxed worker and notebook kernel started
cold (no fork server, no worker factory, no kernel zygote), the floor:
`--workers 2` without the sandbox (`--isolation process`: the same child and worker processes, no
bubblewrap), and `busy`: `--workers 2` again beside 4 CPU-burning processes, whose statuses and scores
must equal the idle run's. CPU is sampled over the whole process tree
(psutil, 5 Hz: every child, worker, runner and kernel, sandboxed or not), so it does not depend on who
reaps whom.

Prints per run: wall time, submissions per minute, CPU-seconds per submission; per stage (from the
--workers 1 run, where stages do not overlap): CPU-seconds per submission for intake, suites (worker
start included), examples and notebooks, and by process (the grading child, bubblewrap, the suites' worker
factory and its workers, the notebook runner, the kernel zygote and the kernels); one worker start with
and without the sandbox, and one forked from the factory in the submission's sandbox; the sandbox
overhead (sandboxed / floor, CPU and wall); and the endless-loop student's wall time against the
reference's plus two call timeouts; warm starts against cold ones (CPU and wall).

    .venv/bin/python bench/grading.py [--n 12] [--runs w1 w2 cluster floor busy cold] [--kinds reference]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder.demo.submissions import _patch, build_demo_submissions, escaped_markers  # noqa: E402
from autograder.grading import GradeSettings, SubmissionResult, grade_batch  # noqa: E402
from autograder.grading.notebooks import NotebookGradingSettings  # noqa: E402
from autograder.grading.secret import draw_key, write_key  # noqa: E402
from autograder.release import release  # noqa: E402
from autograder.verify.corpus import apply_entry, load_corpus  # noqa: E402

ENDLESS = "while True:\n    pass"
RUNS = {
    "w1": {"workers": 1},
    "w2": {"workers": 2},
    "cluster": {"cluster": "local:2"},
    "floor": {"workers": 2, "isolation": "process"},
    "busy": {"workers": 2, "burners": 4},
    "cold": {"workers": 2, "warm_kernels": False, "warm_start": False},
}
"""Run name -> how it grades (`floor`: no sandbox; `busy`: beside 4 CPU-burning processes; `cold`: every
grading process and notebook kernel started cold instead of forked from the fork server and the zygote)."""
BURN = "while True:\n    pass\n"


class TreeCpu:
    """CPU seconds of every process below this one, sampled in a thread (a process's last sample counts
    after it ends; samples 0.2 s apart miss at most the last 0.2 s of each process)."""

    def __init__(self, period: float = 0.2, skip: set[int] = frozenset()) -> None:
        self.period, self.seen, self.series, self.skip = period, {}, [], skip
        self.role: dict[tuple[int, float], str] = {}
        """`server` (the fork server), `child` (a submission's trusted grading process, forked or cold)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            for proc in me.children(recursive=True):
                if proc.pid in self.skip:
                    continue
                try:
                    times = proc.cpu_times()
                    key = (proc.pid, proc.create_time())
                    self.seen[key] = times.user + times.system
                    if self.role.get(key) in (None, "", "zygote"):  # look again: until it execs, a
                        # process has its parent's command line; a kernel is the zygote's until setsid
                        self.role[key] = self._role(proc)
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
            own = me.cpu_times()
            self.series.append((time.time(), sum(self.seen.values()) + own.user + own.system))
            self._stop.wait(self.period)

    def _role(self, proc: psutil.Process) -> str:
        """What `proc` is, from its command line (forked processes keep their parent's)."""
        command = " ".join(proc.cmdline())
        if "multiprocessing.forkserver" in command:  # the server, or a child forked from it
            servers = {pid for (pid, _), role in self.role.items() if role == "server"}
            return "child" if proc.ppid() in servers else "server"
        if "autograder.grading.child" in command:
            return "child"
        if "bwrap" in command.split(" ", 1)[0]:
            return "bwrap"
        if "agworker.main" in command:  # the suites' worker factory, a worker it forked, or a cold worker
            parent_proc = proc.parent()
            parent = parent_proc.cmdline() if parent_proc else []
            forked = bool(parent) and "bwrap" not in parent[0] and "agworker.main" in " ".join(parent)
            return "worker" if forked or "ctl_fd" not in command else "factory"
        if "runner.py" in command:
            return "runner"
        if "zygote.py" in command:  # the notebooks' kernel zygote, or a kernel it forked (own session)
            try:
                return "kernel" if os.getsid(proc.pid) == proc.pid else "zygote"
            except ProcessLookupError:  # gone since its command line was read: its CPU counts, its role not
                return ""
        return "kernel" if "ipykernel_launcher" in command else ""

    def by_role(self, role: str) -> list[float]:
        """CPU seconds of each process of `role` seen (`child`: one per submission graded)."""
        return [cpu for key, cpu in self.seen.items() if self.role.get(key) == role]

    def at(self, t: float) -> float:
        """Cumulative tree CPU at wall time `t` (the last sample before it)."""
        before = [cpu for when, cpu in self.series if when <= t]
        return before[-1] if before else 0.0

    def __enter__(self) -> TreeCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def total(self) -> float:
        return self.series[-1][1] - self.series[0][1] if self.series else 0.0


def build(root: Path, n: int, only: list[str] | None = None) -> list[Path]:
    """`n` submissions under `root`: the demo's five students, corpus bugs and an endless loop, cycled
    (`only`: just the kinds of these names, e.g. `reference` for a batch of correct submissions)."""
    if root.exists():
        shutil.rmtree(root)
    rel = release(source=REPO, out=root / "release", notebooks=False).out
    demo = build_demo_submissions(source=REPO, release=rel, out=root / "demo", train_seconds=2.0)
    reference = next(s.path for s in demo if s.name == "reference")
    endless = root / "endless"
    shutil.copytree(reference, endless)
    _patch(endless, "layers/transpose_conv.py", "conv_transpose2d", ENDLESS)
    bugs = []
    for entry in [e for e in load_corpus(REPO / "tests" / "corpus") if e.kind == "bug"][:4]:
        path = root / f"bug-{entry.name}"
        shutil.copytree(reference, path)
        apply_entry(path, entry)
        bugs.append(path)
    kinds = [*(s.path for s in demo), endless, *bugs]
    if only:
        kinds = [k for k in kinds if k.name in only]
        if not kinds:
            raise SystemExit(f"--kinds {' '.join(only)}: no such submissions")
    subs = []
    for i in range(n):
        path = root / "batch" / f"{i:03d}_{kinds[i % len(kinds)].name}"
        shutil.copytree(kinds[i % len(kinds)], path)
        subs.append(path)
    return subs


def run(name: str, subs: list[Path], out: Path, settings: GradeSettings, key: Path) -> dict[str, Any]:
    """Grade `subs` as run `name` says, on the hidden data of `key` (the same for every run, so scores
    compare); returns wall, tree CPU and the results."""
    how = dict(RUNS[name])
    isolation, warm_start = how.pop("isolation", settings.isolation), how.pop("warm_start", True)
    burners = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(how.pop("burners", 0))]
    how["notebook_settings"] = NotebookGradingSettings(warm_kernels=how.pop("warm_kernels", True))
    shutil.rmtree(out, ignore_errors=True)
    started = time.monotonic()
    try:
        with TreeCpu(skip={p.pid for p in burners}) as cpu:
            graded = dataclasses.replace(settings, isolation=isolation, warm_start=warm_start)
            summary = grade_batch(subs, out=out, seed=0, settings=graded, secret_file=key, **how)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
        # without the sandbox mallory's writes land on this machine: tidy them up (sandboxed runs keep them)
        for marker in escaped_markers() if isolation == "process" else []:
            marker.unlink(missing_ok=True)
    wall = time.monotonic() - started
    return {"wall": wall, "cpu": cpu.total, "tree": cpu, "results": list(summary.results.values())}


def sandbox_start(root: Path, isolation: str, times: int = 3) -> tuple[float, float]:
    """(tree CPU-seconds, wall seconds) of starting one grading worker and its first answer, with
    `isolation` ("bubblewrap" or "process"), mean over `times` starts: the price of a sandboxed start."""
    from autograder.grading.session import WorkerSession
    from autograder.sandbox import detect_isolation

    settings = GradeSettings()
    cpu, wall = [], []
    for _ in range(times):
        session = WorkerSession(
            root,
            detect_isolation(isolation),
            limits=settings.sandbox,
            forbidden={},
            call_s=60.0,
            deadline=time.monotonic() + 120,
            submission_s=120,
        )
        with TreeCpu(period=0.05) as tree:
            started = time.monotonic()
            session.request({"op": "ping"}, what="ping")
            wall.append(time.monotonic() - started)
            session.stop()
        cpu.append(tree.total)
    return statistics.mean(cpu), statistics.mean(wall)


def forked_start(root: Path, times: int = 5) -> tuple[float, float]:
    """(tree CPU-seconds, wall seconds) of replacing a worker by one forked from the factory in the same
    sandbox (the sweep included), mean over `times`: what a fresh worker costs once the factory runs."""
    from autograder.grading.session import WorkerSession
    from autograder.sandbox import detect_isolation

    settings = GradeSettings()
    session = WorkerSession(
        root,
        detect_isolation("bubblewrap"),
        limits=settings.sandbox,
        forbidden={},
        call_s=60.0,
        deadline=time.monotonic() + 300,
        submission_s=300,
        warm=True,
    )
    cpu, wall = [], []
    try:
        session.request({"op": "ping"}, what="ping")  # the factory and its first worker
        for _ in range(times):
            with TreeCpu(period=0.05) as tree:
                started = time.monotonic()
                session.stop()
                session.request({"op": "ping"}, what="ping")
                wall.append(time.monotonic() - started)
                time.sleep(0.3)  # the sampler's next looks see the new worker (idle now: no CPU)
            cpu.append(tree.total)
    finally:
        session.close()
    return statistics.mean(cpu), statistics.mean(wall)


def stage_cpu(results: list[SubmissionResult], tree: TreeCpu) -> dict[str, float]:
    """Mean tree-CPU seconds per submission of each stage (valid when stages do not overlap: 1 worker)."""
    per: dict[str, list[float]] = {}
    for result in results:
        for stage, data in result.stages.items():
            start = float(data.get("at", 0.0))
            per.setdefault(stage, []).append(tree.at(start + float(data["wall_s"])) - tree.at(start))
    return {stage: statistics.mean(values) for stage, values in per.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS))
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bench" / "grading")
    parser.add_argument("--kinds", nargs="+", help="only these submissions (e.g. reference, endless)")
    args = parser.parse_args(argv)
    start = time.monotonic()
    subs = build(args.out / "input", args.n, args.kinds)
    load = os.getloadavg()[0]
    print(
        f"built {len(subs)} submissions in {time.monotonic() - start:.0f} s; {os.cpu_count()} cores, "
        f"load average {load:.1f} before the runs"
    )
    settings = GradeSettings()
    starts = {iso: sandbox_start(subs[0], iso) for iso in ("bubblewrap", "process")}
    print(
        "one worker start (torch imported, first answer): "
        + ", ".join(f"{iso} {cpu:.2f} CPU-s {wall:.2f} s wall" for iso, (cpu, wall) in starts.items())
        + f"; the sandbox adds {starts['bubblewrap'][0] - starts['process'][0]:+.2f} CPU-s per start",
        flush=True,
    )
    forked = forked_start(subs[0])
    print(
        f"a fresh worker forked from the factory in the submission's sandbox (sweep included): "
        f"{forked[0]:.2f} CPU-s {forked[1]:.3f} s wall, "
        f"{forked[0] / starts['bubblewrap'][0]:.2f}x a cold start",
        flush=True,
    )
    key = args.out / "hidden-key"
    key.unlink(missing_ok=True)
    write_key(key, draw_key())
    rows = {}
    for name in args.runs:
        rows[name] = run(name, subs, args.out / name, settings, key)
        statuses = sorted({str(r.status) for r in rows[name]["results"]})
        print(f"{name}: {rows[name]['wall']:.0f} s wall, statuses {statuses}", flush=True)
    print(f"\n{'run':>8} {'wall s':>8} {'subs/min':>9} {'CPU s/sub':>10} {'wall vs w1':>11}")
    base = rows.get("w1", next(iter(rows.values())))["wall"]
    for name, row in rows.items():
        n = len(row["results"])
        print(
            f"{name:>8} {row['wall']:>8.0f} {60 * n / row['wall']:>9.2f} {row['cpu'] / n:>10.1f} "
            f"{base / row['wall']:>10.2f}x"
        )
    if "w1" in rows:
        tree, n = rows["w1"]["tree"], len(rows["w1"]["results"])
        roles = ("child", "bwrap", "factory", "worker", "runner", "zygote", "kernel")
        print(
            "CPU-seconds per submission by process (--workers 1): "
            + ", ".join(f"{role} {sum(tree.by_role(role)) / n:.1f}" for role in roles)
            + f" (child: intake, pytest, the notebooks' scoring; factory: the suites' sandboxed worker"
            f" factory; zygote: the notebooks' kernel factory; {len(tree.by_role('kernel')) / n:.1f} kernels"
            f" and {len(tree.by_role('worker')) / n:.1f} workers each)"
        )
        stages = stage_cpu(rows["w1"]["results"], rows["w1"]["tree"])
        print(
            "CPU-seconds per submission by stage (--workers 1): "
            + ", ".join(f"{k} {v:.1f}" for k, v in stages.items())
        )
        correct = [r for r in rows["w1"]["results"] if r.student.endswith("_reference")]
        if correct:
            mine = stage_cpu(correct, rows["w1"]["tree"])
            print(
                f"reference students: {statistics.mean(r.seconds for r in correct):.0f} s wall, "
                f"{sum(mine.values()):.1f} CPU-s each ("
                + ", ".join(f"{k} {v:.1f}" for k, v in mine.items())
                + ")"
            )
    if "w2" in rows and "floor" in rows:
        w2, floor = rows["w2"], rows["floor"]
        print(
            f"sandbox overhead (sandboxed / floor, --workers 2): CPU {w2['cpu'] / floor['cpu']:.2f}x, "
            f"wall {w2['wall'] / floor['wall']:.2f}x"
        )
    if "w2" in rows and "cold" in rows:
        w2, cold = rows["w2"], rows["cold"]
        warm_child, cold_child = w2["tree"].by_role("child"), cold["tree"].by_role("child")
        server = [cpu for row in rows.values() for cpu in row["tree"].by_role("server")]
        print(
            "trusted grading process per submission, --workers 2: "
            f"forked {statistics.mean(warm_child):.1f} CPU-s, cold {statistics.mean(cold_child):.1f} CPU-s "
            f"({statistics.mean(warm_child) / statistics.mean(cold_child):.2f}x); the fork server "
            f"{max(server, default=0.0):.1f} CPU-s once per batch"
        )
        print(
            "warm starts (fork server, zygote) against cold ones, --workers 2: "
            f"CPU {w2['cpu'] / cold['cpu']:.2f}x, wall {w2['wall'] / cold['wall']:.2f}x"
        )
    if "w2" in rows and "busy" in rows:
        idle = {r.student: (str(r.status), r.score) for r in rows["w2"]["results"]}
        busy = {r.student: (str(r.status), r.score) for r in rows["busy"]["results"]}
        differ = sorted(s for s in idle if idle[s] != busy.get(s))
        print(
            f"beside 4 CPU burners ({rows['busy']['wall'] / rows['w2']['wall']:.2f}x the wall time): "
            + (
                "every status and score identical"
                if not differ
                else f"DIFFERENT for {differ}: "
                + "; ".join(f"{s} {idle[s]} -> {busy.get(s)}" for s in differ)
            )
        )
    first = rows[next(iter(rows))]["results"]
    ref = [r.seconds for r in first if r.student.endswith("_reference")]
    loop = [r.seconds for r in first if r.student.endswith("_endless")]
    if ref and loop:
        bound = statistics.mean(ref) + 2 * settings.call_s
        print(
            f"endless-loop student: {statistics.mean(loop):.0f} s wall; reference + 2 call timeouts = "
            f"{bound:.0f} s ({'within' if statistics.mean(loop) <= bound else 'OVER'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
