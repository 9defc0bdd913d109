"""The trusted side of the worker channel: lazy start, restart after a death, limits, error mapping.

One worker serves every test of a submission (torch import costs ~1-2 s); after a timeout, crash or
kernel OOM kill it is replaced on the next request. Replies become values or the exceptions of
`autograder.errors` (StudentCodeError, SandboxTimeout, SandboxMemoryError, SandboxCrash, ...).
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from autograder.errors import (
    ForbiddenCall,
    MissingPart,
    SandboxCrash,
    SandboxMemoryError,
    SandboxTimeout,
    StudentCodeError,
)
from autograder.sandbox import CappedLog, Isolation, SandboxLimits, WorkerProcess
from autograder.worker import protocol

log = logging.getLogger(__name__)


class WorkerSession:
    """Requests to the sandboxed worker of one submission, within per-call and per-submission limits."""

    def __init__(
        self,
        root: Path,
        isolation: Isolation,
        *,
        limits: SandboxLimits,
        forbidden: dict[str, tuple[str, ...]],
        call_s: float,
        deadline: float,
        submission_s: float,
        log_sink: CappedLog | None = None,
    ) -> None:
        self.root, self.isolation, self.limits = root, isolation, limits
        self.forbidden = {k: list(v) for k, v in forbidden.items()}
        self.call_s, self.deadline, self.submission_s = call_s, deadline, submission_s
        self.log = log_sink or CappedLog()
        self.worker: WorkerProcess | None = None
        self.generation = 0
        """Bumped at every worker start: model handles of an older generation must be rebuilt."""
        self.starts = 0
        self._next_id = 0

    def _ensure(self) -> WorkerProcess:
        if self.worker is not None and self.worker.alive:
            return self.worker
        self.stop()
        try:
            self.worker = WorkerProcess(self.isolation, self.root, self.limits, self.forbidden, self.log)
        except TimeoutError:
            raise SandboxCrash("the sandboxed worker did not start in time") from None
        except (OSError, protocol.ProtocolError) as exc:
            raise SandboxCrash(f"the sandboxed worker could not start: {exc}") from None
        self.generation += 1
        self.starts += 1
        if self.starts > 1:
            self.log.note(f"worker restarted (start #{self.starts})")
        return self.worker

    def stop(self) -> None:
        """Shut the worker down (if any) and free its cgroup and scratch."""
        if self.worker is not None:
            self.worker.close()
            self.worker = None

    def request(
        self,
        header: dict[str, Any],
        value: Any = None,
        *,
        what: str,
        encode: Callable[[Any], dict[str, Any] | None] | None = None,
        decode: Callable[[dict[str, Any]], Any] | None = None,
    ) -> Any:
        """Send `header` (+ packed `value` as args) and return the unpacked reply value.

        `what` names the request in messages ("exercise_code.layers.conv_transpose2d"); `encode` and
        `decode` translate model handles to and from the worker's model references.
        """
        now = time.monotonic()
        if now >= self.deadline:
            raise SandboxTimeout(
                f"not run: the submission's time budget of {self.submission_s:g} s was used up", budget=True
            )
        worker = self._ensure()
        try:
            tree, tensors = protocol.pack(value, encode)  # may ensure model handles first (nested)
        except protocol.ProtocolError as exc:
            raise ValueError(f"cannot send the arguments of {what}: {exc}") from None
        worker = self._ensure()
        self._next_id += 1
        header = {**header, "id": self._next_id, "payload": tree}
        budget_bound = self.deadline < time.monotonic() + self.call_s
        deadline = min(self.deadline, time.monotonic() + self.call_s)
        try:
            reply, out = worker.request(header, tensors, deadline)
        except TimeoutError:
            self.log.note(f"{what}: killed after the time limit")
            self.stop()
            if budget_bound:
                raise SandboxTimeout(
                    f"{what} was stopped: the submission's time budget of {self.submission_s:g} s ran out",
                    budget=True,
                ) from None
            raise SandboxTimeout(
                f"{what} did not finish within {self.call_s:g} s; look for an endless loop or a very slow "
                "implementation"
            ) from None
        except (protocol.ProtocolError, OSError) as exc:
            raise self._died(what, exc) from None
        if reply.get("id") != self._next_id:
            self.stop()
            raise SandboxCrash(f"{what}: the worker answered out of turn; it was restarted")
        return self._result(reply, out, what, decode)

    def _died(self, what: str, exc: Exception) -> Exception:
        worker = self.worker
        assert worker is not None
        if isinstance(exc, protocol.ChannelClosed) and worker.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.proc.wait(timeout=3)  # the pipe closes a moment before the process is reaped
        if worker.alive:  # garbage on the channel (or a closed channel), worker still running
            self.stop()
            return SandboxCrash(f"{what}: the worker sent a malformed reply ({exc}); it was restarted")
        kind, detail = worker.death()
        self.log.note(f"{what}: {detail}")
        self.stop()
        if kind == "memory":
            return SandboxMemoryError(f"{what} ran out of memory: {detail}")
        if kind == "timeout":
            return SandboxTimeout(f"{what} {detail}")
        return SandboxCrash(f"{what} crashed the sandboxed worker ({detail}); see the log excerpt")

    def _result(
        self, reply: dict[str, Any], out: list[torch.Tensor], what: str, decode: Callable | None = None
    ) -> Any:
        if reply.get("ok"):
            try:
                return protocol.unpack(reply.get("value"), out, decode)
            except protocol.ProtocolError as exc:
                self.stop()
                raise SandboxCrash(f"{what}: malformed reply from the worker ({exc})") from None
        kind = reply.get("kind")
        message = str(reply.get("message", ""))[:4000]
        if kind == "error":
            raise StudentCodeError(
                str(reply.get("type", "Exception")), message, str(reply.get("traceback", ""))
            )
        if kind == "missing":
            raise MissingPart(str(reply.get("path") or what), message)
        if kind == "forbidden":
            name = str(reply.get("name", "?"))
            if name == "guard":
                raise ForbiddenCall(name, f"{what} tampered with the forbidden-call guard ({message})")
            raise ForbiddenCall(name, f"{what} uses the forbidden {name}: write it without that shortcut")
        if kind == "memory":
            limit = self.limits.memory_mb
            raise SandboxMemoryError(f"{what} ran out of memory (the limit is {limit} MiB): {message}")
        self.stop()
        raise SandboxCrash(f"{what}: protocol error in the worker ({message})")
