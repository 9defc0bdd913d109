"""Exports of the grader to other platforms (Gradescope)."""

from .gradescope import GradescopeExport, export_gradescope

__all__ = ["GradescopeExport", "export_gradescope"]
