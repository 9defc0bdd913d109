"""Students are told the forbidden shortcuts before grading: the released docstrings and notebook text list
exactly what `autograder/hidden/forbidden.toml` lists, and the public checks and `submit` flag a forbidden
call (function, call, file and line) with the grader's own scan."""

from __future__ import annotations

import ast
import importlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from grading_helpers import RUN_KITS

import exercise_code.submit.build as submit_build
from autograder.errors import MarkerError, ReleaseError
from autograder.grading.forbidden import load_forbidden
from autograder.release import release
from autograder.release.notebooks.build import read_source, source_notebooks
from autograder.verify.corpus import CorpusEntry, apply_entry
from exercise_code.checks import GROUP_MODULES, CheckReport, Status, run_checks
from exercise_code.submit import ModelCheck, submit
from exercise_code.submit.__main__ import main as submit_main
from exercise_code.submit.probe import ProbeAnswer

REPO = Path(__file__).resolve().parent.parent
RULES = load_forbidden(REPO / "autograder" / "hidden" / "forbidden.toml")
TOLD = {key: names for key, names in RULES.items() if names}
"""The exercises whose rule forbids something: each must be told."""
CHECK = "no forbidden shortcuts"
NEAREST = "exercise_code.layers.nearest_unpool2d"
INTERPOLATE = CorpusEntry(
    name="nearest_by_interpolate",
    target="exercise_code.layers.unpooling.nearest_unpool2d",
    catch=("test_layers.py::test_nearest_unpool2d",),
    source="""
def nearest_unpool2d(x, scale):
    import torch.nn.functional as F

    check_4d(x)
    sh, sw = positive_pair(scale, "scale")
    return F.interpolate(x, scale_factor=(sh, sw), mode="nearest")
""",
)
"""Correct output, every public value check passes, and the grader marks it `forbidden`."""


def shown(name: str) -> str:
    """How the kit is expected to write a forbidden callable for students (F.x, nn.X, torch.x)."""
    return re.sub(r"^torch\.nn\.functional\.", "F.", re.sub(r"^torch\.nn\.(?!functional\.)", "nn.", name))


def expected_told() -> dict[str, tuple[str, ...]]:
    """Exercise name -> what a student must be told, in forbidden.toml's order."""
    return {key.rsplit(".", 1)[-1]: tuple(shown(n) for n in names) for key, names in TOLD.items()}


def mismatches(told: dict[str, tuple[str, ...]]) -> list[str]:
    """Where `told` (exercise name -> the listed callables) differs from forbidden.toml."""
    expected = expected_told()
    wrong = [
        f"{name}: told {told.get(name)}, forbidden.toml lists {names}"
        for name, names in expected.items()
        if told.get(name) != names
    ]
    return wrong + [
        f"{name}: told {told[name]}, forbidden.toml lists nothing" for name in told.keys() - expected
    ]


# --- docstrings of the release ------------------------------------------------------------------------


def _definitions(root: Path, key: str) -> list[ast.FunctionDef | ast.ClassDef]:
    """The top-level defs named like `key`'s last part in the files under `key`'s module path."""
    *module, name = key.split(".")
    base = root.joinpath(*module)
    files = [base.with_suffix(".py")] if base.with_suffix(".py").is_file() else sorted(base.rglob("*.py"))
    return [
        node
        for path in files
        for node in ast.parse(path.read_text(encoding="utf-8")).body
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name
    ]


def told_in_docstrings(root: Path) -> dict[str, tuple[str, ...]]:
    """Exercise name -> the callables its docstring's `Not allowed here:` paragraph lists."""
    told = {}
    for key in RULES:
        for node in _definitions(root, key):
            found = re.search(r"Not allowed here: (.*?)\.?(?:\n\n|$)", ast.get_docstring(node) or "", re.S)
            if found:
                told[node.name] = tuple(" ".join(found[1].split()).split(", "))
    return told


