"""One sandbox per submission's notebooks, kernels forked warm from zygote.py: each notebook still gets a
fresh process on a fresh copy, sees nothing an earlier notebook left, and a kernel that kills the runner
or the zygote costs only its own notebook."""

from __future__ import annotations

import asyncio
import copy
import json
from collections import deque
from pathlib import Path
from queue import Empty

import pytest
from test_nbgrade import needs_bwrap, student, submit, write_sources

from autograder.grading.notebooks import NotebookGradingSettings, grade_notebooks, runner

SETTINGS = NotebookGradingSettings(cell_timeout_s=20, budget_s=120, interrupt_grace_s=5)
ADD = "def add(a, b):\n    return a + b\n"
ZYGOTE = """\
def _zygote():
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if b"zygote.py" in handle.read():
                    return int(pid)
        except OSError:
            pass
"""
LEAVE_BEHIND = f"""\
import os
import subprocess
import sys
import time

import numpy

{ZYGOTE}
numpy.LEFT_BEHIND = 1  # numpy was imported by the zygote: a reused process would still have this
open("left.txt", "w").write("x")
open("/tmp/left.txt", "w").write("x")
sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
for _ in range(1000):  # until it shows as itself in /proc (a loaded machine may take a moment)
    with open(f"/proc/{{sleeper.pid}}/cmdline", "rb") as handle:
        if b"time.sleep(300)" in handle.read():
            break
    time.sleep(0.01)
"""
LEAVE = LEAVE_BEHIND + ADD
FIND = f"""\
import os

import numpy

{ZYGOTE}
found = [p for p in ("left.txt", "/tmp/left.txt") if os.path.exists(p)]
if hasattr(numpy, "LEFT_BEHIND"):
    found.append("numpy.LEFT_BEHIND")
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{{pid}}/cmdline", "rb") as handle:
            if b"time.sleep(300)" in handle.read():
                found.append("the sleeper")
    except OSError:
        pass
try:
    open(f"/proc/{{_zygote()}}/mem", "rb").read(1)
    found.append("zygote memory readable")
except OSError:
    pass


def add(a, b):
    if found:
        raise RuntimeError(", ".join(found))
    return a + b
"""


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sources(tmp_path_factory.mktemp("source"))


def _pair(source_dir: Path, tmp_path: Path, first_add: str, second_add: str = ADD) -> Path:
    root = submit(tmp_path, student(source_dir, add=first_add))
    second = copy.deepcopy(student(source_dir, add=second_add))
    second.cells[0].source = "# Another synthetic notebook"
    (root / "02_second.ipynb").write_text(json.dumps(second), encoding="utf-8")
    return root


def _statuses(result: dict) -> list[str]:
    return [t["status"] for t in result["tests"]]


@needs_bwrap
def test_a_notebook_sees_nothing_the_one_before_left(source_dir: Path, tmp_path: Path) -> None:
    """Files in the copy and in /tmp, a changed module of the warm process, a process started to outlive
    its kernel: none reaches the next notebook, and its kernel cannot read the zygote's memory."""
    root = _pair(source_dir, tmp_path, LEAVE, FIND)
    first, second = grade_notebooks(source_dir=source_dir, submission_root=root, settings=SETTINGS)
    assert _statuses(first) == ["passed"] * 3
    assert _statuses(second) == ["passed"] * 3, second["tests"][0]["message"]


@needs_bwrap
def test_the_check_above_sees_what_one_kernel_leaves_for_itself(source_dir: Path, tmp_path: Path) -> None:
    """The same check in the same notebook, after the leaving: it fails, so it can fail."""
    root = submit(tmp_path, student(source_dir, add=LEAVE_BEHIND + FIND))
    (first,) = grade_notebooks(source_dir=source_dir, submission_root=root, settings=SETTINGS)[:1]
    message = first["tests"][0]["message"]
    assert "left.txt, /tmp/left.txt, numpy.LEFT_BEHIND, the sleeper" in message


KILL_RUNNER = "import os\nimport signal\n\nos.kill(os.getppid(), signal.SIGKILL)\n" + ADD
KILL_ZYGOTE = f"import os\nimport signal\n\n{ZYGOTE}\nos.kill(_zygote(), signal.SIGKILL)\n{ADD}"


@needs_bwrap
@pytest.mark.parametrize("first_add", [KILL_RUNNER, KILL_ZYGOTE], ids=["runner", "zygote"])
def test_a_kernel_that_kills_the_runner_or_the_zygote_costs_only_its_notebook(
    source_dir: Path, tmp_path: Path, first_add: str
) -> None:
    """The runner is started again for the notebooks it had not begun; without the zygote, kernels start
    cold."""
    root = _pair(source_dir, tmp_path, first_add)
    first, second = grade_notebooks(source_dir=source_dir, submission_root=root, settings=SETTINGS)
    if first_add is KILL_RUNNER:
        assert _statuses(first) == ["crashed"] * 3
        assert "runner stopped early" in first["tests"][0]["message"]
    else:
        assert _statuses(first) == ["passed"] * 3
    assert _statuses(second) == ["passed"] * 3


