"""The manifest of an extracted submission (files, sizes, sha256), student ids and source hashes.

A batch skips a submission whose stored result carries the same `source_sha256` (the zip's bytes, or
a folder's listing and contents), so an unchanged submission is never graded twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from exercise_code.submit.layout import NEVER_SUBMITTED

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
JUNK = NEVER_SUBMITTED
"""Names of files and folders that are never part of a submission (skipped with a record)."""


def student_id(source: Path) -> str:
    """The student id of a submission: the zip's stem or the folder's name, made filename-safe."""
    name = source.stem if source.suffix.lower() == ".zip" else source.name
    cleaned = _UNSAFE.sub("_", name).strip("._") or "submission"
    return cleaned[:100]


def file_sha256(path: Path | int) -> str:
    """Hex sha256 of a file's bytes (a path, or an fd read from its current offset)."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW) if not isinstance(path, int) else path
    try:
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
    finally:
        if not isinstance(path, int):
            os.close(fd)
    return digest.hexdigest()


def source_sha256(source: Path, skip: tuple[str, ...] = JUNK) -> str:
    """Fingerprint of a submission as handed in: the zip's bytes, or a folder's tree (links not followed,
    folders named in `skip` left out)."""
    if source.is_file():
        return file_sha256(source)
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in skip)
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, source)
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode):
                entry = f"f {rel} {info.st_size} {file_sha256(Path(path))}"
            elif stat.S_ISLNK(info.st_mode):
                entry = f"l {rel} {os.readlink(path)}"
            else:
                entry = f"o {rel} {stat.S_IFMT(info.st_mode)}"
            digest.update(entry.encode(errors="surrogateescape") + b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class FileRecord:
    path: str
    """Relative POSIX path inside the submission."""
    size: int
    sha256: str


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class Manifest:
    """What intake kept and skipped; written as `manifest.json` next to the extracted copy."""

    student: str
    source: str
    source_sha256: str
    files: tuple[FileRecord, ...] = ()
    skipped: tuple[Skipped, ...] = field(default=())

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def sha256(self) -> str:
        """Fingerprint of the extracted content (paths, sizes, file hashes)."""
        lines = "".join(f"{f.path}\t{f.size}\t{f.sha256}\n" for f in sorted(self.files, key=lambda f: f.path))
        return hashlib.sha256(lines.encode(errors="surrogateescape")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["total_bytes"] = self.total_bytes
        data["manifest_sha256"] = self.sha256
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            student=data["student"],
            source=data["source"],
            source_sha256=data["source_sha256"],
            files=tuple(FileRecord(**f) for f in data.get("files", [])),
            skipped=tuple(Skipped(**s) for s in data.get("skipped", [])),
        )

    def write(self, path: Path) -> None:
        write_json_atomic(path, self.to_dict())


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temp file in the same folder, fsync, then os.replace (never a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
