"""The hidden suites themselves, run in-process through the test double (`hidden_double.py`, fast):
the rubric and the suites agree, the reference earns every point, the released skeleton none, quality
points follow the config's scales, and the cases change with the grading seed.

`test_verify.py` runs the same suites through the real sandboxed grader and the corpus of wrong solutions.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch
from hidden_double import REPO, SUITES, run_double

from autograder.grading.rubric import load_rubric
from autograder.release import release

IMPLEMENTATION_FILES = sorted(p.name for p in SUITES.glob("test_*.py") if p.name != "test_quality.py")


def _test_functions() -> set[str]:
    names = set()
    for path in SUITES.glob("test_*.py"):
        tree = ast.parse(path.read_text())
        names |= {
            f"{path.name}::{n.name}"
            for n in tree.body
            if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
        }
    return names


def test_rubric_and_suites_name_the_same_tests():
    rubric = load_rubric(SUITES / "rubric.toml")
    assert set(rubric) == _test_functions()
    assert all(entry.points > 0 for entry in rubric.values())


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    return run_double(REPO, tmp_path_factory.mktemp("ref") / "out.json", seed=11, files=IMPLEMENTATION_FILES)


def test_reference_earns_every_point(reference):
    short = {k: v for k, v in reference.items() if v["status"] != "passed" or v["points"] < v["max_points"]}
    assert not short, json.dumps(short, indent=1)[:3000]
    files = {name.split("::")[0] for name in reference}
    assert files == set(IMPLEMENTATION_FILES)


def test_released_skeleton_earns_nothing(tmp_path):
    release(source=REPO, out=tmp_path / "release", notebooks=False)
    result = run_double(tmp_path / "release", tmp_path / "out.json", seed=11, files=IMPLEMENTATION_FILES)
    scored = {k: v for k, v in result.items() if v["points"] > 0}
    assert not scored, json.dumps(scored, indent=1)[:3000]
    assert len(result) > 50
    assert sum(v["status"] == "not_implemented" for v in result.values()) > len(result) // 2


def test_cases_change_with_the_grading_seed(tmp_path, reference):
    """Same tests, other inputs: what the suite sends to the student's code (shapes, arguments, values)
    differs between grading seeds for (nearly) every randomised case, and is the same for the same seed."""
    other = run_double(REPO, tmp_path / "out.json", seed=12, files=["test_layers.py"])
    again = run_double(REPO, tmp_path / "again.json", seed=11, files=["test_layers.py"])
    assert all(v["status"] == "passed" for v in other.values())
    mine = {k: v for k, v in reference.items() if k.startswith("test_layers.py")}
    assert mine.keys() == other.keys() == again.keys()
    assert all(mine[k].get("calls") == again[k].get("calls") for k in mine)  # the seed fixes the cases
    called = [k for k in mine if mine[k].get("calls")]
    changed = [k for k in called if mine[k]["calls"] != other[k]["calls"]]
    assert len(called) > 20 and len(changed) >= 0.9 * len(called), (len(changed), len(called))


def _oracle_submission(root: Path, key: int, autoencoder: str) -> Path:
    models = root / "models"
    models.mkdir(parents=True)
    kinds = [("segmentation", "segmentation"), ("autoencoder", autoencoder), ("classifier", "lookup")]
    for name, kind in kinds:
        (models / f"{name}.json").write_text(json.dumps({"name": f"Oracle:{kind}", "kwargs": {"key": key}}))
        torch.save({}, models / f"{name}.pt")
    (root / "exercise_code").symlink_to(REPO / "exercise_code")
    return root


@pytest.mark.parametrize("autoencoder, full", [("lookup", True), ("constant", False)])
def test_quality_points_follow_the_scales(tmp_path, autoencoder, full):
    """Models told the hidden key get full points; a constant 'reconstruction' gets none."""
    root = _oracle_submission(tmp_path / "sub", 77, autoencoder)
    result = run_double(root, tmp_path / "out.json", seed=5, files=["test_quality.py"], key=77)
    by_test = {k.split("::")[1].split("[")[0]: v for k, v in result.items()}
    assert (
        by_test["test_segmentation_quality"]["points"] == by_test["test_segmentation_quality"]["max_points"]
    )
    assert by_test["test_few_label_accuracy"]["points"] == by_test["test_few_label_accuracy"]["max_points"]
    recon = by_test["test_reconstruction_quality"]
    assert recon["status"] == "passed"
    assert (recon["points"] == recon["max_points"]) if full else recon["points"] == 0
