"""The `autograder` command line. It holds no logic: each subcommand parses its arguments, calls one
typed library function, prints the result, and maps AutograderError to exit code 1."""

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
}
"""Subcommand -> module with `HELP`, `add_arguments(parser)` and `run(args) -> int`: one line each."""


def repo_root() -> Path:
    """The kit's source root (the folder holding pyproject.toml and exercise_code/)."""
    return Path(__file__).resolve().parent.parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `autograder` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except AutograderError as exc:
        print(f"autograder {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"autograder {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
