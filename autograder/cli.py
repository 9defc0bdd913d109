"""The `autograder` command line. It holds no logic: each subcommand module parses its arguments,
calls one typed library function and prints the result; AutograderError becomes exit code 1."""

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
    "verify": "autograder.commands.verify",
    "doctor": "autograder.commands.doctor",
}
"""Subcommand -> its module, one line each. A command module defines `HELP: str`,
`add_arguments(parser) -> None` and `run(args) -> int`, and imports its library lazily inside `run`."""


DESCRIPTION = "Course kit tools: release the student version, run the public checks, grade submissions."


def repo_root() -> Path:
    """The kit's source root (the folder holding pyproject.toml and exercise_code/), found from this file."""
    return Path(__file__).resolve().parent.parent


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
    """Entry point of the `autograder` console script; returns the exit code (2: bad arguments)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on usage errors (2)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return int(args.run(args))
    except AutograderError as exc:
        print(f"autograder {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"autograder {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
