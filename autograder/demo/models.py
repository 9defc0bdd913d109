"""Briefly trained models for the demo's sample submissions: an FCN on digit scenes, an MLP autoencoder
on digits and a classifier fine-tuned from its encoder with few labels, each for a few seconds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from exercise_code.config import CONFIG
from exercise_code.data import NUM_SCENE_CLASSES, Digits, DigitScenes
from exercise_code.models import FCN, Autoencoder, Classifier
from exercise_code.training import Task, TrainConfig, fit, make_loader, save_checkpoint

TRAIN_SCENES = 256
VAL_SCENES = 32


@dataclass(frozen=True)
class DemoModels:
    """Folders with `<name>.pt` + `<name>.json` for every model in `CONFIG.model_names`."""

    trained: Path
    untrained: Path
    """The same architectures saved right after construction (a student who forgot to train)."""
    seconds: float


def _config(task: Task, seconds: float, seed: int) -> TrainConfig:
    return TrainConfig(task=task, epochs=1000, lr=3e-3, max_seconds=seconds, seed=seed, progress=False)


def train_reference_models(out: Path, *, seconds: float = 4.0, seed: int = 0) -> DemoModels:
    """Train the three submitted models of the reference solution for about `seconds` each (CPU)."""
    torch.manual_seed(seed)
    trained, untrained = Path(out) / "trained", Path(out) / "untrained"
    size = CONFIG.scene_size
    fcn = FCN(NUM_SCENE_CLASSES, variant="8s", width=8, head_channels=64)
    autoencoder = Autoencoder(latent_dim=CONFIG.latent_dim)
    save_checkpoint(fcn, untrained / "segmentation")
    save_checkpoint(autoencoder, untrained / "autoencoder")
    save_checkpoint(Classifier(autoencoder.encoder), untrained / "classifier")

    scenes = make_loader(DigitScenes("train", TRAIN_SCENES, size, seed), 32, shuffle=True, seed=seed)
    val = make_loader(DigitScenes("val", VAL_SCENES, size, seed), 32)
    history = fit(fcn, scenes, val, _config(Task.SEGMENTATION, seconds, seed))
    spent = history.seconds
    digits = Digits("train", labels_per_class=CONFIG.labels_per_class, seed=seed)
    unlabelled = make_loader(digits.unlabelled(include_labelled=True), 64, shuffle=True, seed=seed)
    spent += fit(autoencoder, unlabelled, None, _config(Task.RECONSTRUCTION, seconds, seed)).seconds
    classifier = Classifier(autoencoder.encoder)
    labelled = make_loader(digits, 32, shuffle=True, seed=seed)
    spent += fit(classifier, labelled, None, _config(Task.CLASSIFICATION, seconds, seed)).seconds
    for name, model in (("segmentation", fcn), ("autoencoder", autoencoder), ("classifier", classifier)):
        save_checkpoint(model.cpu(), trained / name)
    return DemoModels(trained, untrained, spent)
