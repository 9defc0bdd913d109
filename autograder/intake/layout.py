"""What a complete submission holds. One definition, in the kit (`exercise_code.submit.layout`), so the
student's submit helper and the grader's intake read the same rule; re-exported here for the grader."""

from __future__ import annotations

from exercise_code.submit.layout import missing_parts, required_files

__all__ = ["missing_parts", "required_files"]
