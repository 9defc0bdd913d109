"""Pairwise similarity of the students' own code: extract each submission safely, drop the starter
code, fingerprint the rest with copydetect, and compare every pair."""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from copydetect import CodeFingerprint

from autograder.errors import GradingError, IntakeRejected
from autograder.grading.batch import Job, plan_jobs
from autograder.intake import extract_submission

from .documents import Document, full_document, own_document, read_parts
from .fingerprints import boilerplate_hashes, fingerprint, overlap
from .own import own_lines
from .regions import matching_regions
from .results import Pair, SimilarityReport, StudentCode
from .settings import SimilaritySettings
from .starter import Starter, load_starter


@dataclass
class _Coded:
    """A student's own code, joined and fingerprinted."""

    info: StudentCode
    doc: Document
    fp: CodeFingerprint


def _read(
    job: Job, work: Path, starter: Starter, boilerplate: np.ndarray, settings: SimilaritySettings
) -> _Coded:
    """Extract the submission under `work` (IntakeRejected if unsafe), keep its own code, fingerprint it."""
    intake = extract_submission(job.submission, work / job.student, student=job.student)
    try:
        parts, notes = read_parts(intake.root, settings)
    finally:
        shutil.rmtree(work / job.student, ignore_errors=True)
    own = [own_lines(part, starter.versions(part.file)) for part in parts]
    doc = own_document(parts, own)
    fp = fingerprint(doc, settings, boilerplate)
    compared = sum(1 for lines in own if lines)
    info = StudentCode(job.student, str(job.submission), int(fp.token_coverage), compared, tuple(notes))
    return _Coded(info, doc, fp)


def _pair(a: _Coded, b: _Coded, settings: SimilaritySettings) -> Pair:
    tokens_a, tokens_b, share_a, share_b = overlap(a.fp, b.fp)
    own = a.info.own_tokens + b.info.own_tokens
    score = min((tokens_a + tokens_b) / own, 1.0) if own else 0.0
    regions = matching_regions(a.doc, a.fp, b.doc, b.fp, settings.max_region_lines) if tokens_a else []
    return Pair(a.info.student, b.info.student, score, share_a, share_b, tokens_a, tokens_b, tuple(regions))


def compare_submissions(
    submissions: Sequence[Path],
    *,
    source: Path,
    starters: Sequence[Path] = (),
    settings: SimilaritySettings | None = None,
    on_submission: Callable[[str], None] | None = None,
) -> SimilarityReport:
    """Compare every pair of `submissions` (zips or folders, one per student, ids as `autograder grade`
    gives them) on the code each student wrote: the kit at `source` gives the starter code (its released
    skeleton and its reference solutions), and each folder of `starters` adds its code to it.

    `on_submission(student)` is called as each submission has been read. A submission that breaks the
    intake rules is skipped and listed. Raises GradingError when fewer than two could be read.
    """
    if len(submissions) < 2:
        raise GradingError(f"similarity needs at least two submissions, got {len(submissions)}")
    settings = settings or SimilaritySettings()
    start = time.monotonic()
    starter = load_starter(source, settings, starters)
    boilerplate = boilerplate_hashes((full_document(parts) for parts in starter.distinct_sets()), settings)
    coded: list[_Coded] = []
    skipped: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="autograder-similarity-") as work:
        for job in plan_jobs(submissions):
            try:
                coded.append(_read(job, Path(work), starter, boilerplate, settings))
            except IntakeRejected as exc:
                skipped.append((str(job.submission), str(exc)))
            if on_submission:
                on_submission(job.student)
    if len(coded) < 2:
        rejected = f" ({len(skipped)} rejected by the intake rules)" if skipped else ""
        raise GradingError(f"similarity needs at least two submissions, got {len(coded)}{rejected}")
    pairs = [_pair(a, b, settings) for a, b in itertools.combinations(coded, 2)]
    pairs.sort(key=lambda p: (-p.score, -(p.tokens_a + p.tokens_b), p.a, p.b))
    return SimilarityReport(
        students=[c.info for c in coded],
        pairs=pairs,
        settings=settings,
        starter=starter.names,
        skipped=skipped,
        seconds=time.monotonic() - start,
    )
