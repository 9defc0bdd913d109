"""Downloads without a network: one clear offline message, hash checks on file:// URLs, unpacking, layouts."""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import struct
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from exercise_code.data import (
    DATASETS,
    MSRC_COLOURS,
    ChecksumMismatchError,
    DatasetUnavailableError,
    MSRCv2,
    download,
    fetch,
    file_digest,
    mnist_full,
)
from exercise_code.data.sources import RemoteDataset, RemoteFile, Unpack


@pytest.fixture
def offline(monkeypatch):
    """Every URL fails the way it does without a network."""
    calls = []

    def refuse(url, *args, **kwargs):
        calls.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    return calls


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_offline_download_fails_with_one_clear_message(tmp_path, offline, name):
    with pytest.raises(DatasetUnavailableError) as info:
        download(name, tmp_path)
    message = str(info.value)
    assert message.count("cannot download") == 1 and "To install it by hand" in message
    assert "Temporary failure in name resolution" in message
    assert str(tmp_path) in message and DATASETS[name].loader.split("(")[0] in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert offline == list(DATASETS[name].files[0].urls)  # every mirror of the first file tried, then stop
    assert not list(tmp_path.rglob("*.part"))


def test_registry_records_real_hashes():
    for spec in DATASETS.values():
        for file in spec.files:
            assert file.urls and all(u.startswith(("https://", "http://")) for u in file.urls)
            assert file.sha256 or file.md5
            if file.sha256:
                assert re.fullmatch(r"[0-9a-f]{64}", file.sha256)
            if file.md5:
                assert re.fullmatch(r"[0-9a-f]{32}", file.md5)
    assert all(f.sha256 for f in DATASETS["mnist"].files + DATASETS["voc2012"].files)


def test_fetch_accepts_good_hash(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(np.random.default_rng(0).bytes(3 * 2**20 + 17))  # several chunks
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    out = fetch(src.as_uri(), tmp_path / "out" / "file.bin", sha256=sha)
    assert out.read_bytes() == src.read_bytes() and file_digest(out) == sha
    md5 = hashlib.md5(src.read_bytes()).hexdigest()
    assert fetch(src.as_uri(), tmp_path / "m.bin", md5=md5).is_file()


def test_fetch_rejects_bad_hash_and_removes_partial_file(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"not the file you are looking for")
    dest = tmp_path / "dest.bin"
    with pytest.raises(ChecksumMismatchError, match="differs from the recorded 0000"):
        fetch(src.as_uri(), dest, sha256="0" * 64)
    assert not dest.exists() and not list(tmp_path.glob("*.part"))
    assert issubclass(ChecksumMismatchError, DatasetUnavailableError)
    assert issubclass(DatasetUnavailableError, RuntimeError)


def test_fetch_removes_partial_file_when_the_stream_breaks(tmp_path, monkeypatch):
    class Broken(io.BytesIO):
        def read(self, n=-1):
            if self.tell() > 0:
                raise ConnectionResetError("connection reset by peer")
            return super().read(4)

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: Broken(b"0123456789"))
    with pytest.raises(DatasetUnavailableError, match="connection reset by peer"):
        fetch("https://example.invalid/x", tmp_path / "x", sha256="0" * 64)
    assert not list(tmp_path.iterdir())


def test_fetch_keeps_a_verified_file_without_network(tmp_path, offline):
    dest = tmp_path / "have.bin"
    dest.write_bytes(b"abc")
    assert fetch("https://example.invalid/have.bin", dest, sha256=hashlib.sha256(b"abc").hexdigest()) == dest
    assert offline == []


def test_fetch_and_download_errors(tmp_path):
    with pytest.raises(ValueError, match="needs a recorded sha256 or md5"):
        fetch("file:///dev/null", tmp_path / "x")
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        download("imagenet", tmp_path)


def _remote(path: Path, unpack: Unpack) -> RemoteFile:
    return RemoteFile(path.name, (path.as_uri(),), sha256=file_digest(path), unpack=unpack)


def test_download_mnist_from_local_mirror(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    files = []
    for prefix, n in (("train", 5), ("t10k", 2)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        for kind, blob in (
            ("images-idx3", struct.pack(">iiii", 2051, n, 28, 28) + images.tobytes()),
            ("labels-idx1", struct.pack(">ii", 2049, n) + labels.tobytes()),
        ):
            path = mirror / f"{prefix}-{kind}-ubyte.gz"
            path.write_bytes(gzip.compress(blob))
            files.append(_remote(path, Unpack.GUNZIP))
        if prefix == "train":
            expected = images
    spec = DATASETS["mnist"]
    fake = RemoteDataset("mnist", tuple(files), spec.subdir, spec.manual, spec.loader)
    monkeypatch.setitem(DATASETS, "mnist", fake)
    root = download("mnist", tmp_path / "data")
    images, labels = mnist_full(root, train=True)
    torch.testing.assert_close(images, torch.from_numpy(expected))
    assert labels.shape == (5,)


def test_download_msrc_arranges_the_course_layout(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    official = mirror / "msrc_objcategimagedatabase_v2.zip"
    with zipfile.ZipFile(official, "w") as archive:
        for name in ("1_1_s", "1_2_s"):
            for folder, suffix, colour in (("Images", "", (9, 99, 199)), ("GroundTruth", "_GT", (0, 128, 0))):
                buffer = io.BytesIO()
                Image.fromarray(np.full((4, 5, 3), colour, dtype=np.uint8)).save(buffer, format="BMP")
                archive.writestr(
                    f"MSRC_ObjCategImageDatabase_v2/{folder}/{name}{suffix}.bmp", buffer.getvalue()
                )
    splits = mirror / "TextonBoostSplits.zip"
    with zipfile.ZipFile(splits, "w") as archive:
        archive.writestr("Train.txt", "1_1_s.bmp\n")
        archive.writestr("Validation.txt", "1_2_s.bmp\n")
        archive.writestr("Test.txt", "")
    spec = DATASETS["msrc_v2"]
    files = (_remote(official, Unpack.ZIP), _remote(splits, Unpack.ZIP))
    monkeypatch.setitem(
        DATASETS, "msrc_v2", RemoteDataset("msrc_v2", files, ".", spec.manual, spec.loader, spec.arrange)
    )
    root = download("msrc_v2", tmp_path / "msrc")
    image, mask = MSRCv2(root, "val")[0]
    assert image.shape == (3, 4, 5) and (mask == 1).all()  # grass
    assert MSRC_COLOURS[1].tolist() == [0, 128, 0]
    assert len(MSRCv2(root, "train")) == 1


def test_unsafe_zip_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("../escape.txt", "x")
    spec = DATASETS["msrc_v2"]
    fake = RemoteDataset("msrc_v2", (_remote(bad, Unpack.ZIP),), ".", spec.manual, spec.loader)
    monkeypatch.setitem(DATASETS, "msrc_v2", fake)
    with pytest.raises(DatasetUnavailableError, match="unsafe path"):
        download("msrc_v2", tmp_path / "root")
    assert not (tmp_path / "escape.txt").exists()
