"""The submit helper (`python -m exercise_code.submit`, shipped in the kit; `autograder submit` runs the same
code): public checks, required files named with the cell that makes them, models that load safely and
meet the limits, notebooks run and answered, and a zip written whole or not at all."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import torch
from grading_helpers import write_tree
from torch import nn

import autograder.intake
import exercise_code.submit.build as submit_build
from autograder.grading import HIDDEN_DIR, grade_submission
from autograder.intake import IntakeLimits
from autograder.intake.manifest import JUNK
from autograder.release import release
from autograder.release.notebooks.build import source_notebooks
from autograder.verify import TINY_BUDGET, reference_models
from autograder.verify.run import SUITE_SUPPORT
from exercise_code.config import CONFIG, ModelLimits
from exercise_code.models.registry import register
from exercise_code.submit import (
    NOTEBOOKS,
    SAVED_BY,
    check_model,
    check_notebook,
    find_kit,
    layout,
    probe,
    submit,
)
from exercise_code.submit.__main__ import main
from exercise_code.submit.probe import ProbeAnswer

REPO = Path(__file__).resolve().parent.parent

KIT_MODELS = """
import torch
from torch import nn

_REGISTRY = {}


class Tiny(nn.Module):
    def __init__(self, n=3):
        super().__init__()
        self.spec_kwargs = {"n": n}
        self.fc = nn.Linear(n, 2)

    def forward(self, x):
        return self.fc(x)


_REGISTRY["Tiny"] = Tiny


def build_model(spec):
    return _REGISTRY[spec["name"]](**spec["kwargs"])
"""

KIT_CHECKS = """
class _Result:
    def __init__(self, ok):
        self.status = "passed" if ok else "failed"
    def line(self):
        return f"[{'PASS' if self.status == 'passed' else 'FAIL'}] tiny check of this kit"


class _Report:
    def __init__(self, ok):
        self.ok, self.results = ok, [_Result(ok)]
    def score_lines(self):
        return [f"layers: {int(self.ok)}/1 checks passed"]


def run_checks(*groups, root="."):
    return _Report(OK)