@pytest.fixture(scope="module")
def skeleton(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shortcuts") / "skeleton"
    release(source=REPO, out=out, notebooks=False)
    return out


def test_released_docstrings_list_exactly_the_rules(skeleton):
    assert len(TOLD) >= 10
    assert mismatches(told_in_docstrings(skeleton)) == []
    text = (skeleton / "exercise_code" / "layers" / "unpooling.py").read_text()
    line = (
        "Not allowed here: F.interpolate, F.upsample, F.upsample_nearest, nn.Upsample, nn.UpsamplingNearest2d"
    )
    assert f'    {line}.\n    """' in text


def test_a_docstring_missing_one_entry_is_caught(skeleton, tmp_path):
    kit = shutil.copytree(skeleton, tmp_path / "kit")
    path = kit / "exercise_code" / "layers" / "unpooling.py"
    path.write_text(path.read_text().replace(", nn.Upsample,", ",", 1))
    assert mismatches(told_in_docstrings(kit)) == [
        "nearest_unpool2d: told ('F.interpolate', 'F.upsample', 'F.upsample_nearest', "
        "'nn.UpsamplingNearest2d'), forbidden.toml lists ('F.interpolate', 'F.upsample', "
        "'F.upsample_nearest', 'nn.Upsample', 'nn.UpsamplingNearest2d')"
    ]


def test_the_kit_ships_the_rules_the_grader_reads(skeleton):
    shipped = skeleton / "exercise_code" / "forbidden" / "rules.toml"
    assert load_forbidden(shipped) == RULES
    assert "# The forbidden shortcuts of the exercises, copied by `autograder release`" in shipped.read_text()
    assert "exercise_code/forbidden/rules.toml" in (skeleton / "README.md").read_text()


def test_release_refuses_rules_it_cannot_tell(tmp_path):
    from autograder.release.shortcuts import tell_forbidden, with_paragraph

    node = ast.parse("def f(x):\n    return x\n").body[0]
    with pytest.raises(ReleaseError, match="f has no docstring to list its forbidden shortcuts in"):
        with_paragraph("def f(x):\n    return x\n", node, ("torch.x",))
    rules = tmp_path / "src" / "autograder" / "hidden" / "forbidden.toml"
    rules.parent.mkdir(parents=True)
    rules.write_text('"exercise_code.layers.gone" = ["torch.nn.functional.interpolate"]\n')
    (tmp_path / "out" / "exercise_code").mkdir(parents=True)
    with pytest.raises(ReleaseError, match="rules for exercise_code.layers.gone, which the release does not"):
        tell_forbidden(tmp_path / "src", tmp_path / "out")
    rules.write_text('"exercise_code.layers.f" = "torch.x"\n')
    with pytest.raises(ReleaseError, match="must be a list of dotted names"):
        tell_forbidden(tmp_path / "src", tmp_path / "out")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            'def f():\n    """One line."""\n',
            'def f():\n    """One line.\n\n    Not allowed here: F.pad.\n    """\n',
        ),
        (
            'class C:\n    """Summary.\n\n    Text."""\n',
            'class C:\n    """Summary.\n\n    Text.\n\n    Not allowed here: F.pad.\n    """\n',
        ),
        (
            'def f():\n    """Summary.\n\n    Text.\n    """\n    return 1\n',
            'def f():\n    """Summary.\n\n    Text.\n\n    Not allowed here: F.pad.\n    """\n    return 1\n',
        ),
    ],
)
def test_the_paragraph_fits_every_docstring_form(source, expected):
    from autograder.release.shortcuts import with_paragraph

    node = ast.parse(source).body[0]
    assert with_paragraph(source, node, ("torch.nn.functional.pad",)) == expected


# --- the notebook text ---------------------------------------------------------------------------------


def told_in_notebooks(texts: list[str]) -> dict[str, tuple[str, ...]]:
    """Exercise name -> the callables a `- in `name`, ...: `x`, `y`` item under `**Not allowed**` lists."""
    told: dict[str, tuple[str, ...]] = {}
    for text in texts:
        if "**Not allowed**" not in text:
            continue
        for item in re.findall(r"^- in (.+?): (`.+)$", text.split("**Not allowed**", 1)[1], re.M):
            for name in re.findall(r"`(\w+)`", item[0]):
                told[name] = tuple(re.findall(r"`([\w.]+)`", item[1]))
    return told


def _built_markdown() -> list[str]:
    """The markdown cells of the course notebooks as the release hands them to nbgrader."""
    cells = [c for p in source_notebooks(REPO / "notebooks") for c in read_source(p)[0].cells]
    return [c.source for c in cells if c.cell_type == "markdown"]


