"""The CLI forwards to the library and maps the exception family to exit codes."""

from __future__ import annotations

import importlib
import subprocess
import sys
import zipfile

import pytest

from autograder.cli import COMMANDS, main


def test_every_registered_command_follows_the_protocol():
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        assert isinstance(module.HELP, str) and module.HELP, name
        assert callable(module.add_arguments) and callable(module.run), name


def test_release_and_check_commands(tmp_path, capsys):
    assert main(["release", "--out", str(tmp_path / "rel"), "--no-notebooks"]) == 0
    out = capsys.readouterr().out
    assert "leak check: clean" in out and "solution regions" in out and "skipped (--no-notebooks)" in out
    assert main(["check", "layers"]) == 0
    assert "checks passed" in capsys.readouterr().out


def test_autograder_errors_become_exit_code_1(tmp_path, capsys):
    assert main(["release", "--out", str(tmp_path / "x"), "--source", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("autograder release: error: no exercise_code/ package under")


def test_failed_checks_exit_1(capsys):
    assert main(["check", "no-such-group"]) == 1
    assert "unknown check group" in capsys.readouterr().out


@pytest.mark.parametrize("argv, code", [([], 2), (["frobnicate"], 2), (["release"], 2), (["--help"], 0)])
def test_usage(argv, code, capsys):
    assert main(argv) == code
    captured = capsys.readouterr()
    assert "usage: autograder" in captured.out + captured.err


def test_python_dash_m_autograder():
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "release" in result.stdout and "check" in result.stdout


def test_export_gradescope_zip(tmp_path):
    out = tmp_path / "autograder.zip"
    assert main(["export", "gradescope", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        assert {"setup.sh", "run_autograder", "pyproject.toml"} <= names
        assert any(n.startswith("autograder/hidden/") for n in names)
        assert (archive.getinfo("run_autograder").external_attr >> 16) & 0o111
