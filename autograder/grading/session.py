"""The trusted side of the worker channel: lazy start, restart after a death, limits, error mapping.

One worker serves every test of a submission (torch import costs ~1-2 s); after a timeout, crash or
kernel OOM kill it is replaced on the next request. Replies become values or the exceptions of
`autograder.errors` (StudentCodeError, SandboxTimeout, SandboxMemoryError, SandboxCrash, ...); a reply
that breaks the protocol's caps or rules is refused before use (RefusedReply) and the worker replaced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from autograder.errors import (
    ForbiddenCall,
    MissingPart,
    RefusedReply,
    SandboxCrash,
    SandboxMemoryError,
    SandboxTimeout,
    StudentCodeError,
)
from autograder.sandbox import CappedLog, Isolation, IsolationKind, SandboxLimits, WorkerProcess
from autograder.sandbox.launch import ForkedWorker, WorkerFactory
from autograder.worker import hung, protocol
from exercise_code.config import CONFIG

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
        wall_factor: float = CONFIG.time.wall_factor,
        warm: bool = False,
    ) -> None:
        self.root, self.isolation, self.limits = root, isolation, limits
        self.forbidden = {k: list(v) for k, v in forbidden.items()}
        self.call_s, self.deadline, self.submission_s = call_s, deadline, submission_s
        self.wall_factor = wall_factor
        """A call may use `call_s` of CPU time (the worker stops it) and `call_s * wall_factor` of wall
        time (the grader kills it): a loaded machine slows a call down but does not fail it."""
        self.log = log_sink or CappedLog()
        self.warm = warm and isolation is not None and isolation.kind is IsolationKind.BUBBLEWRAP
        """Fork workers from a factory in the submission's sandbox (bubblewrap) instead of starting each
        in a sandbox of its own; a factory that fails is replaced, and one that cannot start makes the
        session start its workers cold."""
        self.factory: WorkerFactory | None = None
        self.worker: WorkerProcess | ForkedWorker | None = None
        self.generation = 0
        """Bumped at every worker start: model handles of an older generation must be rebuilt."""
        self.starts = 0
        self.caps = limits.caps()
        """Bounds on every reply, checked before the part they bound is parsed."""
        self._next_id = 0

    def _start(self) -> WorkerProcess | ForkedWorker:
        if self.warm:
            try:
                if self.factory is None or not self.factory.alive:
                    self._close_factory()
                    self.factory = WorkerFactory(
                        self.isolation, self.root, self.limits, self.forbidden, self.log
                    )
                return self.factory.fork()
            except (OSError, protocol.ProtocolError) as exc:  # a new sandbox next time, started cold
                self.log.note(f"worker factory failed ({str(exc)[:200]}); starting the worker cold")
                log.warning("worker factory failed, starting the worker cold: %s", exc)
                self._close_factory()
        return WorkerProcess(self.isolation, self.root, self.limits, self.forbidden, self.log)

    def _ensure(self) -> WorkerProcess | ForkedWorker:
        if self.worker is not None and self.worker.alive:
            return self.worker
        self.stop()
        try:
            self.worker = self._start()
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
        """Shut the worker down (if any) and free its cgroup and scratch (a forked one: sweep its sandbox
        clean for the next)."""
        if self.worker is not None:
            self.worker.close()
            self.worker = None

    def _close_factory(self) -> None:
        if self.factory is not None:
            self.factory.close()
            self.factory = None

    def close(self) -> None:
        """Stop the worker and its factory: the session's sandboxes are gone."""
        self.stop()
        self._close_factory()

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
        header = {**header, "id": self._next_id, "payload": tree, "cpu_s": self.call_s}
        guard_s = self.call_s * self.wall_factor  # the verdict is CPU time; the wall clock only guards
        budget_bound = self.deadline < time.monotonic() + guard_s
        deadline = min(self.deadline, time.monotonic() + guard_s)
        try:
            protocol.write_frame(worker.req_fd, protocol.encode(header, tensors), deadline)
            payload = protocol.read_frame(worker.rep_fd, worker.max_bytes, deadline)
        except TimeoutError:
            self.log.note(f"{what}: killed after the time limit")
            self.stop()
            if budget_bound:
                raise SandboxTimeout(
                    f"{what} was stopped: the submission's time budget of {self.submission_s:g} s ran out",
                    budget=True,
                ) from None
            raise SandboxTimeout(
                f"{what} did not finish within {guard_s:g} s of wall-clock time (it may use "
                f"{self.call_s:g} s of CPU time); look for a sleep, a wait or an endless loop"
            ) from None
        except (protocol.ChannelClosed, OSError) as exc:
            raise self._died(what, exc) from None
        except protocol.ProtocolError as exc:  # a frame over the cap, refused before it is read
            raise self._refused(what, str(exc)) from None
        try:
            reply, out = protocol.decode(payload, self.caps)
        except protocol.ProtocolError as exc:
            raise self._refused(what, str(exc)) from None
        if reply.get("id") != self._next_id:
            raise self._refused(what, "it does not answer this request")
        return self._result(reply, out, what, decode)

    def _refused(self, what: str, reason: str) -> RefusedReply:
        """Stop the worker (its state may be poisoned) and say why its reply was refused."""
        self.log.note(f"{what}: reply refused: {reason}")
        self.stop()
        return RefusedReply(f"{what}: the reply was refused: {reason}; the worker was restarted")

    def _died(self, what: str, exc: Exception) -> Exception:
        worker = self.worker
        assert worker is not None
        if isinstance(exc, protocol.ChannelClosed):
            worker.wait(3)  # the pipe closes a moment before the process is reaped
        if worker.alive:  # the channel closed or failed, the worker still running: a broken reply
            return self._refused(what, f"the worker's channel failed ({exc})")
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
        if reply.get("ok") is True:
            try:
                return protocol.unpack(reply.get("value"), out, decode, max_items=self.caps.items)
            except protocol.ProtocolError as exc:
                raise self._refused(what, str(exc)) from None
            except (KeyError, TypeError, ValueError, OverflowError) as exc:  # `decode` refused a reference
                raise self._refused(what, f"{type(exc).__name__}: {exc}"[:500]) from None
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
        if kind == "timeout":  # the worker stopped the call at its CPU limit; its state may be half-done
            self.log.note(f"{what}: stopped at the CPU time limit")
            self.stop()
            blamed = reply.get("hung")
            if not (isinstance(blamed, str) and len(blamed) < 300 and hung.NAME.match(blamed)):
                blamed = None  # the worker is not trusted: only a plain name is kept
            inside = f" (stopped inside {blamed.replace(':', '.')})" if blamed else ""
            raise SandboxTimeout(
                f"{what} did not finish within {self.call_s:g} s of CPU time{inside}; look for an endless "
                "loop or a very slow implementation",
                hung=blamed,
            )
        if kind == "not_run":  # a function that hung earlier, stubbed out in the worker
            raise SandboxTimeout(f"{what}: {message}", again=True)
        if kind == "memory":
            limit = self.limits.memory_mb
            raise SandboxMemoryError(f"{what} ran out of memory (the limit is {limit} MiB): {message}")
        if kind == "protocol":
            raise self._refused(what, f"the worker reported a protocol error ({message[:500]})")
        raise self._refused(what, f"unknown reply kind {str(kind)[:100]!r}")
