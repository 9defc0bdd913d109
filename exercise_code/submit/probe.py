"""Everything that runs the student's code (the public checks, rebuilding each model from its JSON spec)
runs here, in a fresh Python started inside the kit folder: the code checked is the code on disk that
goes into the zip, whichever `exercise_code` the caller imported, and a crash cannot take the caller down.

`run_probe` starts it; the child half (`main`) uses only the standard library and torch at module level,
because it runs as a plain script (`runpy.run_path`) with the kit's own `exercise_code` first on sys.path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TIMEOUT_S = 900.0
"""Wall-clock limit of the child (the public checks take seconds; a hanging student function is cut)."""
MESSAGE_CHARS = 400
"""Longest message kept from the student's code (a load_state_dict error lists every key)."""
FAILING_SHOWN = 20
"""Non-passing check lines kept."""
_BOOT = "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
"""`python -c` keeps the current folder (the kit) first on sys.path and runs this file as a script."""


@dataclass
class ProbeAnswer:
    """What the child found: the public checks' lines and each model's rebuild problem ('' when fine)."""

    package: str = ""
    """Folder of the `exercise_code` the child imported."""
    checks_ok: bool | None = None
    """None when the checks were not run."""
    check_lines: list[str] = field(default_factory=list)
    """Score lines, then the lines of checks that did not pass."""
    rebuilt: dict[str, str] = field(default_factory=dict)
    problem: str = ""
    """Set when the child itself failed (crash, timeout): then nothing else is known."""


def run_probe(
    root: Path, models: list[str], *, checks: bool = True, timeout_s: float = TIMEOUT_S
) -> ProbeAnswer:
    """Run the public checks (if `checks`) and rebuild `models` with the kit's code at `root`, in a child
    Python whose working folder is `root`. Never raises for what the student's code does."""
    root = Path(root).resolve()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg"}
    env.pop("PYTHONSAFEPATH", None)  # it would drop the kit folder from sys.path
    with tempfile.TemporaryDirectory(prefix="submit-probe-") as scratch:
        request, answer = Path(scratch) / "request.json", Path(scratch) / "answer.json"
        request.write_text(json.dumps({"checks": checks, "models": models, "answer": str(answer)}))
        command = [sys.executable, "-c", _BOOT, str(Path(__file__).resolve()), str(request)]
        try:
            done = subprocess.run(
                command,
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired:
            return ProbeAnswer(
                problem=f"running your code did not finish in {timeout_s:g} s (a function that hangs?)"
            )
        except OSError as exc:
            return ProbeAnswer(problem=f"could not start {sys.executable}: {exc}")
        if not answer.is_file():
            tail = "\n".join(done.stderr.strip().split("\n")[-6:])
            return ProbeAnswer(
                problem=f"running your code in a fresh Python stopped (exit code {done.returncode}):\n{tail}"
            )
        data = json.loads(answer.read_text(encoding="utf-8"))
    return ProbeAnswer(
        package=data["package"],
        checks_ok=data.get("checks_ok"),
        check_lines=data.get("check_lines", []),
        rebuilt=data.get("rebuilt", {}),
    )


# --- the child half: runs with the kit folder as the working folder ------------------------------------


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 3] + "..."


def public_checks() -> tuple[bool, list[str]]:
    """(all passed, score lines + the lines of checks that did not pass) of `run_checks()` here."""
    try:
        from exercise_code.checks import run_checks

        report = run_checks(root=".")
        failing = [r.line() for r in report.results if str(r.status) != "passed"]
        more = len(failing) - FAILING_SHOWN
        tail = [f"... and {more} more (python -m exercise_code.checks shows them all)"] if more > 0 else []
        return bool(report.ok), [*report.score_lines(), *failing[:FAILING_SHOWN], *tail]
    except BaseException as exc:
        return False, [f"the public checks could not run: {_short(exc)}"]


def rebuild(name: str) -> str:
    """'' when `models/<name>.json` rebuilds (with `exercise_code.models.build_model`) a model that takes
    `models/<name>.pt` with `load_state_dict(strict=True)`; else what went wrong."""
    import torch

    spec = json.loads(Path("models", f"{name}.json").read_text(encoding="utf-8"))
    state = torch.load(Path("models", f"{name}.pt"), weights_only=True, map_location="cpu")
    try:
        from exercise_code.models import build_model

        model = build_model(spec)
    except BaseException as exc:
        return f"models/{name}.json does not rebuild with exercise_code.models.build_model: {_short(exc)}"
    try:
        model.load_state_dict(state, strict=True)
    except BaseException as exc:
        return (
            f"models/{name}.pt does not fit the model that models/{name}.json describes "
            f"(load_state_dict(strict=True)): {_short(exc)}"
        )
    return ""


def main(argv: list[str]) -> int:
    """Child entry point: `argv[1]` names the request file; the answer file is written last."""
    request = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    import exercise_code

    answer: dict[str, Any] = {"package": str(Path(exercise_code.__path__[0]).resolve())}
    if request["checks"]:
        answer["checks_ok"], answer["check_lines"] = public_checks()
    answer["rebuilt"] = {name: rebuild(name) for name in request["models"]}
    target = Path(request["answer"])
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(answer), encoding="utf-8")
    os.replace(tmp, target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
