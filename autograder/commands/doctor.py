"""`autograder doctor`: print which isolation grading uses here and why."""

from __future__ import annotations

import argparse

HELP = "show the sandbox grading will use (bubblewrap, user namespaces, cgroups, rlimits) and why"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--isolation", choices=["auto", "bubblewrap", "process"], default="auto", help="isolation to check"
    )
    parser.add_argument("--quick", action="store_true", help="do not start a real worker")
    parser.add_argument(
        "--require-sandbox", action="store_true", help="exit 1 unless bubblewrap isolation is active"
    )


def run(args: argparse.Namespace) -> int:
    from autograder.doctor import diagnose

    report = diagnose(args.isolation, start_worker=not args.quick)
    print("\n".join(report.lines()))
    return 1 if args.require_sandbox and not report.sandboxed else 0