def test_built_notebooks_list_exactly_the_rules_where_the_exercise_is_introduced():
    texts = _built_markdown()
    assert mismatches(told_in_notebooks(texts)) == []
    intro = next(t for t in texts if "**Exercise 1.** Implement `nearest_unpool2d`" in t)
    assert intro.endswith(
        "- in `nearest_unpool2d`: `F.interpolate`, `F.upsample`, `F.upsample_nearest`, `nn.Upsample`, "
        "`nn.UpsamplingNearest2d`\n- in `bed_of_nails_unpool2d`, `max_unpool2d`, `MaxUnpool2d`: "
        "`F.max_unpool2d`, `nn.MaxUnpool2d`, `torch.max_unpool2d`"
    )
    uses = next(t for t in texts if "**your** `ConvTranspose2d` from notebook 1" in t)
    assert "**Not allowed**" not in uses  # it uses ConvTranspose2d; notebook 1 introduces its rules
    sources = "".join(p.read_text() for p in source_notebooks(REPO / "notebooks"))
    assert "Not allowed" not in sources  # rendered at build time, never copied by hand


def test_notebook_text_missing_one_entry_is_caught():
    texts = [
        t.replace(", `torch.pca_lowrank`", "").replace(": `torch.pca_lowrank`", ": ")
        for t in _built_markdown()
    ]
    assert [m.split(":")[0] for m in mismatches(told_in_notebooks(texts))] == ["pca"]


def test_broken_rules_stop_the_notebook_build(tmp_path):
    (tmp_path / "notebooks").mkdir()
    source = tmp_path / "notebooks" / "01_x.py"
    source.write_text("# %% [markdown]\n# **Exercise 1.** Implement `f` in `exercise_code/f.py`.\n")
    rules = tmp_path / "autograder" / "hidden" / "forbidden.toml"
    rules.parent.mkdir(parents=True)
    rules.write_text('"exercise_code.f.f" = ["torch.nn.functional.pad"]\n')
    assert read_source(source)[0].cells[0].source.endswith("- in `f`: `F.pad`")
    rules.write_text('"exercise_code.f.f" = 3\n')
    with pytest.raises(MarkerError, match="must be a list of dotted names"):
        read_source(source)


@pytest.mark.slow
def test_released_notebooks_list_exactly_the_rules(tmp_path):
    release(source=REPO, out=tmp_path / "release")
    texts = [
        cell.source
        for path in sorted((tmp_path / "release" / "notebooks").glob("*.ipynb"))
        for cell in nbformat.read(path, as_version=4).cells
        if cell.cell_type == "markdown"
    ]
    assert mismatches(told_in_notebooks(texts)) == []


# --- the public checks and submit flag a forbidden call --------------------------------------------------


def _with_reference(skeleton: Path, dest: Path) -> Path:
    """A copy of the released kit with the reference solutions filled in (as a student who finished)."""
    kit = shutil.copytree(skeleton, dest)
    for path in (skeleton / "exercise_code").rglob("*.py"):
        rel = path.relative_to(skeleton)
        if "NotImplementedError(" in path.read_text() and (REPO / rel).is_file():
            shutil.copyfile(REPO / rel, kit / rel)
    return kit


