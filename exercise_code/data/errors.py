"""One exception family: a dataset that cannot be had; a download that failed its hash."""

from __future__ import annotations


class DatasetUnavailableError(RuntimeError):
    """A dataset's files are missing and cannot be fetched; the message says where to put them by hand."""


class ChecksumMismatchError(DatasetUnavailableError):
    """A downloaded file's hash differs from the recorded one; the partial file has been removed."""
