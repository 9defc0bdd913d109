"""`autograder verify` through the real sandboxed grader: the reference earns full marks, the released
skeleton nothing, every wrong solution in `tests/corpus/` loses points on the test named to catch it, and
the correct alternatives (loops, zero insertion, einsum, ...) keep full marks.

Reference models are trained for seconds (TINY_BUDGET), so the quality scales are widened for this run
only (the report says so); the quality tests' own mapping is checked in `test_hidden_suites.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.sandbox import IsolationKind, detect_isolation
from autograder.verify import ANY_QUALITY, TINY_BUDGET, load_corpus, reference_models, verify

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus"


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    return reference_models(source=REPO, budget=TINY_BUDGET, cache=tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def report(models, tmp_path_factory):
    out = tmp_path_factory.mktemp("verify")
    return verify(source=REPO, corpus=CORPUS, out=out, models=models, workers=2, seed=3, scales=ANY_QUALITY)


def test_corpus_is_big_and_varied():
    entries = load_corpus(CORPUS)
    bugs = [e for e in entries if e.kind == "bug"]
    correct = [e for e in entries if e.kind == "correct"]
    assert len(bugs) >= 20
    targets = {e.target.rsplit(".", 1)[-1] for e in bugs}
    assert {"conv_transpose2d", "conv_transpose2d_loops", "max_unpool2d", "bed_of_nails_unpool2d"} <= targets
    alternatives = [e for e in correct if e.target.endswith(".conv_transpose2d")]
    assert len(alternatives) >= 3  # loops, zero insertion, einsum: three ways to be right


def test_reference_full_skeleton_zero_every_bug_caught(report):
    assert report.ok, "\n".join(report.lines())
    kinds = {o.name: o.kind for o in report.outcomes}
    assert kinds["reference"] == "reference" and kinds["skeleton"] == "skeleton"
    reference = next(o for o in report.outcomes if o.name == "reference")
    assert reference.score == reference.max_score > 100
    skeleton = next(o for o in report.outcomes if o.name == "skeleton")
    assert skeleton.score == 0 and skeleton.max_score == reference.max_score
    assert sum(o.kind == "bug" for o in report.outcomes) >= 20
    assert any("scales overridden" in line for line in report.lines())


def test_a_bug_that_is_not_caught_is_reported(tmp_path, models):
    """A 'wrong' entry that is in fact correct must come out as BAD: verify can fail."""
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "not_really_a_bug.py").write_text(
        '"""The reference nearest-neighbour unpooling, filed as a bug."""\n'
        'TARGET = "exercise_code.layers.unpooling.nearest_unpool2d"\n'
        'CATCH = ("test_layers.py::test_nearest_unpool2d",)\n'
        "SOURCE = '''\ndef nearest_unpool2d(x, scale):\n"
        "    check_4d(x)\n    sh, sw = positive_pair(scale, 'scale')\n"
        "    return x.repeat_interleave(sh, dim=2).repeat_interleave(sw, dim=3)\n'''\n"
    )
    report = verify(
        source=REPO,
        corpus=tmp_path / "corpus",
        out=tmp_path / "out",
        models=models,
        workers=1,
        reference=False,
        skeleton=False,
    )
    (outcome,) = report.outcomes
    assert not report.ok and not outcome.ok
    assert "NOT caught" in outcome.detail, outcome.detail


CHEATS = REPO / "tests" / "cheats"


@pytest.fixture(scope="module")
def cheats(models, tmp_path_factory):
    """The cheating students, graded with the assignment's own score scales."""
    out = tmp_path_factory.mktemp("cheats")
    return verify(
        source=REPO,
        corpus=None,
        cheats=CHEATS,
        out=out,
        models=models,
        workers=2,
        seed=3,
        reference=False,
        skeleton=False,
    )


@pytest.mark.skipif(
    detect_isolation().kind is not IsolationKind.BUBBLEWRAP,
    reason="without bubblewrap the worker can read the labelled digits (reports say NOT SANDBOXED)",
)
def test_every_cheat_earns_nothing(cheats):
    assert cheats.ok, "\n".join(cheats.lines())
    names = {o.name for o in cheats.outcomes}
    assert names >= {
        "lookup_public_digits",
        "replay_hidden_scenes",
        "identity_autoencoder",
        "wide_latent",
        "cache_inputs",
        "buffer_stuffing",
        "broadcast_buffer",
        "foreign_encoder",
        "aten_conv_transpose",
        "shadow_package",
    }
    detail = {o.name: o.detail for o in cheats.outcomes}
    assert "mnist_5k.csv.gz" in detail["lookup_public_digits"]  # the digit files are empty in the sandbox
    assert "7,400,000 values" in detail["broadcast_buffer"]
    assert "got (500, 784)" in detail["identity_autoencoder"]
    assert "encoder.extra: (3,) here, absent in the autoencoder" in detail["foreign_encoder"]
    assert "forbidden" in detail["aten_conv_transpose"]
    assert "(as aten.convolution.default)" in detail["aten_conv_transpose"]
    assert "both transpose_conv.py and transpose_conv/__init__.py exist" in detail["shadow_package"]
    assert any("cheats earn nothing" in line for line in cheats.lines())


def test_a_cheat_that_earns_points_is_reported(tmp_path, models):
    """An honest model filed as a cheat must come out as BAD: the cheat verdict can fail."""
    (tmp_path / "cheats").mkdir()
    (tmp_path / "cheats" / "honest.py").write_text(
        '"""The reference autoencoder, filed as a cheat."""\n'
        'CATCH = ("test_quality.py::test_model_limits[autoencoder]",)\n'
        'MODELS = {"autoencoder": {"spec": {"name": "Autoencoder", "kwargs": "SAME"},\n'
        '                          "from": "autoencoder"}}\n'
    )
    report = verify(
        source=REPO,
        corpus=None,
        cheats=tmp_path / "cheats",
        out=tmp_path / "out",
        models=models,
        workers=1,
        reference=False,
        skeleton=False,
    )
    (outcome,) = report.outcomes
    assert not report.ok and outcome.kind == "cheat"
    assert outcome.detail.startswith("NOT caught"), outcome.detail
