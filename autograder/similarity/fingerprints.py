"""copydetect's winnowing fingerprints of a document, with the starter code's fingerprints subtracted (its
boilerplate mechanism), and the overlap of two fingerprints."""

from __future__ import annotations

import io
from collections.abc import Iterable

import numpy as np
from copydetect import CodeFingerprint, compare_files

from .documents import Document
from .settings import SimilaritySettings


def fingerprint(
    doc: Document, settings: SimilaritySettings, boilerplate: np.ndarray | None = None
) -> CodeFingerprint:
    """The fingerprints of `doc` (Python, names and strings normalised) less those in `boilerplate`."""
    return CodeFingerprint(
        "submission.py",
        settings.noise,
        settings.window,
        boilerplate=boilerplate,
        fp=io.StringIO(doc.text),
        language="python",
    )


def boilerplate_hashes(docs: Iterable[Document], settings: SimilaritySettings) -> np.ndarray:
    """Every k-gram hash of `docs` (window 1, as copydetect takes its boilerplate), sorted and unique."""
    hashes: set[int] = set()
    for doc in docs:
        hashes |= CodeFingerprint(
            "starter.py", settings.noise, 1, fp=io.StringIO(doc.text), language="python"
        ).hashes
    return np.unique(np.array(sorted(hashes), dtype=np.int64))


def raw_offsets(fp: CodeFingerprint, positions: np.ndarray) -> np.ndarray:
    """Positions in the normalised code -> offsets in the text (`fp.raw_code`).

    copydetect's table has a row for each removal: the index of the last character kept, and how many were
    removed before it, counted in the text as the lexer saw it (leading newlines stripped). Its first row
    and the rows of text before the first character kept (index -1) break the order its lookup needs, and a
    class name's row holds the name's length: those rows are dropped and the counts made non-decreasing,
    then each position takes the count of the first row at or after it, plus the newlines stripped.
    """
    stripped = len(fp.raw_code) - len(fp.raw_code.lstrip("\n"))
    table = fp.offsets[1:] if len(fp.offsets) else fp.offsets
    table = table[table[:, 0] >= 0] if len(table) else table
    if len(table) == 0:
        return positions + stripped
    removed = np.maximum.accumulate(table[:, 1])
    return positions + stripped + removed[np.clip(np.searchsorted(table[:, 0], positions), 0, len(table) - 1)]


def overlap(a: CodeFingerprint, b: CodeFingerprint) -> tuple[int, int, float, float]:
    """(tokens of a's own code found in b, the same for b, a's share, b's share), by copydetect's
    compare_files: a share is the matching tokens over the tokens of own code."""
    tokens_a, (share_a, share_b), _ = compare_files(a, b)
    if tokens_a == 0:
        return 0, 0, 0.0, 0.0
    return int(tokens_a), round(float(share_b) * b.token_coverage), float(share_a), float(share_b)
