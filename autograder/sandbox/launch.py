"""Start, talk to and kill one worker process tree (bubblewrap or plain process), with its pipes and cgroup.

The protocol uses two dedicated pipes passed as extra fds; the worker's stdout/stderr go to a third pipe
that a thread drains into a CappedLog, so student output never reaches the protocol channel.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import torch

from autograder.worker import protocol

from .bwrap import (
    SANDBOX_UID,
    SETPRIV,
    SUBMISSION_DIR,
    WORKER_PARENT,
    BwrapPlan,
    bwrap_command,
    sandbox_environment,
)
from .cgroups import WorkerCgroup, in_cgroup
from .detect import Isolation, IsolationKind
from .limits import MIB, SandboxLimits
from .logs import CappedLog, drain
from .pyenv import WORKER_PACKAGE, WORKER_SOURCE, python_env, worker_argv
from .seccomp import filter_fd

log = logging.getLogger(__name__)

STARTUP_S = 120.0
"""How long a worker may take to import torch and say it is ready (2 busy cores can be slow)."""


class WorkerProcess:
    """One running worker; `request` sends a message and waits for the reply until a deadline."""

    def __init__(
        self,
        isolation: Isolation,
        submission: Path,
        limits: SandboxLimits,
        forbidden: dict[str, list[str]],
        log_sink: CappedLog,
    ) -> None:
        self.isolation, self.limits, self.log = isolation, limits, log_sink
        self.max_bytes = limits.max_message_mb * MIB
        self.cgroup: WorkerCgroup | None = None
        self.workspace: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.req_fd = self.rep_fd = -1
        self._drain: threading.Thread | None = None
        try:
            self._start(submission.resolve(), forbidden)
        except BaseException:
            self.close()
            raise

    # --- start ---------------------------------------------------------------------------------------

    def _channel(self) -> tuple[dict[str, int], tuple[int, ...]]:
        """The config entries naming the worker's ends of its channel, and those fds (closed here once
        the sandbox has started)."""
        req_r, self.req_fd = os.pipe()
        self.rep_fd, rep_w = os.pipe()
        return {"in_fd": req_r, "out_fd": rep_w}, (req_r, rep_w)

    def _handshake(self) -> None:
        os.set_blocking(self.req_fd, False)
        header, _ = self._receive(time.monotonic() + STARTUP_S)
        if not header.get("ready"):
            raise protocol.ProtocolError(f"worker did not start: {header}")
        if header.get("unresolved"):
            log.info("guard could not resolve %s", header["unresolved"])

    def _start(self, submission: Path, forbidden: dict[str, list[str]]) -> None:
        env = python_env()
        bubblewrap = self.isolation.kind is IsolationKind.BUBBLEWRAP
        if self.isolation.cgroups.usable:
            try:
                self.cgroup = WorkerCgroup(
                    self.isolation.cgroups, self.limits.memory_mb * MIB, self.limits.processes
                )
            except OSError as exc:
                log.warning("cgroup creation failed, rlimits only: %s", exc)
        channel, theirs = self._channel()
        log_r, log_w = os.pipe()
        seccomp_fd = filter_fd() if bubblewrap else None
        filters = () if seccomp_fd is None else (seccomp_fd,)
        config: dict[str, Any] = {
            **channel,
            "site": [str(p) for p in env.site_packages],
            "rlimits": self.limits.rlimits(pids_cgroup=self.cgroup is not None),
            "as_extra": self.limits.memory_mb * MIB,
            "forbidden": forbidden,
            "max_bytes": self.max_bytes,
            "threads": self.limits.threads,
        }
        if bubblewrap:
            config["root"] = SUBMISSION_DIR
            plan = BwrapPlan(
                self.isolation.bwrap or "bwrap",
                self.isolation.mode,
                env,
                str(submission),
                str(WORKER_SOURCE),
                self.limits.scratch_mb,
                self.limits.threads,
                hide=tuple(map(str, env.hidden_dirs)),  # labelled digits and the kit: not for the worker
                seccomp_fd=seccomp_fd,
            )
            cmd = bwrap_command(plan, worker_argv(env, WORKER_PARENT, json.dumps(config)))
            cwd, child_env = "/", {"PATH": "/usr/bin:/bin"}
        else:
            self.workspace = _workspace(submission, self.isolation.run_as_uid)
            config["root"] = str(self.workspace / "submission")
            config["parent_pid"] = os.getpid()
            cmd = worker_argv(env, str(self.workspace), json.dumps(config))
            if self.isolation.run_as_uid is not None:
                uid = str(self.isolation.run_as_uid)
                cmd = [
                    SETPRIV,
                    "--reuid",
                    uid,
                    "--regid",
                    uid,
                    "--clear-groups",
                    "--inh-caps=-all",
                    "--bounding-set=-all",
                    "--no-new-privs",
                    *cmd,
                ]
            cwd = str(self.workspace / "tmp")
            child_env = sandbox_environment(self.limits.threads, cwd)
        cmd = in_cgroup(self.cgroup, cmd)
        try:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log_w,
                stderr=log_w,
                pass_fds=(*theirs, *filters),
                cwd=cwd,
                env=child_env,
                start_new_session=True,
            )
        finally:
            for fd in (*theirs, log_w, *filters):
                os.close(fd)
        self._drain = drain(log_r, self.log)
        self._handshake()

    # --- talk ----------------------------------------------------------------------------------------

    def _receive(self, deadline: float) -> tuple[dict[str, Any], list[torch.Tensor]]:
        return protocol.receive(self.rep_fd, self.max_bytes, deadline)

    def request(
        self, header: dict[str, Any], tensors: list[torch.Tensor], deadline: float
    ) -> tuple[dict[str, Any], list[torch.Tensor]]:
        """Send one request and return the reply; raises TimeoutError, ChannelClosed or ProtocolError."""
        protocol.write_frame(self.req_fd, protocol.encode(header, tensors), deadline)
        return self._receive(deadline)

    # --- stop ----------------------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole tree (process group, cgroup; bwrap's pid namespace dies with it)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        if self.cgroup is not None:
            self.cgroup.kill_all()
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)

    def wait(self, timeout: float) -> None:
        """Give a worker whose channel closed up to `timeout` seconds to be reaped."""
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)

    def _ended(self) -> tuple[int | None, int | None]:
        """(signal, exit code) of the sandbox's process (bubblewrap reports a signal as 128 + N)."""
        assert self.proc is not None
        self.wait(5)
        code = self.proc.returncode
        sig = -code if code is not None and code < 0 else None
        bubblewrap = self.isolation.kind is IsolationKind.BUBBLEWRAP
        if sig is None and code is not None and code > 128 and bubblewrap:
            sig = code - 128
        return sig, code

    def death(self) -> tuple[str, str]:
        """('memory' | 'timeout' | 'crashed', description) for a worker that has died."""
        sig, code = self._ended()
        return self._verdict(sig, code, self.cgroup is not None and self.cgroup.oom_killed())

    def _verdict(self, sig: int | None, code: int | None, oom: bool) -> tuple[str, str]:
        if oom:
            return "memory", f"killed by the kernel for using more than {self.limits.memory_mb} MiB"
        if sig == signal.SIGXCPU:
            return "timeout", f"used more than {self.limits.cpu_s} s of CPU time"
        if sig is not None:
            with contextlib.suppress(ValueError):
                return "crashed", f"the worker process was killed by signal {signal.Signals(sig).name}"
            return "crashed", f"the worker process was killed by signal {sig}"
        return "crashed", f"the worker process exited with code {code}"

    def close(self) -> None:
        """Ask the worker to exit, then kill what is left and free the cgroup and workspace."""
        if self.alive and self.req_fd >= 0:
            with contextlib.suppress(OSError, protocol.ProtocolError, TimeoutError):
                protocol.write_frame(self.req_fd, protocol.encode({"op": "shutdown"}), time.monotonic() + 2)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=2)  # type: ignore[union-attr]
        self.kill()
        for fd in (self.req_fd, self.rep_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.req_fd = self.rep_fd = -1
        if self._drain is not None:
            self._drain.join(timeout=5)
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        if self.workspace is not None:
            shutil.rmtree(self.workspace, ignore_errors=True)
            self.workspace = None


FACTORY_S = 30.0
"""How long the worker factory may take to answer one request (a fork, a sweep, a status)."""


class WorkerFactory(WorkerProcess):
    """A sandbox whose process is a worker factory (`autograder.worker.zygote`, bubblewrap only): it has
    imported torch once, and `fork()` gives a fresh worker in the same sandbox after sweeping out every
    process and file the previous one left, for a fraction of a cold start."""

    ctl: socket.socket | None = None

    def _channel(self) -> tuple[dict[str, int], tuple[int, ...]]:
        if self.isolation.kind is not IsolationKind.BUBBLEWRAP:
            raise ValueError("a worker factory needs bubblewrap's pid namespace to sweep")
        self.ctl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        fd = theirs.detach()
        return {"ctl_fd": fd}, (fd,)

    def _handshake(self) -> None:
        if not self.ask({}, timeout=STARTUP_S, send=False).get("ready"):
            raise protocol.ProtocolError("the worker factory did not start")

    def ask(
        self,
        request: dict[str, Any],
        fds: tuple[int, ...] = (),
        *,
        timeout: float | None = None,
        send: bool = True,
    ) -> dict[str, Any]:
        """Send one request (with `fds`) and return the factory's answer (`timeout`: FACTORY_S); raises
        OSError (TimeoutError included) or ProtocolError when it does not answer in time or makes no sense."""
        assert self.ctl is not None
        self.ctl.settimeout(FACTORY_S if timeout is None else timeout)
        if send:
            socket.send_fds(self.ctl, [json.dumps(request).encode()], list(fds))
        answer = self.ctl.recv(1 << 16)
        if not answer:
            raise protocol.ChannelClosed("the worker factory is gone")
        try:
            reply = json.loads(answer)
        except ValueError:
            raise protocol.ProtocolError("the worker factory's answer is not JSON") from None
        if not isinstance(reply, dict):
            raise protocol.ProtocolError("the worker factory's answer is not an object")
        return reply

    def fork(self) -> ForkedWorker:
        """A fresh worker (raises OSError or ProtocolError when the factory cannot give one)."""
        return ForkedWorker(self)

    def sweep(self) -> bool:
        """Kill every worker process and empty the scratch; False when the factory could not."""
        try:
            return self.ask({"op": "sweep"}).get("clean") is True
        except (OSError, protocol.ProtocolError):
            return False

    def close(self) -> None:
        if self.ctl is not None:
            self.ctl.close()  # the factory exits at EOF; the tree is killed below either way
            self.ctl = None
        super().close()


class ForkedWorker:
    """A worker forked by a `WorkerFactory`: the same requests as a `WorkerProcess`; closing it sweeps
    the sandbox for the next one."""

    def __init__(self, factory: WorkerFactory) -> None:
        self.factory, self.limits, self.max_bytes = factory, factory.limits, factory.max_bytes
        self.proc = None
        self.req_fd = self.rep_fd = -1
        self._drain: threading.Thread | None = None
        self._oom_before = factory.cgroup.oom_kills() if factory.cgroup is not None else 0
        req_r, self.req_fd = os.pipe()
        self.rep_fd, rep_w = os.pipe()
        log_r, log_w = os.pipe()
        try:
            try:
                reply = factory.ask({"op": "fork"}, (req_r, rep_w, log_w))
            finally:
                for fd in (req_r, rep_w, log_w):
                    os.close(fd)
            self._drain = drain(log_r, factory.log)
            if reply.get("clean") is not True or not isinstance(reply.get("pid"), int):
                raise protocol.ProtocolError(f"the worker factory could not give a clean worker: {reply}")
            self.pid: int = reply["pid"]
            os.set_blocking(self.req_fd, False)
            header, _ = protocol.receive(self.rep_fd, self.max_bytes, time.monotonic() + STARTUP_S)
            if not header.get("ready"):
                raise protocol.ProtocolError(f"worker did not start: {header}")
        except BaseException:
            if self._drain is None:
                os.close(log_r)
            self._close_fds()
            raise

    def request(
        self, header: dict[str, Any], tensors: list[torch.Tensor], deadline: float
    ) -> tuple[dict[str, Any], list[torch.Tensor]]:
        protocol.write_frame(self.req_fd, protocol.encode(header, tensors), deadline)
        return protocol.receive(self.rep_fd, self.max_bytes, deadline)

    def _hung_up(self, timeout: float = 0.0) -> bool:
        """True when nothing can write to the reply pipe any more (the worker has ended)."""
        if self.rep_fd < 0:
            return True
        poller = select.poll()
        poller.register(self.rep_fd, select.POLLHUP)
        return any(event & (select.POLLHUP | select.POLLERR) for _, event in poller.poll(timeout * 1000))

    @property
    def alive(self) -> bool:
        return self.factory.alive and not self._hung_up()

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.factory.alive and not self._hung_up(0.05) and time.monotonic() < deadline:
            pass

    def death(self) -> tuple[str, str]:
        cgroup = self.factory.cgroup
        oom = cgroup is not None and cgroup.oom_kills() > self._oom_before
        if not self.factory.alive:  # the whole sandbox went (the factory killed, or the kernel's OOM)
            sig, code = self.factory._ended()
            kind, detail = self.factory._verdict(sig, code, oom)
            return kind, f"{detail} (the sandbox ended)"
        try:
            ended = self.factory.ask({"op": "status", "pid": self.pid, "wait_s": 5})
        except (OSError, protocol.ProtocolError) as exc:
            return "crashed", f"the worker ended; its sandbox did not say how ({exc})"
        sig, code = ended.get("signal"), ended.get("code")
        if not isinstance(sig, int) and not isinstance(code, int):
            return "crashed", "the worker's channel closed while it was still running"
        return self.factory._verdict(sig if isinstance(sig, int) else None, code, oom)

    def kill(self) -> None:
        if not self.factory.sweep():
            self.factory.close()

    def _close_fds(self) -> None:
        for fd in (self.req_fd, self.rep_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.req_fd = self.rep_fd = -1

    def close(self) -> None:
        """Sweep the sandbox (the worker and everything it started); the factory stays for the next."""
        self.kill()
        self._close_fds()
        if self._drain is not None:
            self._drain.join(timeout=5)
            self._drain = None


def _workspace(submission: Path, uid: int | None) -> Path:
    """Process mode: a private copy of the submission and the worker package, plus a scratch dir."""
    ws = Path(tempfile.mkdtemp(prefix="autograder-worker-"))
    os.chmod(ws, 0o755)
    shutil.copytree(submission, ws / "submission", symlinks=False)
    package = ws / WORKER_PACKAGE
    package.mkdir()
    for source in WORKER_SOURCE.glob("*.py"):
        shutil.copy2(source, package / source.name)
    for path in [ws / "submission", package, *ws.joinpath("submission").rglob("*"), *package.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    scratch = ws / "tmp"
    scratch.mkdir(mode=0o700)
    if uid is not None:
        os.chown(scratch, uid, uid)
    return ws


__all__ = ["SANDBOX_UID", "STARTUP_S", "ForkedWorker", "WorkerFactory", "WorkerProcess"]
