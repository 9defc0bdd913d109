"""Hidden tests: the submitted models on hidden data, metric -> points on the config's linear scales.

Hidden scenes and digits are generated here, in the trusted process; only images enter the sandbox, the
labels never do. Size limits are checked on the rebuilt models and the submitted files.
"""

from __future__ import annotations

import pytest
import torch

from autograder.hidden.references import derived_seed, hidden_scene_seed, labels_from_output
from autograder.submit import MODEL_LIMITS
from exercise_code.config import CONFIG
from exercise_code.data import NUM_SCENE_CLASSES, Digits, DigitScenes
from exercise_code.metrics import mean_iou

DIGIT_CLASSES = 10
HIDDEN_DIGITS = 500
"""Test-pool digits drawn (by the grading seed) for the reconstruction and few-label tests."""
BATCH = 50


def _hidden_digits(grading_seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = Digits("test").tensors()
    gen = torch.Generator().manual_seed(derived_seed(grading_seed, "hidden digits"))
    pick = torch.randperm(len(images), generator=gen)[:HIDDEN_DIGITS]
    return images[pick], labels[pick]


def _scale_message(name: str, value: float, scale, fraction: float) -> str:
    return (
        f"{name} {value:.3f} -> {fraction:.0%} of the points (0 at {scale.floor:g}, full at {scale.target:g})"
    )


def test_segmentation_quality(submission, grading_seed, config, record_fraction, record_message):
    scenes = DigitScenes(
        "test", config.hidden_scenes, image_size=config.scene_size, seed=hidden_scene_seed(grading_seed)
    )
    images, masks = scenes.tensors()
    model = submission.load_model("segmentation")
    output = model(images, batch_size=BATCH // 3)
    labels = labels_from_output(output, tuple(masks.shape), NUM_SCENE_CLASSES, "the segmentation model")
    miou = mean_iou(labels, masks, NUM_SCENE_CLASSES)
    fraction = config.segmentation_miou.fraction(miou)
    record_fraction(fraction)
    record_message(
        _scale_message(f"mean IoU on {len(images)} hidden scenes", miou, config.segmentation_miou, fraction)
    )


def test_reconstruction_quality(submission, grading_seed, config, record_fraction, record_message):
    x, _ = _hidden_digits(grading_seed)
    model = submission.load_model("autoencoder")
    x_hat = model(x, batch_size=BATCH)
    assert isinstance(x_hat, torch.Tensor), "the autoencoder must return a tensor"
    if x_hat.shape != x.shape and x_hat.shape[:1] == x.shape[:1] and x_hat.numel() == x.numel():
        x_hat = x_hat.reshape(x.shape)
    assert x_hat.shape == x.shape, (
        f"reconstructions must have the input's shape {tuple(x.shape)}, got {tuple(x_hat.shape)}"
    )
    assert torch.isfinite(x_hat).all(), "the reconstructions hold NaN or inf"
    mse = float(((x_hat.double() - x.double()) ** 2).mean())
    fraction = config.reconstruction_mse.fraction(mse)
    record_fraction(fraction)
    record_message(
        _scale_message(
            f"reconstruction MSE on {len(x)} hidden digits", mse, config.reconstruction_mse, fraction
        )
    )


def test_few_label_accuracy(submission, grading_seed, config, record_fraction, record_message):
    x, y = _hidden_digits(grading_seed)
    model = submission.load_model("classifier")
    labels = labels_from_output(model(x, batch_size=BATCH), tuple(y.shape), DIGIT_CLASSES, "the classifier")
    accuracy = float((labels == y).double().mean())
    fraction = config.few_label_accuracy.fraction(accuracy)
    record_fraction(fraction)
    record_message(
        _scale_message(f"accuracy on {len(x)} hidden digits", accuracy, config.few_label_accuracy, fraction)
    )


def test_autoencoder_latent_dim(submission, grading_seed, config):
    x, _ = _hidden_digits(grading_seed)
    codes = submission.load_model("autoencoder").call("encode", x[:8])
    assert isinstance(codes, torch.Tensor) and tuple(codes.shape) == (8, config.latent_dim), (
        f"the autoencoder's encode must give codes of shape (N, {config.latent_dim}), "
        f"got {getattr(codes, 'shape', type(codes).__name__)}"
    )


@pytest.mark.parametrize("name", CONFIG.model_names)
def test_model_limits(submission, config, name, record_message):
    limits = getattr(config, MODEL_LIMITS.get(name, "segmentation_limits"))
    model = submission.load_model(name)
    params = model.param_count()
    size_mb = (submission.root / "models" / f"{name}.pt").stat().st_size / 2**20
    record_message(f"{name}: {params:,} parameters, {size_mb:.2f} MiB")
    assert params <= limits.max_parameters, (
        f"models/{name}: {params:,} parameters exceed the limit of {limits.max_parameters:,}"
    )
    assert size_mb <= limits.max_file_mb, (
        f"models/{name}.pt: {size_mb:.1f} MiB exceed the limit of {limits.max_file_mb:g} MiB"
    )
