"""Autograder: release, student checks and submission, sandboxed grading, reports."""

__version__ = "0.1.0"
