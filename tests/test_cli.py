"""The CLI forwards to the library and maps the exception family to exit codes."""

from __future__ import annotations

import zipfile

from autograder.cli import main


def test_release_and_check_commands(tmp_path, capsys):
    assert main(["release", "--out", str(tmp_path / "rel"), "--no-notebooks"]) == 0
    out = capsys.readouterr().out
    assert "leak check: clean" in out and "solution regions" in out
    assert main(["check", "layers"]) == 0


def test_errors_become_exit_code_1(tmp_path, capsys):
    assert main(["release", "--out", str(tmp_path / "x"), "--source", str(tmp_path)]) == 1
    assert "no exercise_code/ package" in capsys.readouterr().err


def test_export_gradescope_zip(tmp_path):
    out = tmp_path / "autograder.zip"
    assert main(["export", "gradescope", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        assert {"setup.sh", "run_autograder", "pyproject.toml"} <= names
        assert any(n.startswith("autograder/hidden/") for n in names)
        assert (archive.getinfo("run_autograder").external_attr >> 16) & 0o111
