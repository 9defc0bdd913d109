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
