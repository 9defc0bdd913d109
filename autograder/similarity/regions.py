"""The matching regions of two students: for each run of own lines of one and run of the other, the
lines their shared fingerprints cover, so that the report can show the two side by side."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from copydetect import CodeFingerprint

from .documents import Document
from .fingerprints import raw_offsets
from .results import Region

MAX_POSITIONS = 4
"""Occurrences of one shared k-gram followed on each side (a k-gram repeated 1,000 times costs no more)."""


@dataclass
class _Span:
    """One side of a region being gathered: its lines (document indices) and normalised positions."""

    first: int
    last: int
    positions: set[int] = field(default_factory=set)

    def add(self, first: int, last: int, start: int, k: int) -> None:
        self.first, self.last = min(self.first, first), max(self.last, last)
        self.positions.update(range(start, start + k))


def _kgram_lines(doc: Document, fp: CodeFingerprint, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first line, last line) in `doc` of the k-grams starting at `positions` of the normalised code."""
    starts = raw_offsets(fp, positions)
    ends = raw_offsets(fp, positions + fp.k - 1)
    return doc.line_of(starts), doc.line_of(ends)


def _positions(fp: CodeFingerprint, shared: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(index into `shared`, position) of the first MAX_POSITIONS occurrences of each shared hash."""
    pairs = [(i, p) for i, h in enumerate(shared) for p in fp.hash_idx[h][:MAX_POSITIONS]]
    index, positions = zip(*pairs, strict=True) if pairs else ((), ())
    return np.asarray(index, dtype=np.int64), np.asarray(positions, dtype=np.int64)


def matching_regions(
    a: Document, fa: CodeFingerprint, b: Document, fb: CodeFingerprint, max_lines: int
) -> list[Region]:
    """The regions where `a` and `b` share fingerprints, largest first. A region joins one run of own
    lines of each side: the lines covered by the k-grams the two runs share (a k-gram reaching past its
    run is cut at the run's end). `max_lines`: lines of code kept per side."""
    shared = sorted(fa.hashes & fb.hashes)
    if not shared:
        return []
    ia, pa = _positions(fa, shared)
    ib, pb = _positions(fb, shared)
    first_a, last_a = _kgram_lines(a, fa, pa)
    first_b, last_b = _kgram_lines(b, fb, pb)
    by_hash_b: dict[int, list[int]] = {}
    for j, i in enumerate(ib.tolist()):
        by_hash_b.setdefault(i, []).append(j)
    spans: dict[tuple[int, int], tuple[_Span, _Span]] = {}
    for j_a, i in enumerate(ia.tolist()):
        block_a = a.block[first_a[j_a]]
        for j_b in by_hash_b.get(i, []):
            block_b = b.block[first_b[j_b]]
            if block_a is None or block_b is None:
                continue
            end_a = min(int(last_a[j_a]), a.block_end[block_a])  # cut at the end of the run
            end_b = min(int(last_b[j_b]), b.block_end[block_b])
            span_a, span_b = spans.setdefault((block_a, block_b), (_Span(end_a, end_a), _Span(end_b, end_b)))
            span_a.add(int(first_a[j_a]), end_a, int(pa[j_a]), fa.k)
            span_b.add(int(first_b[j_b]), end_b, int(pb[j_b]), fb.k)
    regions = []
    for span_a, span_b in spans.values():
        place_a, place_b = a.place(span_a.first, span_a.last), b.place(span_b.first, span_b.last)
        regions.append(
            Region(
                place_a,
                place_b,
                len(span_a.positions),
                a.code(place_a, max_lines),
                b.code(place_b, max_lines),
            )
        )
    return sorted(regions, key=lambda r: (-r.tokens, r.a.file, r.a.first_line))
