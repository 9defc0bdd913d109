"""Settings of `autograder similarity`: the fingerprint sizes and what the reports show."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimilaritySettings:
    """How code is fingerprinted (copydetect's thresholds) and how much of the result the reports show.

    copydetect counts sizes in characters of the normalised code: every name becomes `V`, every string
    `S`, comments and whitespace go, so `out = x.new_zeros(N, C)` is the 16 characters `V=V.V(V,V)`.
    """

    noise: int = 25
    """k-gram length (copydetect's noise threshold): a match shorter than this is never found."""
    guarantee: int = 25
    """A match at least this long is always found (winnowing window = guarantee - noise + 1)."""
    notebooks: bool = True
    """Also compare the code cells of the submitted notebooks (`notebooks/*.ipynb`)."""
    max_file_kb: int = 512
    """Files larger than this are left out (and named in the report): no one writes that much by hand."""
    max_region_lines: int = 60
    """Lines of code kept per side of a matching region in the reports (the rest is elided)."""
    table_rows: int = 100
    """Pairs listed in the HTML table (the JSON holds every pair)."""
    detail_pairs: int = 10
    """Top pairs whose matching regions the HTML shows side by side."""

    def __post_init__(self) -> None:
        for name in ("noise", "max_file_kb", "max_region_lines", "table_rows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.guarantee < self.noise:
            raise ValueError(f"guarantee must be at least noise ({self.noise}), got {self.guarantee}")
        if self.detail_pairs < 0:
            raise ValueError(f"detail_pairs must be at least 0, got {self.detail_pairs}")

    @property
    def window(self) -> int:
        """Winnowing window size."""
        return self.guarantee - self.noise + 1
