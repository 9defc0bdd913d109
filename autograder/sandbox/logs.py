"""A capped log of student stdout/stderr: the grader drains the pipe and keeps only a head and a tail."""

from __future__ import annotations

import os
import threading


class CappedLog:
    """Keeps the first `head` and last `tail` bytes of everything written, and counts the rest."""

    def __init__(self, head: int = 32_768, tail: int = 32_768) -> None:
        self.head_cap, self.tail_cap = head, tail
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self._lock:
            self.total += len(data)
            room = self.head_cap - len(self._head)
            if room > 0:
                self._head += data[:room]
                data = data[room:]
            if data:
                self._tail += data[-self.tail_cap :]
                del self._tail[: max(0, len(self._tail) - self.tail_cap)]

    def note(self, text: str) -> None:
        """Add a line from the grader itself (e.g. 'worker restarted')."""
        self.write(f"\n[autograder] {text}\n".encode())

    def text(self, limit: int | None = None) -> str:
        """The kept bytes as text, at most about `limit` characters of them, with a marker saying how
        many bytes were left out in the middle."""
        with self._lock:
            head, tail, total = bytes(self._head), bytes(self._tail), self.total
        if limit is not None and len(head) + len(tail) > limit:
            half = max(0, limit // 2 - 40)
            head, tail = head[:half], tail[len(tail) - half :] if half else b""
        dropped = total - len(head) - len(tail)
        middle = f"\n... [{dropped} bytes omitted] ...\n" if dropped > 0 else ""
        return head.decode(errors="replace") + middle + tail.decode(errors="replace")


def drain(fd: int, log: CappedLog) -> threading.Thread:
    """Start a daemon thread that reads `fd` into `log` until EOF, then closes `fd`."""

    def run() -> None:
        try:
            while chunk := os.read(fd, 1 << 16):
                log.write(chunk)
        except OSError:
            pass
        finally:
            os.close(fd)

    thread = threading.Thread(target=run, name=f"log-drain-{fd}", daemon=True)
    thread.start()
    return thread
