"""Hidden tests: the submitted models on hidden data, metric -> points on the config's linear scales.

Hidden scenes and digits are made here, in the trusted process, from the run's secret key (the sandbox
never sees the key, the labels, or the digit files they come from); only images enter the sandbox. Each
test measures the model the student was asked for: the autoencoder through `decode(encode(x))` with a
code of the configured size, decoded by a fresh worker so that nothing but the code crosses; the classifier
through its own encoder (shaped like the autoencoder's, which it was fine-tuned from) and then its head.
Limits are read from the `state_dict` files on the trusted side before the model is built.
"""

from __future__ import annotations

import pytest
import torch

from autograder.hidden.hidden_data import hidden_digits, hidden_scenes
from autograder.hidden.references import labels_from_output
from exercise_code.config import CONFIG
from exercise_code.data import NUM_SCENE_CLASSES
from exercise_code.metrics import mean_iou

DIGIT_CLASSES = 10
BATCH = 50


def _scale_message(name: str, value: float, scale, fraction: float) -> str:
    return (
        f"{name} {value:.3f} -> {fraction:.0%} of the points (0 at {scale.floor:g}, full at {scale.target:g})"
    )


def _codes(model, method: str, x: torch.Tensor, latent_dim: int, what: str) -> torch.Tensor:
    """`model.<method>(x)` checked to be finite codes of shape (N, latent_dim)."""
    codes = model.call(method, x)
    expected = (len(x), latent_dim)
    assert isinstance(codes, torch.Tensor) and codes.is_floating_point(), (
        f"{what} must return float codes of shape {expected}, got {type(codes).__name__}"
    )
    assert tuple(codes.shape) == expected, (
        f"{what} must return codes of shape {expected} (latent size {latent_dim} from the assignment "
        f"config), got {tuple(codes.shape)}"
    )
    assert torch.isfinite(codes).all(), f"{what} returned NaN or inf codes"
    return codes.float()


def test_segmentation_quality(submission, hidden_key, config, record_fraction, record_message):
    images, masks = hidden_scenes(hidden_key, config.hidden_scenes, config.scene_size).tensors()
    model = submission.load_model("segmentation")
    output = model(images, batch_size=BATCH // 3)
    labels = labels_from_output(output, tuple(masks.shape), NUM_SCENE_CLASSES, "the segmentation model")
    miou = mean_iou(labels, masks, NUM_SCENE_CLASSES)
    fraction = config.segmentation_miou.fraction(miou)
    record_fraction(fraction)
    record_message(
        _scale_message(f"mean IoU on {len(images)} hidden scenes", miou, config.segmentation_miou, fraction)
    )


def test_reconstruction_quality(submission, hidden_key, config, record_fraction, record_message):
    x, _ = hidden_digits(hidden_key)
    codes = _codes(submission.load_model("autoencoder"), "encode", x, config.latent_dim, "encode")
    submission.fresh_worker()  # decoding starts from the codes alone
    x_hat = submission.load_model("autoencoder").call("decode", codes)
    assert isinstance(x_hat, torch.Tensor), "the autoencoder's decode must return a tensor"
    if x_hat.shape != x.shape and x_hat.shape[:1] == x.shape[:1] and x_hat.numel() == x.numel():
        x_hat = x_hat.reshape(x.shape)
    assert x_hat.shape == x.shape, (
        f"decode(encode(x)) must have the input's shape {tuple(x.shape)}, got {tuple(x_hat.shape)}"
    )
    assert torch.isfinite(x_hat).all(), "the reconstructions hold NaN or inf"
    mse = float(((x_hat.double() - x.double()) ** 2).mean())
    fraction = config.reconstruction_mse.fraction(mse)
    record_fraction(fraction)
    record_message(
        _scale_message(
            f"reconstruction MSE of decode(encode(x)) on {len(x)} hidden digits",
            mse,
            config.reconstruction_mse,
            fraction,
        )
    )


def _encoder_shapes(submission, name: str) -> dict[str, tuple[int, ...]]:
    shapes = submission.model_file(name).shapes
    return {k.removeprefix("encoder."): v for k, v in shapes.items() if k.startswith("encoder.")}


def test_few_label_accuracy(submission, hidden_key, config, record_fraction, record_message):
    x, y = hidden_digits(hidden_key)
    mine, pretrained = _encoder_shapes(submission, "classifier"), _encoder_shapes(submission, "autoencoder")
    differences = [
        f"encoder.{k}: {mine.get(k, 'absent')} here, {pretrained.get(k, 'absent')} in the autoencoder"
        for k in sorted(mine.keys() | pretrained.keys())
        if mine.get(k) != pretrained.get(k)
    ]
    assert not differences, (
        "the classifier's encoder must be the autoencoder's encoder, fine-tuned (same tensors): "
        + "; ".join(differences[:4])
    )
    codes = _codes(submission.load_model("classifier"), "encoder", x, config.latent_dim, "classifier.encoder")
    submission.fresh_worker()  # the head sees the codes alone
    logits = submission.load_model("classifier").call("head", codes)
    labels = labels_from_output(logits, tuple(y.shape), DIGIT_CLASSES, "classifier.head")
    accuracy = float((labels == y).double().mean())
    fraction = config.few_label_accuracy.fraction(accuracy)
    record_fraction(fraction)
    record_message(
        _scale_message(
            f"accuracy of head(encoder(x)) on {len(x)} hidden digits",
            accuracy,
            config.few_label_accuracy,
            fraction,
        )
    )


def test_autoencoder_latent_dim(submission, hidden_key, config):
    x, _ = hidden_digits(hidden_key, 8)
    _codes(submission.load_model("autoencoder"), "encode", x, config.latent_dim, "the autoencoder's encode")


@pytest.mark.parametrize("name", CONFIG.model_names)
def test_model_limits(submission, config, name, record_message):
    """Read from the submitted file on the trusted side (every tensor counts, buffers included), then
    the model must build from its spec with the student's code and load those weights."""
    found = submission.model_file(name, config.limits_for(name))
    submission.load_model(name)
    record_message(
        f"models/{name}.pt: {found.values:,} values in {found.tensors} tensors (parameters and buffers), "
        f"{found.megabytes:.2f} MiB"
    )
