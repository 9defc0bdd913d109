"""Safe extraction of submission zips and folders: the manifest, the caps and every rejection rule."""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

from autograder.errors import IntakeRejected
from autograder.intake import (
    IntakeLimits,
    Manifest,
    extract_submission,
    missing_parts,
    required_files,
    source_sha256,
    student_id,
    write_json_atomic,
)

GOOD = {
    "exercise_code/__init__.py": b"",
    "exercise_code/layers.py": b"def f(x):\n    return x\n",
    "notebooks/01.ipynb": b"{}",
    "models/seg.json": b'{"name": "M", "kwargs": {}}',
    "models/seg.pt": os.urandom(2000),
}


def _zip(path: Path, entries: dict[str, bytes], *, modes: dict[str, int] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if modes and name in modes:
                info.create_system = 3
                info.external_attr = modes[name] << 16
            archive.writestr(info, data)
    return path


def test_zip_extracts_with_manifest(tmp_path):
    source = _zip(
        tmp_path / "alice.zip", {**GOOD, "exercise_code/__pycache__/x.pyc": b"junk", "__MACOSX/a": b""}
    )
    intake = extract_submission(source, tmp_path / "work")
    assert intake.root == tmp_path / "work" / "submission"
    assert intake.manifest_path == tmp_path / "work" / "manifest.json"
    records = {f.path: f for f in intake.manifest.files}
    assert set(records) == set(GOOD)
    assert records["models/seg.pt"].size == 2000
    assert (intake.root / "exercise_code/layers.py").read_bytes() == GOOD["exercise_code/layers.py"]
    assert {s.path for s in intake.manifest.skipped} == {"exercise_code/__pycache__/x.pyc", "__MACOSX/a"}
    assert not (intake.root / "exercise_code/__pycache__").exists()
    stored = Manifest.from_dict(json.loads(intake.manifest_path.read_text()))
    assert (
        stored.sha256
        == intake.manifest.sha256
        == json.loads(intake.manifest_path.read_text())["manifest_sha256"]
    )
    assert stored.student == "alice" and stored.total_bytes == sum(len(v) for v in GOOD.values())
    mode = (intake.root / "models/seg.pt").stat().st_mode
    assert stat.S_IMODE(mode) == 0o644  # readable by the sandbox uid


def test_zip_of_a_wrapping_folder_is_unwrapped(tmp_path):
    source = _zip(tmp_path / "bob.zip", {f"bob_submission/{k}": v for k, v in GOOD.items()})
    intake = extract_submission(source, tmp_path / "work")
    assert (intake.root / "exercise_code/layers.py").is_file()
    assert missing_parts(intake.root, ("seg",)) == []


def test_reextraction_replaces_the_previous_copy(tmp_path):
    source = _zip(tmp_path / "a.zip", GOOD)
    first = extract_submission(source, tmp_path / "work")
    (first.root / "stray.txt").write_text("left over")
    second = extract_submission(source, tmp_path / "work")
    assert not (second.root / "stray.txt").exists()


S_IFIFO = stat.S_IFIFO | 0o644


@pytest.mark.parametrize(
    ("entries", "modes", "match"),
    [
        ({"/etc/evil": b"x"}, None, "absolute path"),
        ({"C:/evil": b"x"}, None, "absolute path"),
        ({"../../evil.txt": b"x"}, None, "climbs out"),
        ({"exercise_code/../../evil": b"x"}, None, "climbs out"),
        ({"..\\..\\evil": b"x"}, None, "climbs out"),
        (
            {"exercise_code/link": b"/etc/shadow"},
            {"exercise_code/link": stat.S_IFLNK | 0o777},
            "symbolic link",
        ),
        ({"exercise_code/fifo": b""}, {"exercise_code/fifo": S_IFIFO}, "special file"),
        ({"a/" * 20 + "x": b"x"}, None, "nested too deep"),
        ({"x" * 300: b"x"}, None, "too long"),
    ],
)
def test_bad_entries_are_rejected(tmp_path, entries, modes, match):
    source = _zip(tmp_path / "bad.zip", {**GOOD, **entries}, modes=modes)
    with pytest.raises(IntakeRejected, match=match):
        extract_submission(source, tmp_path / "work" / "x")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "work" / "evil.txt").exists()
    assert not (tmp_path / "work" / "x" / "submission").exists()  # no partial copy left behind


def test_duplicates_and_clashes_are_rejected(tmp_path):
    path = tmp_path / "dup.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.txt", b"1")
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("a.txt", b"2")
    with pytest.raises(IntakeRejected, match="appears twice"):
        extract_submission(path, tmp_path / "w1")
    clash = _zip(tmp_path / "clash.zip", {"a": b"file", "a/b": b"inside"})
    with pytest.raises(IntakeRejected, match="clashes"):
        extract_submission(clash, tmp_path / "w2")