@needs_bwrap
def test_warm_and_cold_kernels_grade_alike(source_dir: Path, tmp_path: Path) -> None:
    scale = "def scale(x):\n    return 2 * x + 1\n"
    root = submit(tmp_path, student(source_dir, scale=scale, add="def add(a, b):\n    return a - b\n"))
    results = [
        grade_notebooks(
            source_dir=source_dir,
            submission_root=root,
            settings=NotebookGradingSettings(cell_timeout_s=20, budget_s=120, warm_kernels=warm),
        )
        for warm in (True, False)
    ]
    warm, cold = (
        [(t["name"], t["status"], t["points"], t["message"]) for r in rs for t in r["tests"]]
        for rs in results
    )
    assert warm == cold
    assert {status for _, status, _, _ in warm} == {"failed", "missing"}


class _Channel:
    """A kernel channel whose messages are already queued; `waits` counts reads that found none (where a
    real channel would sit out its timeout). With `flood`, that message is always there."""

    def __init__(self, flood: dict | None = None) -> None:
        self.queue: deque[dict] = deque()
        self.waits = 0
        self.flood = flood

    async def get_msg(self, timeout: float | None = None) -> dict:
        if self.flood is not None:
            return self.flood
        if not self.queue:
            self.waits += 1
            raise Empty
        return self.queue.popleft()

    async def msg_ready(self) -> bool:
        return self.flood is not None or bool(self.queue)


class _StartingKernel:
    """A kernel client's view of a kernel starting the way ipykernel 7 does: its answer to the first
    kernel_info goes out before the client's IOPub subscription is in place (only the `iopub_welcome`
    arrives), later ones come with their `busy` and `idle` statuses. With `welcome=False`, an older kernel
    that sends no welcome. Something else is queued behind the handshake (`late`)."""

    parent = None

    def __init__(self, welcome: bool = True) -> None:
        self.shell_channel, self.iopub_channel = _Channel(), _Channel()
        self.welcome, self.asked, self.info = welcome, [], None

    def kernel_info(self) -> str:
        msg_id = f"info-{len(self.asked)}"
        self.asked.append(msg_id)
        shell, iopub = self.shell_channel.queue, self.iopub_channel.queue
        shell.append({"msg_type": "kernel_info_reply", "parent_header": {"msg_id": msg_id}})
        if len(self.asked) == 1:
            if self.welcome:
                iopub.append({"msg_type": "iopub_welcome", "parent_header": {}, "content": {}})
            return msg_id
        for state in ("busy", "idle"):
            iopub.append(
                {
                    "msg_type": "status",
                    "parent_header": {"msg_id": msg_id},
                    "content": {"execution_state": state},
                }
            )
        iopub.append({"msg_type": "stream", "parent_header": {}, "content": {"text": "late"}})
        return msg_id

    def _handle_kernel_info_reply(self, msg: dict) -> None:
        self.info = msg

    async def _async_is_alive(self) -> bool:
        return True


@pytest.mark.parametrize("welcome", [True, False], ids=["welcome", "no-welcome"])
def test_a_kernel_start_ends_with_its_handshake_not_after_a_silence(welcome: bool) -> None:
    """The notebook runner's kernel clients are ready once IOPub has carried the `idle` of a kernel_info
    request: they do not then wait for 0.2 s of silence on IOPub, as jupyter_client's `wait_for_ready`
    does before every kernel start, and the kernel's welcome makes them ask again at once (this test
    fails with jupyter_client's wait: it takes the welcome for the handshake, asks once and then waits).
    Only a kernel that sends no welcome costs one silence, where its first answer went unseen. What is
    queued behind the handshake is dropped, so it cannot reach the first cell."""
    kernel = _StartingKernel(welcome)
    asyncio.run(runner._wait_for_ready(kernel, timeout=5))
    assert kernel.asked == ["info-0", "info-1"] and kernel.info is not None
    assert (kernel.shell_channel.waits, kernel.iopub_channel.waits) == (0, 0 if welcome else 1)
    assert not kernel.iopub_channel.queue and not kernel.shell_channel.queue


class _Flooding(_StartingKernel):
    """A kernel that publishes on IOPub without end from its start (a student's startup file could)."""

    def __init__(self) -> None:
        super().__init__()
        self.iopub_channel = _Channel(
            flood={"msg_type": "stream", "parent_header": {}, "content": {"text": "x"}}
        )


@pytest.mark.timeout(60)
def test_a_kernel_that_floods_iopub_from_its_start_fails_to_start_within_the_startup_timeout() -> None:
    """jupyter_client's own wait reads IOPub until it is silent, so such a kernel holds it for ever (this
    test then runs into its time limit); here the start fails once the startup timeout has passed."""
    kernel = _Flooding()
    with pytest.raises(RuntimeError, match="didn't respond in 0.5 seconds"):
        asyncio.run(runner._wait_for_ready(kernel, timeout=0.5))
