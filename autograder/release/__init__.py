"""Release: the student version of the kit from the single source (solutions stripped, leaks checked)."""

from .assignment import ReleaseReport, release
from .leak import Leak, find_leaks, secret_lines
from .markers import Region, find_regions, strip_solutions

__all__ = [
    "Leak",
    "Region",
    "ReleaseReport",
    "find_leaks",
    "find_regions",
    "release",
    "secret_lines",
    "strip_solutions",
]
