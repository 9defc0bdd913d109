"""The autograder's one exception family: every error it raises on purpose derives from AutograderError."""

from __future__ import annotations


class AutograderError(Exception):
    """Base of every error the autograder raises on purpose; the CLI maps it to exit code 1."""


class MarkerError(AutograderError):
    """Unbalanced or nested solution markers; names the file and line."""


class LeakError(AutograderError):
    """Solution text, marker text or a forbidden file reached the student release."""


class ReleaseError(AutograderError):
    """The release could not be written."""


class SubmissionError(AutograderError):
    """A submission is incomplete or malformed (student side and intake)."""


# --- submission intake, sandbox and grading (raised in the trusted process) -------------------------


class IntakeRejected(SubmissionError):
    """An archive or folder failed the safe-extraction rules (paths, links, sizes); the message says which."""


class SandboxUnavailable(AutograderError):
    """The requested isolation (e.g. bubblewrap) cannot be used here; the message says why."""


class GradingError(AutograderError):
    """A grading run was misconfigured (missing suites, bad rubric, unreadable forbidden list)."""


class SandboxError(AutograderError):
    """Base of the failures of one request to the sandboxed worker."""


class StudentCodeError(SandboxError):
    """Student code raised an exception inside the sandbox; `.not_implemented` for NotImplementedError."""

    def __init__(self, type_name: str, message: str, traceback: str = "") -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message
        self.traceback = traceback
        self.not_implemented = type_name == "NotImplementedError"


class SandboxTimeout(SandboxError):
    """A request ran past its time limit (per call, or what was left of the submission's budget), or
    reached a student function that did so earlier (`again`)."""

    def __init__(
        self, message: str, *, budget: bool = False, hung: str | None = None, again: bool = False
    ) -> None:
        super().__init__(message)
        self.budget = budget
        self.hung = hung
        """`module:qualname` of the student function one call of which used the whole CPU limit."""
        self.again = again


class SandboxMemoryError(SandboxError):
    """Student code ran out of the memory it is allowed (address-space rlimit or cgroup limit)."""


class SandboxCrash(SandboxError):
    """The worker died (or could not start); it is restarted for the next request."""


class RefusedReply(SandboxError):
    """The worker's reply broke the protocol (too large, malformed, unsafe tensors, out of turn) and was
    refused before use; the worker, whose state may be poisoned, is restarted for the next request."""


class ForbiddenCall(SandboxError):
    """Student code used a forbidden shortcut (runtime guard or AST scan); `.name` is the callable."""

    def __init__(self, name: str, message: str = "") -> None:
        super().__init__(message or f"forbidden call to {name}")
        self.name = name


class MissingPart(SandboxError):
    """A required file, model, module or function is missing from the submission; `.path` names it."""

    def __init__(self, path: str, message: str = "") -> None:
        super().__init__(message or f"{path} is missing")
        self.path = path


# --- verify (hidden suites against the reference, the skeleton and a corpus of wrong solutions) -----


class VerifyError(AutograderError):
    """`autograder verify` could not run: a malformed corpus entry, a missing function, no models."""
