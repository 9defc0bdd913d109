"""Pairwise similarity of the students' own code (copydetect's winnowing fingerprints, as MOSS uses),
with the kit's starter code subtracted; a report for people to review, never a penalty by itself."""

from .compare import compare_submissions
from .documents import Place
from .report import HTML_NAME, JSON_NAME, ReportPaths, ranked_table, write_report
from .results import Pair, Region, SimilarityReport, StudentCode
from .settings import SimilaritySettings

__all__ = [
    "HTML_NAME",
    "JSON_NAME",
    "Pair",
    "Place",
    "Region",
    "ReportPaths",
    "SimilarityReport",
    "SimilaritySettings",
    "StudentCode",
    "compare_submissions",
    "ranked_table",
    "write_report",
]