@pytest.fixture(scope="module")
def kits(skeleton, tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("kits")
    reference = _with_reference(skeleton, base / "reference")
    interpolate = shutil.copytree(reference, base / "interpolate")
    apply_entry(interpolate, INTERPOLATE)
    return {"skeleton": skeleton, "reference": reference, "interpolate": interpolate}


@pytest.fixture(scope="module")
def reports(kits) -> dict[str, CheckReport]:
    """`layers` and `autoencoders` on each kit, each imported fresh by one Python (torch imported once)."""
    jobs = [(name, str(root), ["layers", "autoencoders"]) for name, root in kits.items()]
    done = subprocess.run(
        [sys.executable, "-P", "-c", RUN_KITS, json.dumps(jobs)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {name: CheckReport.from_dict(data) for name, data in json.loads(done.stdout).items()}


def _interpolate_line(kit: Path) -> int:
    lines = (kit / "exercise_code" / "layers" / "unpooling.py").read_text().split("\n")
    return next(
        number for number, line in enumerate(lines, start=1) if "F.interpolate(x, scale_factor=" in line
    )


def _checks(report: CheckReport) -> dict[tuple[str, str], tuple[Status, str]]:
    return {(r.group, r.name): (r.status, r.message) for r in report.results}


def test_the_check_flags_interpolate_in_nearest_unpool2d(reports, kits):
    results = _checks(reports["interpolate"])
    assert ("layers", CHECK) in results, "no forbidden-shortcut check in the layers group"
    status, message = results["layers", CHECK]
    assert status is Status.FAILED
    where = f"exercise_code/layers/unpooling.py:{_interpolate_line(kits['interpolate'])}"
    assert message == (
        f"nearest_unpool2d calls F.interpolate at {where} (not allowed in nearest_unpool2d: F.interpolate, "
        "F.upsample, F.upsample_nearest, nn.Upsample, nn.UpsamplingNearest2d); the grader gives the tests of "
        "such a function 0 points (status `forbidden`)"
    )
    others = {key: value for key, value in results.items() if key != ("layers", CHECK)}
    assert all(status is Status.PASSED for status, _ in others.values())  # every value check passes


def test_the_check_passes_on_the_reference(reports):
    results = _checks(reports["reference"])
    assert results.get(("layers", CHECK), (None,))[0] is Status.PASSED
    assert results.get(("autoencoders", CHECK), (None,))[0] is Status.PASSED
    assert reports["reference"].ok, str(reports["reference"])
    here = {r.name: r.status for r in run_checks("layers").results}  # the course source: its own rules file
    assert here.get(CHECK) is Status.PASSED


def test_the_check_flags_nothing_in_the_skeleton(reports):
    results = _checks(reports["skeleton"])
    for group in ("layers", "autoencoders"):
        status, message = results.get((group, CHECK), (None, ""))
        assert status is Status.NOT_IMPLEMENTED, message  # no finding; a TODO like every skeleton check
        assert message.startswith("not implemented yet (still to write: ")


def test_every_rule_is_scanned_by_a_check_group():
    from exercise_code.checks.shortcuts import SCOPES
    from exercise_code.forbidden import in_modules

    for module in GROUP_MODULES.values():
        importlib.import_module(module)  # registers the group's checks
    for key in TOLD:
        assert any(in_modules(key, modules) for modules in SCOPES.values()), (
            f"{key} has rules but no public check scans it: add shortcut_check(...) to its group's module"
        )


def test_the_grader_runs_the_kits_scan():
    import autograder.grading.forbidden as grader
    import exercise_code.forbidden as kit

    assert grader.scan_function is kit.scan_function and grader.AMBIGUOUS == kit.AMBIGUOUS


def test_submit_prints_the_flag(kits):
    done = subprocess.run(
        [sys.executable, "-m", "exercise_code.submit", "--no-checks"],  # the kit's own helper
        cwd=kits["interpolate"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    where = f"exercise_code/layers/unpooling.py:{_interpolate_line(kits['interpolate'])}"
    assert f"  FORBIDDEN nearest_unpool2d calls F.interpolate at {where} (not allowed in" in done.stdout
    assert "  WARNING: the grader gives the tests of such a function 0 points" in done.stdout
    assert done.returncode == 1


def _complete(monkeypatch) -> None:
    """Pretend every required file is there and fine, so that only the forbidden call is left."""

    def probe(root: Path, models: list[str], **kwargs: object) -> ProbeAnswer:
        return ProbeAnswer(package=str((Path(root) / "exercise_code").resolve()))

    monkeypatch.setattr(submit_build, "run_probe", probe)
    monkeypatch.setattr(submit_build, "missing_parts", lambda *args, **kwargs: [])
    monkeypatch.setattr(submit_build, "check_model", lambda kit, name: ModelCheck(name))


def test_submit_writes_the_zip_but_exits_1_and_strict_refuses(kits, tmp_path, monkeypatch, capsys):
    _complete(monkeypatch)
    kit = shutil.copytree(kits["interpolate"], tmp_path / "kit")
    report = submit(kit, "out.zip", checks=False)
    assert report.ok and report.exit_code == 1, str(report)
    assert len(report.forbidden) == 1 and report.forbidden[0].startswith(
        "nearest_unpool2d calls F.interpolate"
    )
    assert "  WARNING: written, but it holds 1 forbidden call(s) (FORBIDDEN above): exit code 1" in str(
        report
    )
    strict = submit(kit, "strict.zip", strict=True, checks=False)
    assert not strict.ok and not (kit / "strict.zip").exists()
    assert "PROBLEM forbidden calls (FORBIDDEN in step 1), and --strict refuses to write the zip" in str(
        strict
    )
    assert submit_main(["--root", str(kit), "--no-checks", "--out", str(tmp_path / "cli.zip")]) == 1
    assert "FORBIDDEN nearest_unpool2d calls F.interpolate" in capsys.readouterr().out
    clean = submit(kits["reference"], tmp_path / "clean.zip", checks=False)
    assert clean.forbidden == [] and clean.exit_code == 0, str(clean)
