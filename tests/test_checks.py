"""Public checks: pass on the reference, fail informatively on wrong code, never crash the runner."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from grading_helpers import RUN_KITS

from exercise_code import layers
from exercise_code.checks import (
    POINTS,
    CheckFailed,
    CheckReport,
    CheckResult,
    Status,
    check,
    compare,
    run_checks,
)
from exercise_code.checks import runner as runner_module
from exercise_code.checks.__main__ import main
from exercise_code.checks.settings import GROUP_MODULES
from exercise_code.config import CONFIG
from exercise_code.data.scenes import NUM_SCENE_CLASSES
from exercise_code.models import build_model


def _result(name: str):
    return next(r for r in run_checks("layers").results if r.name == name)


def test_reference_passes_everything(capsys):
    report = run_checks("layers")
    assert report.ok and report.total >= 10, str(report)
    assert main(["layers"]) == 0
    out = capsys.readouterr().out
    assert f"layers: {report.total}/{report.total} checks passed" in out
    assert out.count("[PASS ]") == report.total


def test_wrong_corner_fails_only_its_check(monkeypatch):
    def bottom_right(x, scale):
        sh, sw = scale
        N, C, H, W = x.shape
        out = x.new_zeros(N, C, H * sh, W * sw)
        out[:, :, sh - 1 :: sh, sw - 1 :: sw] = x  # bug: bottom-right corner instead of top-left
        return out

    monkeypatch.setattr(layers, "bed_of_nails_unpool2d", bottom_right)
    report = run_checks("layers")
    failed = [r for r in report.results if r.status is not Status.PASSED]
    assert [r.name for r in failed] == ["bed_of_nails_unpool2d"]
    assert failed[0].status is Status.FAILED
    message = failed[0].message
    assert message.startswith(
        "bed_of_nails_unpool2d (values at the top-left corners) (scale=(2, 2)): 24 of 48"
    )
    assert "max abs error 1.52 at index (0, 1, 0, 0): expected -1.523, got 0" in message
    assert f"layers: {report.total - 1}/{report.total} checks passed" in str(report)


def test_shape_mismatch_is_reported(monkeypatch):
    monkeypatch.setattr(layers, "nearest_unpool2d", lambda x, scale: x)
    result = _result("nearest_unpool2d")
    assert result.status is Status.FAILED
    assert (
        result.message
        == "nearest_unpool2d vs F.interpolate (scale=2): expected shape (2, 3, 6, 10), got (2, 3, 3, 5)"
    )


def test_crashes_are_reported_with_type_message_and_place(monkeypatch, capsys):
    def crash(*args, **kwargs):
        raise IndexError("index 7 is out of bounds")

    monkeypatch.setattr(layers, "conv_transpose2d", crash)
    monkeypatch.setattr(layers, "max_unpool2d", lambda *a, **k: None)
    by_name = {r.name: r for r in run_checks("layers").results}
    assert by_name["conv_transpose2d"].status is Status.ERROR
    assert by_name["conv_transpose2d"].message.startswith(
        "IndexError: index 7 is out of bounds (at test_checks.py:"
    )
    assert by_name["max_unpool2d"].status is Status.FAILED
    assert "expected a torch.Tensor, got NoneType" in by_name["max_unpool2d"].message
    assert main(["layers"]) == 1
    assert "Traceback" not in capsys.readouterr().out


def test_exit_and_torch_not_implemented_are_errors_not_todos(monkeypatch):
    monkeypatch.setattr(layers, "bilinear_kernel", lambda *a: sys.exit(3))
    assert _result("bilinear_kernel vs F.interpolate").message.startswith("SystemExit: 3")

    def torch_lacks(*args):
        raise NotImplementedError("aten::foo is not implemented for 'Half'")

    monkeypatch.setattr(layers, "conv_transpose2d_loops", torch_lacks)
    result = _result("conv_transpose2d_loops")
    assert result.status is Status.ERROR and "NotImplementedError: aten::foo" in result.message


def test_stub_of_another_function_is_named(monkeypatch):
    def stub(*args, **kwargs):
        raise NotImplementedError("conv_transpose2d: not implemented yet")

    monkeypatch.setattr(layers, "conv_transpose2d_loops", stub)
    result = _result("conv_transpose2d_loops")
    assert result.status is Status.NOT_IMPLEMENTED
    assert result.line() == "[TODO ] conv_transpose2d_loops: not implemented yet (needs conv_transpose2d)"


def test_detached_output_fails_gradient_check(monkeypatch):
    real = layers.conv_transpose2d
    monkeypatch.setattr(layers, "conv_transpose2d", lambda *a, **k: real(*a, **k).detach())
    result = _result("conv_transpose2d gradients")
    assert result.status is Status.FAILED and "autograd" in result.message


def test_nan_output_fails(monkeypatch):
    monkeypatch.setattr(layers, "bilinear_kernel", lambda i, o, k: torch.full((i, o, k, k), float("nan")))
    assert _result("bilinear_kernel vs F.interpolate").status is Status.FAILED


def test_compare_messages():
    expected = torch.zeros(2, 3)
    compare(expected + 1e-7, expected, "x")  # within tolerance
    got = expected.clone()
    got[1, 2] = 0.5
    with pytest.raises(
        CheckFailed,
        match=r"^f \(stride=2\): 1 of 6 values wrong, max abs error 0.5 at index \(1, 2\): "
        r"expected 0, got 0.5",
    ):
        compare(got, expected, "f", "stride=2")
    with pytest.raises(CheckFailed, match=r"^f: expected shape \(2, 3\), got \(3, 2\)$"):
        compare(got.T, expected, "f")
    with pytest.raises(CheckFailed, match=r"^f: expected a torch.Tensor, got list$"):
        compare([0.0], expected, "f")


def test_unknown_group_and_empty_run():
    report = run_checks("nope")
    assert not report.ok and "unknown check group; known: layers" in report.results[0].message
    assert not CheckReport().ok and str(CheckReport()) == "no checks were run"


def test_a_new_group_is_one_registration(monkeypatch):
    monkeypatch.setitem(GROUP_MODULES, "toy", __name__)
    monkeypatch.setattr(runner_module, "_REGISTRY", {})

    @check("toy", "always passes")
    def _ok() -> None:
        pass

    @check("toy", "always fails")
    def _bad() -> None:
        raise CheckFailed("wrong on purpose")

    report = run_checks("toy")
    assert [r.status for r in report.results] == [Status.PASSED, Status.FAILED]
    assert str(report).splitlines() == [
        "[PASS ] always passes",
        "[FAIL ] always fails: wrong on purpose",
        "toy: 1/2 checks passed",
    ]


def test_group_whose_module_does_not_import(monkeypatch):
    monkeypatch.setitem(GROUP_MODULES, "broken", "exercise_code.checks.no_such_module")
    result = run_checks("broken").results[0]
    assert result.status is Status.ERROR and result.name == "import exercise_code.checks.no_such_module"
    assert "ModuleNotFoundError" in result.message


def test_json_round_trip_and_notebook_display(capsys):
    assert main(["layers", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    report = CheckReport.from_dict(data)
    assert report.ok and data["passed"] == data["total"] == report.total
    html = report._repr_html_()
    assert "checks passed, 10/10 points (visible checks only; the grader runs more hidden tests)</b>" in html
    assert repr(report) == str(report) and data["points"] == {"layers": [10.0, 10.0]}
    report.show()
    assert capsys.readouterr().out == str(report) + "\n"


# --- every group: the reference passes, the skeleton says TODO, known bugs fail with what and where -----

REPO = Path(__file__).resolve().parent.parent
GROUPS = tuple(GROUP_MODULES)


def _save_tiny_models(root: Path) -> Path:
    """`root/models/<name>.pt` + `.json` for every `CONFIG.model_names` name: small untrained models of the
    kinds the notebooks train (the checks test the files, not their quality)."""
    from exercise_code import models
    from exercise_code.training import save_checkpoint

    torch.manual_seed(0)
    autoencoder = models.Autoencoder(CONFIG.latent_dim, [32])
    built = {
        "segmentation": models.FCN(NUM_SCENE_CLASSES, "8s", width=4, head_channels=16),
        "autoencoder": autoencoder,
        "classifier": models.Classifier(autoencoder.encoder, num_classes=10),
    }
    assert set(built) == set(CONFIG.model_names)
    for name, model in built.items():
        save_checkpoint(model, root / "models" / name)
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    return _save_tiny_models(tmp_path_factory.mktemp("trained"))


def test_every_group_by_default_and_the_reference_passes_them_all(trained, capsys):
    report = run_checks(root=trained)
    assert report.ok, str(report)
    assert list(dict.fromkeys(r.group for r in report.results)) == list(GROUPS)
    for group in GROUPS:
        mine = [r for r in report.results if r.group == group]
        assert len(mine) >= 3 and sum(r.seconds for r in mine) < 15, [(r.name, r.seconds) for r in mine]
    assert main(["--root", str(trained)]) == 0
    out = capsys.readouterr().out
    assert (
        "models: 3/3 checks passed, 10/10 points (visible checks only; the grader runs more hidden tests)"
        in out
    )
    assert f"total: {10 * len(GROUPS)}/{10 * len(GROUPS)} points (visible checks only;" in out


def test_points_are_split_over_a_groups_checks():
    results = [CheckResult("patches", f"c{i}", Status.PASSED if i < 4 else Status.FAILED) for i in range(6)]
    results.append(CheckResult("toy", "t", Status.PASSED))  # no points: the old score line
    report = CheckReport(results)
    assert report.points("patches") == pytest.approx((20 / 3, 10.0)) and report.points("toy") is None
    assert report.score_lines() == [
        "patches: 4/6 checks passed, 6.7/10 points (visible checks only; the grader runs more hidden tests)",
        "toy: 1/1 checks passed",
    ]
    assert report.to_dict()["points"] == {"patches": [pytest.approx(20 / 3), 10.0]}
    assert set(GROUPS) == {f.name for f in dataclasses.fields(POINTS)}  # every group has its points


def test_root_must_be_a_folder(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"root must be an existing folder \(the kit's root\), got '.*nope'"):
        run_checks("models", root=tmp_path / "nope")
    with pytest.raises(SystemExit) as stop:
        main(["models", "--root", str(tmp_path / "nope")])
    assert stop.value.code == 2 and "root must be an existing folder" in capsys.readouterr().err


def test_models_not_trained_yet_is_a_todo(tmp_path):
    report = run_checks("models", root=tmp_path)
    assert [r.status for r in report.results] == [Status.NOT_IMPLEMENTED] * len(CONFIG.model_names)
    first = report.results[0]
    assert first.line().startswith(
        f"[TODO ] models/segmentation: not trained yet: no models/ folder under {tmp_path}"
    )
    assert "notebook 03_fcn trains the model and saves models/segmentation.pt" in first.message
    (tmp_path / "models").mkdir()
    assert (
        "no segmentation.pt or segmentation.json in it"
        in run_checks("models", root=tmp_path).results[0].message
    )


def _model_results(root: Path) -> dict[str, CheckResult]:
    return {r.name.removeprefix("models/"): r for r in run_checks("models", root=root).results}


def test_broken_model_files_fail_with_what_to_do(trained, tmp_path):
    shutil.copytree(trained / "models", tmp_path / "models")
    models = tmp_path / "models"
    (models / "segmentation.json").unlink()
    spec = json.loads((models / "autoencoder.json").read_text())
    torch.save(build_model(spec), models / "autoencoder.pt")  # a pickled module, not a state_dict
    classifier = torch.load(models / "classifier.pt", weights_only=True)
    classifier.pop("head.3.bias")
    torch.save(classifier, models / "classifier.pt")
    results = _model_results(tmp_path)
    assert all(r.status is Status.FAILED for r in results.values()), results
    assert results["segmentation"].message.startswith(
        "models/segmentation.json is missing: save the JSON spec"
    )
    assert results["autoencoder"].message.startswith(
        "models/autoencoder.pt does not load with torch.load(weights_only=True); save model.state_dict()"
    )
    assert results["classifier"].message.startswith("models/classifier.pt does not fit the model")
    assert "head.3.bias" in results["classifier"].message


# Each wrong solution (tests/corpus) or cheat (tests/cheats): the checks of its group that must not pass,
# with a piece of each message (what was expected, what came back, for which arguments). Every other
# check of the group passes.
BUGS: dict[str, tuple[str, dict[str, str]]] = {
    "patches_column_major": (
        "patches",
        {
            "extract_patches order (row-major per image)": "extract_patches(images of shape (2, 3, 5, 6), "
            "patch_size=3): 56 of 60 patches are centred on the wrong pixel; patch 1 should be centred on "
            "pixel (0, 1) of image 0 (row-major: n * H * W + i * W + j), but its centre is pixel (1, 0) of "
            "image 0",
            "extract_patches values (reflect padding at the border)": "patches hold wrong values",
            "segment_by_patches vs the classifier patch by patch": "pixel labels are wrong",
        },
    ),
    "patches_zero_padding": (
        "patches",
        {
            "extract_patches values (reflect padding at the border)": "patch 0 (centred on pixel (0, 0) of "
            "image 0) differs from the reflect-padded window in 15 of 27 values (zeros where the image "
            "should be continued by reflection)",
            "segment_by_patches vs the classifier patch by patch": "batch_size=17): ",
        },
    ),
    "segment_labels_transposed": (
        "patches",
        {
            "segment_by_patches vs the classifier patch by patch": "images of shape (2, 3, 9, 7), "
            "batch_size=17): 93 of 126 pixel labels are wrong; at pixel"
        },
    ),
    "fully_conv_no_dilation": (
        "patches",
        {
            "fully_convolutional vs the classifier patch by patch": "fully_convolutional(PatchClassifier(3, "
            "4, patch_size=11, width=4, hidden=16))(images of shape (2, 3, 9, 7)) (versus the classifier's "
            "logits of each pixel's patch, Tensor[N, K, H, W]): 504 of 504 values wrong"
        },
    ),
    "fcn_no_crop": (
        "fcn",
        {
            "FCN output size (any input size)": "FCN(num_classes=5, variant='32s', width=4) on an input of "
            "shape (1, 3, 37, 53): expected logits of the input's size (1, K, H, W) = (1, 5, 37, 53), got "
            "(1, 5, 64, 64)"
        },
    ),
    "fcn_skips_not_zero": (
        "fcn",
        {
            "FCN skip score layers start at zero": "variant='16s', width=4): the 1 skip score layer(s) must "
            "start at zero (weight and bias), so that FCN-16s starts as FCN-32s; 0 of the 1x1 score layers"
        },
    ),
    "fcn_upsampling_not_bilinear": (
        "fcn",
        {
            "FCN upsampling starts as bilinear interpolation": "upsampling weight 'up2a.weight' of shape "
            "(5, 5, 4, 4) at initialisation (used as a transposed convolution with stride 2 and padding 1, "
            "versus F.interpolate(scale_factor=2, mode='bilinear') on each channel"
        },
    ),
    "linear_autoencoder_relu": (
        "autoencoders",
        {
            "LinearAutoencoder is affine (no non-linearity)": "LinearAutoencoder(latent_dim=3, "
            "in_features=12) must be affine (x_hat = W_d (W_e x + b_e) + b_d, no non-linearity) "
            "(f(0.5 x + 0.5 y) versus 0.5 f(x) + 0.5 f(y)): "
        },
    ),
    "classifier_shares_encoder": (
        "autoencoders",
        {"Classifier copies the pretrained encoder": "classifier.encoder is the pretrained encoder itself"},
    ),
    "classifier_fresh_encoder": (
        "autoencoders",
        {
            "Classifier copies the pretrained encoder": "classifier.encoder(x) versus the pretrained "
            "encoder(x) (the classifier must start from the pretrained weights): 60 of 60 values wrong"
        },
    ),
    "decoder_no_sigmoid": (
        "autoencoders",
        {
            "Encoder and Decoder shapes": "Decoder(20, hidden=[32], out_shape=[1, 28, 28]) on codes of "
            "shape (3, 20): values must lie in [0, 1] like the images (a sigmoid at the end), got [",
            "Autoencoder shapes": "reconstructions: values must lie in [0, 1]",
        },
    ),
    "encoder_flattens_batch": (  # a crash: an ERROR that names the place and the call
        "autoencoders",
        {
            name: "RuntimeError: mat1 and mat2 shapes cannot be multiplied (1x2352 and 784x32) "
            "(at exercise_code/models/autoencoders.py:"
            for name in (
                "Encoder and Decoder shapes",
                "Autoencoder shapes",
                "Classifier copies the pretrained encoder",
            )
        },
    ),
    "cheat:broadcast_buffer": (
        "models",
        {
            "models/segmentation": "models/segmentation.pt holds 7,400,000 values (parameters and buffers); "
            "the limit is 5,000,000"
        },
    ),
    "cheat:buffer_stuffing": (
        "models",
        {"models/autoencoder": "models/autoencoder.pt holds 2,"},
    ),
    "cheat:wide_latent": (
        "models",
        {
            "models/autoencoder": "the autoencoder's encode(x) (latent size 20 from CONFIG): expected shape "
            "(2, 20), got (2, 64)",
            "models/classifier": "the classifier's encoder must be the autoencoder's encoder, fine-tuned "
            "(same tensors): encoder.net.2.bias: (20,) vs (64,)",
        },
    ),
    "cheat:foreign_encoder": (
        "models",
        {"models/classifier": "encoder.extra: (3,) vs absent (classifier vs autoencoder)"},
    ),
}


@pytest.fixture(scope="module")
def kit_reports(tmp_path_factory, trained) -> dict[str, CheckReport]:
    """The reports of every group on the released skeleton and of each BUGS entry's group on a kit copy
    with that bug, each kit imported fresh (one Python process for all: torch is imported once)."""
    from autograder.release import release
    from autograder.verify.corpus import apply_cheat, apply_entry, copy_package, load_cheat, load_entry

    base = tmp_path_factory.mktemp("kits")
    release(source=REPO, out=base / "skeleton", notebooks=False)
    jobs = [("skeleton", str(base / "skeleton"), list(GROUPS))]
    for name, (group, _) in BUGS.items():
        kit = base / name.replace(":", "_")
        copy_package(REPO, kit)
        if name.startswith("cheat:"):
            apply_cheat(kit, load_cheat(REPO / "tests" / "cheats" / f"{name[6:]}.py"), trained / "models")
            for other in CONFIG.model_names:  # the cheat's model plus the honest others
                for suffix in (".pt", ".json"):
                    if not (kit / "models" / f"{other}{suffix}").exists():
                        shutil.copy(trained / "models" / f"{other}{suffix}", kit / "models")
        else:
            apply_entry(kit, load_entry(REPO / "tests" / "corpus" / f"{name}.py"))
        jobs.append((name, str(kit), [group]))
    done = subprocess.run(
        [sys.executable, "-P", "-c", RUN_KITS, json.dumps(jobs)],
        cwd=base,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {name: CheckReport.from_dict(data) for name, data in json.loads(done.stdout).items()}


def test_skeleton_says_todo_in_every_group(kit_reports):
    report = kit_reports["skeleton"]
    for group in GROUPS:
        mine = [r for r in report.results if r.group == group]
        assert mine and all(r.status is Status.NOT_IMPLEMENTED for r in mine), "\n".join(
            r.line() for r in mine
        )
        todo = "not trained yet: no models/ folder" if group == "models" else "not implemented yet"
        assert all(r.message.startswith(todo) for r in mine), "\n".join(r.line() for r in mine)
    assert "patches: 0/6 checks passed, 0/10 points" in str(report)


@pytest.mark.parametrize("bug", list(BUGS))
def test_known_bugs_fail_with_what_was_expected(kit_reports, bug):
    group, expected = BUGS[bug]
    report = kit_reports[bug]
    assert {r.group for r in report.results} == {group}
    wrong = {r.name: r for r in report.results if r.status is not Status.PASSED}
    assert set(wrong) == set(expected), str(report)
    for name, piece in expected.items():
        result = wrong[name]
        assert result.status is (Status.ERROR if bug == "encoder_flattens_batch" else Status.FAILED)
        assert piece in result.message, result.line()


def test_a_crash_names_the_call(kit_reports):
    by_name = {r.name: r for r in kit_reports["encoder_flattens_batch"].results}
    assert by_name["Encoder and Decoder shapes"].message.endswith(
        "; while calling Encoder(784, hidden=[32], latent_dim=20) on x of shape (3, 1, 28, 28)"
    )


def test_each_group_catches_two_known_bugs():
    caught: dict[str, int] = {}
    for group, _ in BUGS.values():
        caught[group] = caught.get(group, 0) + 1
    assert set(caught) == set(GROUPS) - {"layers"} and min(caught.values()) >= 2


def test_a_broken_classifier_is_reported_by_every_check_that_uses_it(monkeypatch):
    from exercise_code.models import PatchClassifier

    real = PatchClassifier.forward
    monkeypatch.setattr(PatchClassifier, "forward", lambda self, x: real(self, x)[:1])  # loses the batch
    by_name = {r.name: r for r in run_checks("patches").results}
    assert by_name["extract_patches shapes"].status is Status.PASSED
    assert by_name["PatchClassifier logits"].message.endswith("expected logits of shape (5, 4), got (1, 4)")
    segment = by_name["segment_by_patches vs the classifier patch by patch"]
    assert segment.status is Status.FAILED and segment.message.startswith(
        "PatchClassifier(3, 4, patch_size=11, width=4, hidden=16) on the 126 patches of images of shape "
        "(2, 3, 9, 7): expected logits of shape (126, K), got (1, 4)"
    )
