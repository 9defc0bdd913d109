"""Safe extraction of a submission zip (or copy of a folder) into a fresh directory, plus its manifest.

Rejected: absolute paths, `..`, drive letters, symlink or special-file zip entries, encrypted entries,
duplicates, and archives over the caps (size, count, compression ratio). A folder's symlinks, special
files and hard-linked files are skipped and recorded. Python caches and OS junk are skipped everywhere.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder.errors import IntakeRejected

from .manifest import JUNK, FileRecord, Manifest, Skipped, file_sha256, source_sha256, student_id

MIB = 2**20


@dataclass(frozen=True)
class IntakeLimits:
    """Caps on what one submission may unpack to."""

    max_total_mb: float = 200.0
    """Sum of the unpacked file sizes."""
    max_file_mb: float = 100.0
    """One unpacked file."""
    max_files: int = 2000
    max_ratio: float = 100.0
    """Unpacked / packed size of one zip entry (a zip bomb has thousands)."""
    ratio_floor_kb: int = 64
    """Entries smaller than this may have any ratio (short text compresses well)."""
    max_depth: int = 16
    max_name_len: int = 255
    junk: tuple[str, ...] = JUNK
    """Path components skipped with a record (compiled caches could shadow the scanned source)."""
    junk_suffixes: tuple[str, ...] = (".pyc", ".pyo")

    def __post_init__(self) -> None:
        for name in ("max_total_mb", "max_file_mb", "max_files", "max_ratio", "max_depth", "max_name_len"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


@dataclass
class Intake:
    """An extracted submission: `root` (read-only copy) and its manifest (written at `manifest_path`)."""

    root: Path
    manifest: Manifest
    manifest_path: Path
    notes: list[str] = field(default_factory=list)


def clean_name(name: str, limits: IntakeLimits) -> PurePosixPath:
    """The safe relative path of an archive member, or IntakeRejected naming the problem."""
    if "\x00" in name:
        raise IntakeRejected(f"entry name {name!r} contains a NUL byte")
    normal = name.replace("\\", "/")
    if normal.startswith("/") or (len(normal) > 1 and normal[1] == ":"):
        raise IntakeRejected(f"entry {name!r} has an absolute path")
    parts = [p for p in normal.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise IntakeRejected(f"entry {name!r} climbs out of the submission with '..'")
    if not parts:
        raise IntakeRejected(f"entry {name!r} has an empty path")
    if len(parts) > limits.max_depth or any(len(p) > limits.max_name_len for p in parts):
        raise IntakeRejected(f"entry {name!r} is nested too deep or has a name that is too long")
    return PurePosixPath(*parts)


def _is_junk(rel: PurePosixPath, limits: IntakeLimits) -> bool:
    return any(p in limits.junk for p in rel.parts) or rel.suffix in limits.junk_suffixes


class _Writer:
    """Creates files under `dest` only (O_EXCL | O_NOFOLLOW), counting bytes against the caps."""

    def __init__(self, dest: Path, limits: IntakeLimits) -> None:
        self.dest, self.limits = dest, limits
        self.total = 0
        self.records: list[FileRecord] = []

    def open(self, rel: PurePosixPath) -> int:
        if len(self.records) >= self.limits.max_files:
            raise IntakeRejected(f"more than {self.limits.max_files} files")
        target = self.dest.joinpath(*rel.parts)
        try:
            target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise IntakeRejected(f"entry {rel} clashes with a file of the same name") from None
        if not target.resolve().is_relative_to(self.dest.resolve()):
            raise IntakeRejected(f"entry {rel} resolves outside the submission")
        try:
            return os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        except FileExistsError:
            raise IntakeRejected(f"entry {rel} appears twice") from None
        except (NotADirectoryError, IsADirectoryError):
            raise IntakeRejected(f"entry {rel} clashes with a file or folder of the same name") from None

    def copy(self, rel: PurePosixPath, stream) -> None:
        fd = self.open(rel)
        size = 0
        try:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                self.total += len(chunk)
                if size > self.limits.max_file_mb * MIB:
                    raise IntakeRejected(f"{rel} is larger than {self.limits.max_file_mb:g} MB")
                if self.total > self.limits.max_total_mb * MIB:
                    raise IntakeRejected(
                        f"the submission unpacks to more than {self.limits.max_total_mb:g} MB"
                    )
                os.write(fd, chunk)
            os.lseek(fd, 0, os.SEEK_SET)
        finally:
            os.close(fd)
        target = self.dest.joinpath(*rel.parts)
        self.records.append(FileRecord(rel.as_posix(), size, file_sha256(target)))


def _zip_members(
    archive: zipfile.ZipFile, limits: IntakeLimits
) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """Validate every entry before writing anything."""
    members, declared = [], 0
    for info in archive.infolist():
        rel = clean_name(info.filename, limits)
        mode = info.external_attr >> 16 if info.create_system == 3 else 0
        if stat.S_ISLNK(mode):
            raise IntakeRejected(f"entry {info.filename!r} is a symbolic link")
        kind = stat.S_IFMT(mode)  # 0: no type recorded (Windows tools, Python's zipfile): a plain file
        if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
            raise IntakeRejected(f"entry {info.filename!r} is a special file (mode {oct(kind)})")
        if info.flag_bits & 0x1:
            raise IntakeRejected(f"entry {info.filename!r} is encrypted")
        declared += info.file_size
        if declared > limits.max_total_mb * MIB:
            raise IntakeRejected(f"the submission unpacks to more than {limits.max_total_mb:g} MB")
        if info.file_size > limits.ratio_floor_kb * 1024:
            if info.file_size > limits.max_ratio * max(info.compress_size, 1):
                ratio = info.file_size / max(info.compress_size, 1)
                raise IntakeRejected(
                    f"entry {info.filename!r} has a compression ratio of {ratio:.0f} "
                    f"(cap {limits.max_ratio:g})"
                )
        members.append((info, rel))
    if len(members) > limits.max_files * 2:
        raise IntakeRejected(f"more than {limits.max_files} files")
    return members


def _strip_wrapper(rels: list[PurePosixPath]) -> int:
    """1 when every path sits in one top folder that holds the submission (zip of a folder), else 0."""
    tops = {r.parts[0] for r in rels}
    if len(tops) == 1 and all(len(r.parts) > 1 for r in rels) and "exercise_code" not in tops:
        return 1
    return 0


def _extract_zip(source: Path, dest: Path, limits: IntakeLimits) -> tuple[list[FileRecord], list[Skipped]]:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise IntakeRejected(f"{source.name} is not a readable zip archive: {exc}") from None
    with archive:
        members = _zip_members(archive, limits)
        skipped = [Skipped(rel.as_posix(), "junk") for _, rel in members if _is_junk(rel, limits)]
        members = [(i, r) for i, r in members if not _is_junk(r, limits)]
        cut = _strip_wrapper([r for _, r in members])
        writer = _Writer(dest, limits)
        for info, rel in members:
            rel = PurePosixPath(*rel.parts[cut:]) if len(rel.parts) > cut else rel
            if info.is_dir():
                try:
                    dest.joinpath(*rel.parts).mkdir(mode=0o755, parents=True, exist_ok=True)
                except (FileExistsError, NotADirectoryError):
                    raise IntakeRejected(f"entry {rel} clashes with a file of the same name") from None
                continue
            try:
                with archive.open(info) as stream:
                    writer.copy(rel, stream)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
                raise IntakeRejected(f"entry {info.filename!r} cannot be read: {exc}") from None
    return writer.records, skipped


def _copy_folder(source: Path, dest: Path, limits: IntakeLimits) -> tuple[list[FileRecord], list[Skipped]]:
    writer, skipped = _Writer(dest, limits), []
    root = source.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for junk in [d for d in dirnames if d in limits.junk]:  # do not even walk into .git, .venv, ...
            dirnames.remove(junk)
            skipped.append(Skipped(os.path.relpath(os.path.join(dirpath, junk), root), "junk"))
        for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = os.path.join(dirpath, name)
            rel = clean_name(os.path.relpath(path, root), limits)
            info = os.lstat(path)
            reason = None
            if _is_junk(rel, limits):
                reason = "junk"
            elif stat.S_ISLNK(info.st_mode):
                reason = f"symbolic link to {os.readlink(path)!r}"
            elif not stat.S_ISREG(info.st_mode):
                reason = "special file"
            elif info.st_nlink > 1:
                reason = "hard link (the same file also exists elsewhere)"
            if reason:
                skipped.append(Skipped(rel.as_posix(), reason))
                continue
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as stream:
                writer.copy(rel, stream)
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return writer.records, skipped


def extract_submission(
    source: Path, workdir: Path, *, limits: IntakeLimits | None = None, student: str | None = None
) -> Intake:
    """Unpack `source` (zip or folder) into `workdir/submission` and write `workdir/manifest.json`.

    `workdir/submission` is replaced if it exists. Raises IntakeRejected (and leaves no partial copy)
    when the archive breaks a rule; the message names the entry and the rule.
    """
    limits = limits or IntakeLimits()
    source = Path(source)
    if not source.exists():
        raise IntakeRejected(f"{source} does not exist")
    dest = workdir / "submission"
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(mode=0o755, parents=True)
    os.chmod(dest, 0o755)
    try:
        if source.is_dir():
            records, skipped = _copy_folder(source, dest, limits)
        else:
            records, skipped = _extract_zip(source, dest, limits)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    for path in [dest, *dest.rglob("*")]:  # readable by the sandbox uid whatever the grader's umask
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    manifest = Manifest(
        student=student or student_id(source),
        source=str(source),
        source_sha256=source_sha256(source, limits.junk),
        files=tuple(sorted(records, key=lambda r: r.path)),
        skipped=tuple(skipped),
    )
    manifest_path = workdir / "manifest.json"
    manifest.write(manifest_path)
    return Intake(dest, manifest, manifest_path)
