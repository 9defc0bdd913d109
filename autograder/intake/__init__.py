"""Submission intake: safe extraction of a zip or folder, caps, and a manifest of what was kept."""

from .extract import Intake, IntakeLimits, clean_name, extract_submission
from .layout import missing_parts, required_files
from .manifest import FileRecord, Manifest, Skipped, source_sha256, student_id, write_json_atomic

__all__ = [
    "FileRecord",
    "Intake",
    "IntakeLimits",
    "Manifest",
    "Skipped",
    "clean_name",
    "extract_submission",
    "missing_parts",
    "required_files",
    "source_sha256",
    "student_id",
    "write_json_atomic",
]
