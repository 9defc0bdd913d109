"""Reference models for `autograder verify`: the three submitted models, trained briefly with the reference
solution and cached under `build/reference_models/<key>/` (git-ignored, never released).

The key hashes the budget and the kit's model/training/data sources, so a changed reference retrains.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from autograder.errors import VerifyError

log = logging.getLogger(__name__)

SOURCES = ("exercise_code/models", "exercise_code/layers", "exercise_code/training.py", "exercise_code/data")
"""Kit sources whose change invalidates cached models."""


@dataclass(frozen=True)
class ModelBudget:
    """How hard to train the reference models (each of the three for about `seconds`)."""

    seconds: float = 180.0
    """Wall-clock training time of the segmentation model and the autoencoder; the classifier gets half."""
    scenes: int = 2048
    """Training scenes for the segmentation model."""
    width: int = 16
    """FCN backbone width."""
    head_channels: int = 128
    variant: str = "8s"
    ae_hidden: tuple[int, ...] = (512, 256)
    batch: int = 32
    lr: float = 3e-3
    seed: int = 0
    device: str | None = None
    """None picks cuda > mps > cpu."""

    def key(self, source: Path) -> str:
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode())
        for rel in SOURCES:
            path = Path(source) / rel
            files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
            for file in files:
                if file.is_file():
                    digest.update(file.relative_to(source).as_posix().encode())
                    digest.update(file.read_bytes())
        return digest.hexdigest()[:16]


TINY_BUDGET = ModelBudget(seconds=1.5, scenes=48, width=4, head_channels=16, ae_hidden=(64,), batch=16)
"""For tests: the models load and predict, their quality means nothing."""


def default_cache(source: Path) -> Path:
    return Path(source) / "build" / "reference_models"


def reference_models(
    *, source: Path, budget: ModelBudget = ModelBudget(), cache: Path | None = None, retrain: bool = False
) -> Path:
    """A folder with `<name>.pt` + `<name>.json` for every submitted model, trained on first use."""
    folder = Path(cache or default_cache(source)) / budget.key(source)
    if (folder / "metrics.json").is_file() and not retrain:
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".training-"))
    try:
        metrics = train_reference_models(tmp, budget)
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2))
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)  # appears complete or not at all
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def train_reference_models(out: Path, budget: ModelBudget) -> dict[str, float]:
    """Train the reference FCN, MLP autoencoder and few-label classifier; write them to `out`.

    Returns validation metrics (mean IoU, MSE, accuracy) and the seconds spent.
    """
    from exercise_code.config import CONFIG
    from exercise_code.data import NUM_SCENE_CLASSES, Digits, DigitScenes
    from exercise_code.models import FCN, Autoencoder, Classifier
    from exercise_code.training import (
        Optimizer,
        Task,
        TrainConfig,
        evaluate,
        fit,
        make_loader,
        save_checkpoint,
    )

    def config(task: Task, seconds: float, lr: float) -> TrainConfig:
        return TrainConfig(
            task=task,
            epochs=10_000,
            lr=lr,
            optimizer=Optimizer.ADAMW,
            max_seconds=seconds,
            seed=budget.seed,
            device=budget.device,
            progress=False,
            patience=None,
        )

    try:
        torch.manual_seed(budget.seed)
        size = CONFIG.scene_size
        scenes = DigitScenes("train", budget.scenes, size, budget.seed)
        val_scenes = DigitScenes("val", 64, size, budget.seed)
        fcn = FCN(NUM_SCENE_CLASSES, budget.variant, width=budget.width, head_channels=budget.head_channels)
        train = make_loader(scenes, budget.batch, shuffle=True, seed=budget.seed)
        val = make_loader(val_scenes, 64)
        seconds = fit(fcn, train, val, config(Task.SEGMENTATION, budget.seconds, budget.lr)).seconds
        seg = evaluate(fcn, val, Task.SEGMENTATION, NUM_SCENE_CLASSES)

        few = Digits("train", labels_per_class=CONFIG.labels_per_class, seed=budget.seed)
        x_val, y_val = Digits("val").tensors()
        autoencoder = Autoencoder(latent_dim=CONFIG.latent_dim, hidden=budget.ae_hidden)
        unlabelled = make_loader(few.unlabelled(include_labelled=True), 128, shuffle=True, seed=budget.seed)
        val_x = make_loader(TensorDataset(x_val), 500)
        seconds += fit(
            autoencoder, unlabelled, val_x, config(Task.RECONSTRUCTION, budget.seconds, 2e-3)
        ).seconds
        rec = evaluate(autoencoder, val_x, Task.RECONSTRUCTION)

        classifier = Classifier(autoencoder.encoder, num_classes=10)
        labelled = make_loader(few, 32, shuffle=True, seed=budget.seed)
        val_xy = make_loader(TensorDataset(x_val, y_val), 500)
        seconds += fit(
            classifier, labelled, val_xy, config(Task.CLASSIFICATION, budget.seconds / 2, 1e-3)
        ).seconds
        cls = evaluate(classifier, val_xy, Task.CLASSIFICATION)
    except Exception as exc:
        raise VerifyError(f"training the reference models failed: {type(exc).__name__}: {exc}") from exc
    for name, model in (("segmentation", fcn), ("autoencoder", autoencoder), ("classifier", classifier)):
        save_checkpoint(model.cpu().eval(), Path(out) / name)
    metrics = {
        "val_mean_iou": seg["mean_iou"],
        "val_pixel_accuracy": seg["pixel_accuracy"],
        "val_mse": rec["mse"],
        "val_accuracy": cls["accuracy"],
        "seconds": seconds,
    }
    log.info("reference models: %s", metrics)
    return metrics