def test_encrypted_entries_are_rejected(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("secret.txt", b"x")
    data = bytearray(buffer.getvalue())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set the "encrypted" flag bit
        data[data.find(signature) + offset] |= 0x1
    (tmp_path / "enc.zip").write_bytes(bytes(data))
    with pytest.raises(IntakeRejected, match="encrypted"):
        extract_submission(tmp_path / "enc.zip", tmp_path / "w")


@pytest.mark.parametrize(
    ("limits", "entries", "match"),
    [
        (IntakeLimits(max_files=3), GOOD, "more than 3 files"),
        (IntakeLimits(max_total_mb=0.001), GOOD, "unpacks to more than"),
        (IntakeLimits(max_file_mb=0.001), GOOD, "larger than"),
        (IntakeLimits(), {**GOOD, "bomb.bin": bytes(50 * 2**20)}, "compression ratio"),
    ],
)
def test_caps(tmp_path, limits, entries, match):
    source = _zip(tmp_path / "big.zip", entries)
    with pytest.raises(IntakeRejected, match=match):
        extract_submission(source, tmp_path / "w", limits=limits)


def test_unreadable_or_missing_sources_are_rejected(tmp_path):
    (tmp_path / "junk.zip").write_bytes(b"this is not a zip")
    with pytest.raises(IntakeRejected, match="not a readable zip"):
        extract_submission(tmp_path / "junk.zip", tmp_path / "w")
    with pytest.raises(IntakeRejected, match="does not exist"):
        extract_submission(tmp_path / "absent.zip", tmp_path / "w")


def test_limits_validate():
    with pytest.raises(ValueError, match="max_files must be positive, got 0"):
        IntakeLimits(max_files=0)


def _folder(root: Path) -> Path:
    for rel, data in GOOD.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_folder_skips_links_special_files_and_junk(tmp_path):
    secret = tmp_path / "hidden_labels.txt"
    secret.write_text("SECRET")
    root = _folder(tmp_path / "carol")
    (root / "exercise_code/labels.txt").symlink_to(secret)
    (root / "exercise_code/linked_dir").symlink_to(tmp_path)
    os.link(secret, root / "exercise_code/hard.txt")
    os.mkfifo(root / "exercise_code/pipe")
    (root / ".git").mkdir()
    (root / ".git/config").write_text("x")
    intake = extract_submission(root, tmp_path / "work")
    reasons = {s.path: s.reason for s in intake.manifest.skipped}
    assert reasons["exercise_code/labels.txt"].startswith("symbolic link")
    assert reasons["exercise_code/linked_dir"].startswith("symbolic link")
    assert reasons["exercise_code/hard.txt"].startswith("hard link")
    assert reasons["exercise_code/pipe"] == "special file"
    assert reasons[".git"] == "junk"
    assert {f.path for f in intake.manifest.files} == set(GOOD)
    assert not any(p.is_symlink() for p in intake.root.rglob("*"))
    assert intake.manifest.student == "carol"


def test_source_hash_tracks_content(tmp_path):
    root = _folder(tmp_path / "d")
    before = source_sha256(root)
    assert source_sha256(root) == before
    (root / "exercise_code/__pycache__").mkdir()
    (root / "exercise_code/__pycache__/x.pyc").write_bytes(b"cache")
    assert source_sha256(root) == before  # caches do not count
    (root / "exercise_code/layers.py").write_text("changed")
    assert source_sha256(root) != before
    zipped = _zip(tmp_path / "d.zip", GOOD)
    assert source_sha256(zipped) == source_sha256(zipped)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("subs/alice.zip", "alice"),
        ("subs/Bob Smith", "Bob_Smith"),
        ("x/../évil;rm.zip", "vil_rm"),
        ("..zip", "submission"),
    ],
)
def test_student_id(path, expected):
    assert student_id(Path(path)) == expected


def test_missing_parts_names_each_file(tmp_path):
    root = _folder(tmp_path / "e")
    assert required_files(("seg",))[-2:] == ["models/seg.pt", "models/seg.json"]
    assert missing_parts(root, ("seg", "ae")) == ["models/ae.pt", "models/ae.json"]
    (root / "notebooks/01.ipynb").unlink()
    assert missing_parts(root, ("seg",)) == ["notebooks/*.ipynb"]


def test_atomic_json_write_leaves_no_temp_files(tmp_path):
    write_json_atomic(tmp_path / "r.json", {"a": 1})
    write_json_atomic(tmp_path / "r.json", {"a": 2})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