"""
SPEC = '{"name": "Tiny", "kwargs": {"n": 3}}'


def _code(source: str, count: int | None = 1, outputs: tuple[dict, ...] = ()) -> dict:
    return {
        "cell_type": "code",
        "source": source,
        "execution_count": count,
        "metadata": {},
        "outputs": [*outputs],
    }


def _markdown(source: str, grade_id: str | None = None) -> dict:
    metadata = {"nbgrader": {"grade_id": grade_id, "solution": True}} if grade_id else {}
    return {"cell_type": "markdown", "source": source, "metadata": metadata}


def _notebook(*cells: dict) -> str:
    return json.dumps({"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def _kit(root: Path, *, checks_ok: bool = True, skip: tuple[str, ...] = ()) -> Path:
    """A small kit: its own `exercise_code` (a Tiny model, a one-check `run_checks`), the four notebooks
    run and answered, and every model of the config saved as state_dict + spec."""
    files: dict[str, str | bytes] = {
        "exercise_code/__init__.py": "",
        "exercise_code/config.py": (REPO / "exercise_code" / "config.py").read_text(),
        "exercise_code/models/__init__.py": KIT_MODELS,
        "exercise_code/checks/__init__.py": f"OK = {checks_ok}\n" + KIT_CHECKS,
        "exercise_code/__pycache__/junk.pyc": b"cache",
    }
    for stem in NOTEBOOKS:
        files[f"notebooks/{stem}.ipynb"] = _notebook(_code("x = 1"), _markdown("A filled answer.", "q1"))
    torch.manual_seed(0)
    root.mkdir(parents=True, exist_ok=True)
    weights = root / "_w.pt"
    torch.save(nn.Linear(3, 2).state_dict(), weights)
    state = {f"fc.{k}": v for k, v in torch.load(weights, weights_only=True).items()}
    torch.save(state, weights)
    for name in CONFIG.model_names:
        files[f"models/{name}.pt"] = weights.read_bytes()
        files[f"models/{name}.json"] = SPEC
    weights.unlink()
    return write_tree(root, {k: v for k, v in files.items() if k not in skip})


def _fake_probe(monkeypatch, *, ok: bool = True, rebuilt: dict[str, str] | None = None) -> None:
    """Replace the child Python by its answer (the tests of the child itself are further down)."""

    def fake(root: Path, models: list[str], *, checks: bool = True, timeout_s: float = 0) -> ProbeAnswer:
        lines = [f"layers: {int(ok)}/1 checks passed", *([] if ok else ["[FAIL ] a check"])]
        return ProbeAnswer(
            package=str((Path(root) / "exercise_code").resolve()),
            checks_ok=ok if checks else None,
            check_lines=lines if checks else [],
            rebuilt={name: (rebuilt or {}).get(name, "") for name in models},
        )

    monkeypatch.setattr(submit_build, "run_probe", fake)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".zip", ".partial")))


# --- one definition of what a submission holds -----------------------------------------------------------


def test_one_definition_for_the_helper_and_the_grader():
    assert autograder.intake.missing_parts is layout.missing_parts
    assert autograder.intake.required_files is layout.required_files
    assert NOTEBOOKS == tuple(p.stem for p in source_notebooks(REPO / "notebooks"))
    assert set(SAVED_BY) == set(CONFIG.model_names)
    for name, saved in SAVED_BY.items():  # the hint names a real section that saves this model
        text = (REPO / "notebooks" / f"{saved.notebook}.py").read_text()
        assert f"# ## {saved.section}\n" in text and f'"{name}"' in text.split(saved.section, 1)[1]
    assert layout.NEVER_SUBMITTED == JUNK
    limits = IntakeLimits()
    assert (layout.CAPS.max_files, layout.CAPS.max_total_mb, layout.CAPS.max_file_mb) == (
        limits.max_files,
        limits.max_total_mb,
        limits.max_file_mb,
    )


def test_the_grader_reads_the_layout_without_importing_torch():
    code = "import sys, autograder.intake; assert 'torch' not in sys.modules, 'torch imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_helper_needs_only_the_standard_library_and_torch():
    allowed = set(sys.stdlib_module_names) | {"torch", "exercise_code", "__future__"}
    for path in sorted((REPO / "exercise_code" / "submit").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            assert {n.split(".")[0] for n in names} <= allowed, f"{path.name} imports {names}"


# --- 2. required files -------------------------------------------------------------------------------


def test_missing_files_are_named_with_the_cell_that_makes_them(tmp_path, monkeypatch):
    _fake_probe(monkeypatch)
    skip = (
        "models/autoencoder.pt",
        "models/autoencoder.json",
        "models/classifier.json",
        "notebooks/03_fcn.ipynb",
    )
    root = _kit(tmp_path / "kit", skip=skip)
    report = submit(root)
    assert not report.ok and report.exit_code == 1
    assert report.missing == [
        "notebooks/03_fcn.ipynb is missing: keep your copy of the released 03_fcn.ipynb in notebooks/ under "
        "that name",
        "models/autoencoder.pt and models/autoencoder.json are missing: run the cell under 'Part 6: Save "
        "the models you submit' in notebooks/04_autoencoders.ipynb, with fast mode off (KIT_FAST unset: "
        "fast mode saves to a temporary folder)",
        "models/classifier.json is missing: run the cell under 'Part 6: Save the models you submit' in "
        "notebooks/04_autoencoders.ipynb, with fast mode off (KIT_FAST unset: fast mode saves to a temporary "
        "folder)",
    ]
    text = str(report)
    assert "2/5 required files: MISSING" in text and "NOT WRITTEN: 3 problem(s)" in text
    assert [m.name for m in report.models] == ["segmentation"]  # the complete model is still checked
    assert _leftovers(root) == []


def test_no_kit_at_root_says_so(tmp_path, capsys):
    assert main(["--root", "/nonexistent"]) == 1
    out = capsys.readouterr().out
    assert out.strip() == (
        "no kit at /nonexistent (no exercise_code/ folder): run this in your kit's folder or pass --root"
    )
    report = submit(tmp_path)
    assert report.exit_code == 1 and str(report).startswith(f"no kit at {tmp_path.resolve()} ")


def test_a_notebook_finds_the_kit_above_it(tmp_path):
    root = _kit(tmp_path / "kit")
    assert find_kit(root / "notebooks") == find_kit(root) == root.resolve()
    assert find_kit(root / "models") is None


# --- 3. models -----------------------------------------------------------------------------------------


@register
class SubmitTestTiny(nn.Module):
    """A registered model for the in-process checks below (BatchNorm: buffers count too)."""

    def __init__(self, n: int = 3, stuffing: int = 0, view: int = 0) -> None:
        super().__init__()
        self.spec_kwargs = {"n": n, "stuffing": stuffing, "view": view}
        self.fc = nn.Linear(n, 2)
        self.norm = nn.BatchNorm1d(2)
        if stuffing:
            self.register_buffer("junk", torch.zeros(stuffing))
        if view:
            self.register_buffer("wide", torch.zeros(1).expand(view))


def _model_files(root: Path, *, state: object, spec: object = None, name: str = "m") -> None:
    (root / "models").mkdir(parents=True, exist_ok=True)
    torch.save(state, root / "models" / f"{name}.pt")
    spec = spec if spec is not None else {"name": "SubmitTestTiny", "kwargs": {"n": 3}}
    (root / "models" / f"{name}.json").write_text(spec if isinstance(spec, str) else json.dumps(spec))


def test_check_model_counts_parameters_and_buffers(tmp_path):
    _model_files(tmp_path, state=SubmitTestTiny().state_dict())
    check = check_model(tmp_path, "m")
    assert (
        check.problem == "" and check.values == 8 + 4 + 4 + 1
    )  # fc; norm weight, bias; running stats; count


@pytest.mark.parametrize(
    ("state", "spec", "match"),
    [
        (
            SubmitTestTiny(),
            None,
            r"does not load with torch.load\(weights_only=True\): save model.state_dict\(\)",
        ),
        ([torch.zeros(2)], None, "must hold a state_dict"),
        (SubmitTestTiny().state_dict(), "{not json", "cannot be read as JSON"),
        (SubmitTestTiny().state_dict(), "[1, 2]", "must hold a JSON object"),
    ],
    ids=["pickled-module", "not-a-state-dict", "bad-json", "json-not-an-object"],
)
def test_check_model_names_the_problem(tmp_path, state, spec, match):
    _model_files(tmp_path, state=state, spec=spec)
    problem = check_model(tmp_path, "m").problem
    assert re.search(match, problem), problem


@pytest.mark.parametrize(
    ("kwargs", "values"),
    [({"stuffing": 2_000_000}, 2_000_017), ({"view": 3_000_000}, 3_000_017)],
    ids=["buffer-stuffed", "broadcast-view"],
)
def test_models_over_the_config_limit_are_refused(tmp_path, kwargs, values):
    model = SubmitTestTiny(**kwargs)
    _model_files(tmp_path, state=model.state_dict(), name="autoencoder")
    check = check_model(tmp_path, "autoencoder")  # the config's own autoencoder limit: 2,000,000 values
    assert check.values == values
    assert check.problem == (
        f"models/autoencoder.pt has {values:,} values in its state_dict (parameters and buffers); "
        f"the limit is {CONFIG.autoencoder_limits.max_parameters:,}"
    )


def test_check_model_enforces_the_file_size_limit(tmp_path):
    _model_files(tmp_path, state=SubmitTestTiny().state_dict())
    problem = check_model(tmp_path, "m", ModelLimits(max_file_mb=1e-6)).problem
    assert problem.startswith("models/m.pt is 0.0 MiB; the limit is 1e-06 MiB")


def test_rebuild_runs_the_kits_own_build_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the child half runs in the kit folder
    _model_files(tmp_path, state=SubmitTestTiny().state_dict())
    assert probe.rebuild("m") == ""
    _model_files(
        tmp_path, state=SubmitTestTiny().state_dict(), spec={"name": "SubmitTestTiny", "kwargs": {"n": 4}}
    )
    assert probe.rebuild("m").startswith(
        "models/m.pt does not fit the model that models/m.json describes (load_state_dict(strict=True)): "
        "RuntimeError: Error(s) in loading state_dict for SubmitTestTiny"
    )
    _model_files(tmp_path, state=SubmitTestTiny().state_dict(), spec={"name": "NoSuchModel", "kwargs": {}})
    assert probe.rebuild("m").startswith(
        "models/m.json does not rebuild with exercise_code.models.build_model: "
    )


def test_a_model_that_does_not_rebuild_blocks_the_zip(tmp_path, monkeypatch):
    _fake_probe(monkeypatch, rebuilt={"classifier": "models/classifier.pt does not fit ..."})
    root = _kit(tmp_path / "kit")
    report = submit(root)
    assert not report.ok and "classifier: PROBLEM models/classifier.pt does not fit ..." in str(report)
    assert _leftovers(root) == []


# --- 4. notebooks --------------------------------------------------------------------------------------

RELEASED_CODE_ANSWER = '# YOUR CODE HERE\nraise NotImplementedError("replace this line by your solution")'
"""What `autograder release` (nbgrader) leaves in an autograded answer cell (see the end-to-end test)."""


def test_unrun_and_unanswered_notebook_cells_are_warned(tmp_path):
    nb = tmp_path / "notebooks" / "01_x.ipynb"
    nb.parent.mkdir()
    error = {"output_type": "error", "ename": "NameError", "evalue": "x", "traceback": []}
    code_answer = _code(RELEASED_CODE_ANSWER, count=None)
    code_answer["metadata"] = {"nbgrader": {"grade_id": "choose_upsampler", "solution": True}}
    nb.write_text(
        _notebook(
            _code("import torch", 1),
            _code("y = x + 1", 2, (error,)),
            _code("plot()", None),
            _code("   \n", None),  # an empty cell needs no run
            code_answer,
            _markdown("YOUR ANSWER HERE", "q_checkerboard"),
        )
    )
    check = check_notebook(tmp_path, "notebooks/01_x.ipynb")
    assert check.line() == "notebooks/01_x.ipynb: 2/4 code cells run, 2 answers to write"
    assert check.warnings() == [
        'notebooks/01_x.ipynb: 2 of 4 code cells were never run (cell 3 ("plot()"), cell 5 '
        "(choose_upsampler)): run them and save the notebook",
        "notebooks/01_x.ipynb: 2 answer cells not filled in: cell 5 (choose_upsampler), "
        "cell 6 (q_checkerboard)",
        'notebooks/01_x.ipynb: 1 cells ended in an error when last run: cell 2 ("y = x + 1") NameError',
    ]
    nb.write_text(_notebook(_code("a = 1", None), _code("b = 2", None)))
    assert (
        check_notebook(tmp_path, "notebooks/01_x.ipynb")
        .warnings()[0]
        .startswith("notebooks/01_x.ipynb was never run (no code cell has an execution count)")
    )
    nb.write_text("{not json")
    assert "is not a notebook Jupyter can open" in check_notebook(tmp_path, "notebooks/01_x.ipynb").problem


def test_notebook_warnings_do_not_block_but_a_broken_notebook_does(tmp_path, monkeypatch):
    _fake_probe(monkeypatch)
    root = _kit(tmp_path / "kit")
    (root / "notebooks" / "02_patch_segmentation.ipynb").write_text(_notebook(_code("x = 1", None)))
    report = submit(root)
    assert report.ok and any("02_patch_segmentation.ipynb was never run" in w for w in report.warnings)
    (root / "notebooks" / "02_patch_segmentation.ipynb").write_text("")
    report = submit(root)
    assert not report.ok and "02_patch_segmentation.ipynb: PROBLEM is not a notebook" in str(report)


# --- 1 and 5. public checks and the zip ---------------------------------------------------------------


def test_success_writes_the_zip_and_says_what_it_holds(tmp_path, monkeypatch):
    _fake_probe(monkeypatch)
    root = _kit(tmp_path / "kit")
    report = submit(root, "out/submission.zip")
    assert report.ok and report.exit_code == 0 and report.out == root.resolve() / "out" / "submission.zip"
    names = set(zipfile.ZipFile(report.out).namelist())
    assert names == set(report.files)
    assert {"exercise_code/__init__.py", "exercise_code/models/__init__.py"} <= names
    assert {f"notebooks/{s}.ipynb" for s in NOTEBOOKS} <= names
    assert {f"models/{n}.{ext}" for n in CONFIG.model_names for ext in ("pt", "json")} <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    text = str(report)
    for expected in (
        "1/5 public checks\n  layers: 1/1 checks passed",
        "2/5 required files: all 11 there",
        "segmentation: 8 values (parameters and buffers), 0.00 MiB (limits 5,000,000 values, 20 MiB)",
        f"wrote {report.out}: {len(names)} files (exercise_code/ 4, notebooks/ 4, models/ 6)",
        "models: segmentation 8 values 0.00 MiB; autoencoder 8 values",
    ):
        assert expected in text
    assert _leftovers(report.out.parent) == ["submission.zip"]


def test_failing_checks_warn_but_write_unless_strict(tmp_path, monkeypatch):
    _fake_probe(monkeypatch, ok=False)
    root = _kit(tmp_path / "kit")
    strict = submit(root, strict=True)
    assert not strict.ok and "PROBLEM some public checks do not pass, and --strict refuses" in str(strict)
    assert _leftovers(root) == []
    report = submit(root)
    assert report.ok and "[FAIL ] a check" in str(report)
    assert "WARNING: some public checks do not pass; the zip is written anyway" in str(report)


def test_a_failure_while_writing_leaves_no_partial_zip(tmp_path, monkeypatch):
    _fake_probe(monkeypatch)
    root = _kit(tmp_path / "kit")
    assert submit(root).ok  # an earlier, complete zip
    earlier = (root / "submission.zip").read_bytes()
    calls = []

    def write(self, filename, arcname=None, *args, **kwargs):
        calls.append(arcname)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return original(self, filename, arcname, *args, **kwargs)

    original = zipfile.ZipFile.write
    monkeypatch.setattr(zipfile.ZipFile, "write", write)
    report = submit(root)
    assert not report.ok and f"PROBLEM could not write {root.resolve() / 'submission.zip'}" in str(report)
    assert "is from an earlier run and does not hold your latest work" in str(report)
    assert _leftovers(root) == ["submission.zip"] and (root / "submission.zip").read_bytes() == earlier


# --- the child Python that runs the student's code ----------------------------------------------------


def test_the_kits_own_code_runs_in_a_fresh_python(tmp_path):
    root = _kit(tmp_path / "kit")
    (root / "models" / "classifier.json").write_text('{"name": "Tiny", "kwargs": {"n": 4}}')
    answer = probe.run_probe(root, ["segmentation", "classifier"])
    assert answer.problem == "" and answer.package == str((root / "exercise_code").resolve())
    assert answer.checks_ok is True and answer.check_lines == [
        "layers: 1/1 checks passed"
    ]  # this kit's checks
    assert answer.rebuilt["segmentation"] == ""
    assert answer.rebuilt["classifier"].startswith("models/classifier.pt does not fit the model that")
    (root / "exercise_code" / "__init__.py").write_text("import os\nos._exit(3)\n")
    crashed = probe.run_probe(root, [])
    assert crashed.problem.startswith("running your code in a fresh Python stopped (exit code 3)")


def test_autograder_submit_runs_the_same_helper(tmp_path):
    root = _kit(tmp_path / "kit")
    command = [sys.executable, "-m", "autograder", "submit", "--root", str(root), "--out", "s.zip"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1/5 public checks\n  layers: 1/1 checks passed" in done.stdout  # the kit's checks, not ours
    assert f"wrote {tmp_path.resolve() / 's.zip'}: 14 files" in done.stdout


# --- end to end: the released kit, installed in a fresh venv, hands in a zip the grader accepts -----------


def _venv_with_the_release(tmp_path: Path, release_dir: Path) -> Path:
    """A fresh venv (no download): this venv's packages through a .pth file, the release installed -e."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "borrowed_packages.pth").write_text(sysconfig.get_path("purelib") + "\n")
    install = [python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
    done = subprocess.run([*install, "-e", str(release_dir)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return python


@pytest.mark.slow
def test_released_kit_hands_in_with_its_own_helper(tmp_path):
    release_dir = tmp_path / "release"
    released = release(source=REPO, out=release_dir)  # the leak check passed with the helper inside
    assert (release_dir / "exercise_code" / "submit" / "__main__.py").is_file()
    assert "python -m exercise_code.submit" in (release_dir / "README.md").read_text()
    python = _venv_with_the_release(tmp_path, release_dir)
    where = subprocess.run(
        [python, "-c", "import exercise_code; print(exercise_code.__file__); import autograder"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert where.stdout.startswith(str(release_dir / "exercise_code"))
    assert "No module named 'autograder'" in where.stderr  # the helper cannot lean on the grader

    def helper(*args: str) -> subprocess.CompletedProcess[str]:
        command = [python, "-m", "exercise_code.submit", *args]
        return subprocess.run(command, cwd=release_dir, capture_output=True, text=True, timeout=600)

    untouched = helper()
    assert untouched.returncode == 1, untouched.stdout + untouched.stderr
    for name, saved in SAVED_BY.items():
        assert (
            f"  - models/{name}.pt and models/{name}.json are missing: run the cell under '{saved.section}' "
            f"in notebooks/{saved.notebook}.ipynb"
        ) in untouched.stdout
    assert "[TODO ] nearest_unpool2d: not implemented yet" in untouched.stdout
    assert (
        "answer cells not filled in: cell 23 (choose_upsampler)" in untouched.stdout
    )  # nbgrader's own cells
    assert "NOT WRITTEN: 3 problem(s)" in untouched.stdout and _leftovers(release_dir) == []

    for rel in released.regions:  # the reference solutions, and briefly trained models
        shutil.copyfile(REPO / rel, release_dir / rel)
    (release_dir / "models").mkdir()
    for file in reference_models(source=REPO, budget=TINY_BUDGET).iterdir():
        if file.suffix in (".pt", ".json") and file.stem in CONFIG.model_names:
            shutil.copyfile(file, release_dir / "models" / file.name)
    done = helper("--out", str(tmp_path / "submission.zip"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        re.search(r"layers: (\d+)/\1 checks passed", done.stdout)
        and f"wrote {tmp_path / 'submission.zip'}" in done.stdout
    )

    suites = tmp_path / "suites"
    suites.mkdir()
    for name in (*SUITE_SUPPORT, "test_layers.py", "test_conv_matrix.py"):
        shutil.copyfile(HIDDEN_DIR / name, suites / name)
    result = grade_submission(tmp_path / "submission.zip", out=tmp_path / "grading", suites=suites, seed=0)
    assert result.status == "graded" and result.message == "", result.message
    assert result.tests and all(t.status == "passed" for t in result.tests), [
        (t.name, t.status, t.message) for t in result.tests if t.status != "passed"
    ]
    assert result.score == pytest.approx(result.max_score) and result.max_score >= 30  # full marks
