"""Write a release into a temporary folder next to its target and move it into place only when complete."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from autograder.errors import ReleaseError

RELEASE_ENTRIES = frozenset({"exercise_code", "notebooks", "pyproject.toml", "README.md"})
"""Top-level names a release holds: an existing folder with anything else is not replaced."""


def check_target(source: Path, out: Path, package: str) -> None:
    """ReleaseError unless `out` may be (re)written: not the source, not above it, not inside its package,
    and, if it exists, an empty folder or a previous release."""
    if out == source or out in source.parents:
        raise ReleaseError(f"refusing to release into {out}: it holds the source kit {source}")
    if (source / package) == out or (source / package) in out.parents:
        raise ReleaseError(f"refusing to release into {out}: it is inside the source package")
    if out.exists() and not out.is_dir():
        raise ReleaseError(f"refusing to release into {out}: it is a file")
    if out.is_dir():
        strangers = sorted(p.name for p in out.iterdir() if p.name not in RELEASE_ENTRIES)
        if strangers:
            held = ", ".join(strangers[:5])
            raise ReleaseError(
                f"refusing to replace {out}: it is not a previous release (it holds {held}); "
                "remove it or choose another --out"
            )


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """Yield an empty staging folder next to `out`; on success it replaces `out`, on error it vanishes."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-staging-", dir=out.parent))
    old = out.parent / f".{out.name}-old-{staging.name.rsplit('-', 1)[-1]}"
    try:
        yield staging
        staging.chmod(0o755)  # mkdtemp made it private
        if out.exists():
            out.rename(old)  # keep the previous release until the new one is in place
        try:
            staging.rename(out)
        except OSError as exc:
            if old.exists():
                old.rename(out)
            raise ReleaseError(f"could not move the release into {out}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
