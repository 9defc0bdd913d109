"""The `autograder` command line. It holds no logic: each subcommand module parses its arguments,
calls one typed library function and prints the result. Bad arguments exit 2 (argparse), an
AutograderError or an unusable file exits 1 with one line on stderr."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from autograder.errors import AutograderError

COMMANDS: dict[str, str] = {
    "release": "autograder.commands.release",
    "check": "autograder.commands.check",
    "export": "autograder.commands.export",
    "submit": "autograder.commands.submit",
    "grade": "autograder.commands.grade",
    "report": "autograder.commands.report",
    "manual": "autograder.commands.manual",
    "verify": "autograder.commands.verify",
    "doctor": "autograder.commands.doctor",
    "similarity": "autograder.commands.similarity",
}
"""Subcommand -> its module, one line each. A command module defines `HELP: str`,
`add_arguments(parser) -> None` and `run(args) -> int`, and imports its library lazily inside `run`."""


DESCRIPTION = "Course kit tools: release the student version, run the public checks, grade submissions."


def repo_root() -> Path:
    """The kit's source root (the folder holding pyproject.toml and exercise_code/), found from this file."""
    return Path(__file__).resolve().parent.parent


# --- argument types: bad input is a usage error (exit 2) named by argparse, never a traceback ---------


def positive_int(text: str) -> int:
    """`--workers N` and the like: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def existing_path(text: str) -> Path:
    """An input file or folder that must exist (submissions, key files)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text} does not exist")
    return path


def _writable_below(path: Path) -> None:
    """Raise ArgumentTypeError when a folder above `path` is an existing file (nothing can be made there)."""
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise argparse.ArgumentTypeError(f"cannot write {path}: {parent} is a file, not a folder")
            return


def output_dir(text: str) -> Path:
    """A folder to write into: it may not exist yet, but must not be a file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder")
    _writable_below(path)
    return path


def output_file(text: str) -> Path:
    """A file to write (replaced if it exists): it must not be a folder."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give the file to write")
    _writable_below(path)
    return path


def submissions(paths: list[Path]) -> list[Path]:
    """The submissions among `paths` (`autograder.grading.batch.scan_submissions`); each path skipped is
    named on stderr. Raises GradingError when nothing is left to grade."""
    from autograder.errors import GradingError
    from autograder.grading.batch import scan_submissions

    scan = scan_submissions(paths)
    for path, reason in scan.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    if not scan.submissions:
        where = ", ".join(map(str, paths))
        raise GradingError(f"nothing to grade in {where} (no zips or submission folders)")
    return scan.submissions


def build_parser() -> argparse.ArgumentParser:
    """The parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="autograder", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `autograder` console script; returns the exit code.

    0: done; 1: the work failed (an AutograderError, or a file that could not be read or written: one
    line on stderr); 2: bad arguments (argparse's usage message); 130: interrupted.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on usage errors (2)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return int(args.run(args))
    except (AutograderError, OSError) as exc:  # OSError: a file or folder the TA named is unusable
        print(f"autograder {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"autograder {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
