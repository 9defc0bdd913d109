"""Download a real dataset, streamed and hashed, and unpack it; offline, fail with one message that says how.

Nothing in the kit downloads on its own: `download(name, root)` is called by hand on a machine with network.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import shutil
import tarfile
import urllib.request
import zipfile
from pathlib import Path

from .errors import ChecksumMismatchError, DatasetUnavailableError
from .sources import DATASETS, RemoteDataset, RemoteFile, Unpack

log = logging.getLogger(__name__)

CHUNK = 1 << 20


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _expected(sha256: str | None, md5: str | None) -> tuple[str, str]:
    if sha256:
        return "sha256", sha256.lower()
    if md5:
        return "md5", md5.lower()
    raise ValueError("a download needs a recorded sha256 or md5 to verify against, got neither")


def fetch(
    url: str, dest: str | Path, *, sha256: str | None = None, md5: str | None = None, timeout: float = 60.0
) -> Path:
    """Stream `url` to `dest`, hashing as it goes; keep it only if the hash matches.

    The bytes go to `dest + ".part"` first and are renamed on success. A `dest` that already has the right
    hash is kept without downloading. Network errors raise `DatasetUnavailableError`; a hash mismatch raises
    `ChecksumMismatchError` after removing the partial file. SHA-256 is checked when given, else md5.
    """
    algorithm, expected = _expected(sha256, md5)
    dest = Path(dest)
    if dest.is_file() and file_digest(dest, algorithm) == expected:
        log.info("%s already present and verified", dest)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.new(algorithm, usedforsecurity=False)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
    except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError and timeouts are OSErrors
        part.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise DatasetUnavailableError(f"could not fetch {url}: {reason}") from exc
    got = digest.hexdigest()
    if got != expected:
        part.unlink(missing_ok=True)
        raise ChecksumMismatchError(
            f"{url}: {algorithm} {got} differs from the recorded {expected}; the partial file was removed"
        )
    os.replace(part, dest)
    return dest


def _unpack(path: Path, how: Unpack, into: Path) -> None:
    if how is Unpack.GUNZIP:
        with gzip.open(path, "rb") as src, open(into / path.name.removesuffix(".gz"), "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
    elif how is Unpack.TAR:
        with tarfile.open(path) as archive:
            if hasattr(tarfile, "data_filter"):
                archive.extractall(into, filter="data")
            else:  # Python < 3.11.4: check member paths by hand
                for member in archive.getmembers():
                    if not (into / member.name).resolve().is_relative_to(into.resolve()):
                        raise DatasetUnavailableError(f"{path} holds an unsafe path {member.name!r}")
                archive.extractall(into)
    elif how is Unpack.ZIP:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if not (into / name).resolve().is_relative_to(into.resolve()):
                    raise DatasetUnavailableError(f"{path} holds an unsafe path {name!r}")
            archive.extractall(into)


def _fetch_any(file: RemoteFile, dest: Path, timeout: float) -> Path:
    """Try each mirror in turn; the last network error is re-raised if none answers."""
    error: DatasetUnavailableError | None = None
    for url in file.urls:
        try:
            return fetch(url, dest, sha256=file.sha256, md5=file.md5, timeout=timeout)
        except ChecksumMismatchError:
            raise
        except DatasetUnavailableError as exc:
            log.info("mirror failed: %s", exc)
            error = exc
    if error is None:
        raise ValueError(f"no URL recorded for {file.filename}")
    raise error


def manual_instructions(name: str, root: str | Path) -> str:
    """How to install dataset `name` under `root` by hand (the text of the offline error)."""
    spec = _spec(name)
    dest = Path(root).expanduser() / spec.subdir
    return spec.manual.format(root=Path(root).expanduser(), dest=dest.resolve() if dest.exists() else dest)


def _spec(name: str) -> RemoteDataset:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(DATASETS)}")
    return DATASETS[name]


def download(name: str, root: str | Path, *, timeout: float = 60.0) -> Path:
    """Download, verify and unpack dataset `name` ("mnist", "voc2012" or "msrc_v2") under `root`.

    Returns `root`, ready for the dataset's loader. Any failure to reach the files raises one
    `DatasetUnavailableError` whose message says where to put them by hand; a file whose hash differs from
    the recorded one raises `ChecksumMismatchError` (and is not kept).
    """
    spec = _spec(name)
    root = Path(root).expanduser()
    dest = root / spec.subdir
    for file in spec.files:
        try:
            path = _fetch_any(file, dest / file.filename, timeout)
        except ChecksumMismatchError:
            raise
        except DatasetUnavailableError as exc:
            raise DatasetUnavailableError(
                f"cannot download {name!r} ({exc}). "
                f"To install it by hand: {manual_instructions(name, root)}. "
                f"Then load it with {spec.loader} where root = {str(root)!r}."
            ) from None
        _unpack(path, file.unpack, dest)
    if spec.arrange is not None:
        spec.arrange(root)
    return root
