"""One training loop for every model of the kit: segmentation, classification, reconstruction.

Device pick (cuda > mps > cpu), AMP and channels_last on CUDA (bfloat16 on CPU when asked), tqdm progress,
seeds, a budget of epochs and steps (the same work, and so the same result, however busy the machine is) with
an optional wall-clock safety net, early stopping with the best weights restored, clean Ctrl-C, checkpoints as
state_dict + JSON.
"""

from __future__ import annotations

import copy
import enum
import io
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from .config import ModelLimits, state_dict_values
from .metrics import accuracy, mean_iou, pixel_accuracy, reconstruction_mse
from .models.registry import build_model, model_spec
from .utils import cpu_bf16_supported, pick_device, seed_everything

log = logging.getLogger(__name__)


class Task(enum.Enum):
    SEGMENTATION = "segmentation"
    """logits Tensor[N, K, H, W], targets int64 Tensor[N, H, W]; cross-entropy ignoring -1."""
    CLASSIFICATION = "classification"
    """logits Tensor[N, K], targets int64 Tensor[N]."""
    RECONSTRUCTION = "reconstruction"
    """output shaped like the input; batches are (x, label) or x; MSE against x."""


class Optimizer(enum.Enum):
    ADAM = "adam"
    ADAMW = "adamw"
    SGD = "sgd"


class Schedule(enum.Enum):
    NONE = "none"
    COSINE = "cosine"
    ONECYCLE = "onecycle"


@dataclass
class TrainConfig:
    """Settings of one `fit` run."""

    task: Task
    epochs: int = 10
    """Passes over the training data: the budget, together with `max_steps`."""
    max_steps: int | None = None
    """Optimizer steps at most (None: every batch of every epoch); the last epoch may end part way."""
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: Optimizer = Optimizer.ADAM
    scheduler: Schedule = Schedule.NONE
    max_seconds: float | None = None
    """Wall-clock safety net, not a budget: training stops after the batch that passes it and sets
    `History.out_of_time`. A run it stops did less work than asked, so its result depends on the machine's
    speed and load: set it well above the expected time. It never changes the learning-rate schedule."""
    patience: int | None = None
    """Early stopping: epochs without a better validation loss before stopping."""
    device: str | None = None
    """None picks cuda > mps > cpu."""
    amp: bool = True
    """Mixed precision (autocast + GradScaler), used on CUDA only."""
    channels_last: bool = True
    """channels_last memory format for 4-D inputs, used on CUDA (and on CPU with `cpu_bf16`)."""
    cpu_bf16: bool = False
    """bfloat16 autocast and channels_last on a CPU that runs bfloat16 natively (`cpu_bf16_supported()`);
    ignored elsewhere. Weights, optimizer and loss stay float32. Faster than float32 for convolutions on such
    a CPU; leave it off where float32 precision matters (linear autoencoder)."""
    seed: int = 0
    checkpoint_path: Path | None = None
    """Where the best model is saved (`.pt` state_dict + `.json` spec)."""
    progress: bool = True
    """Show tqdm progress bars."""
    grad_clip: float | None = None


@dataclass
class History:
    """What happened during `fit`."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    """Pixel accuracy (segmentation), accuracy (classification) or -MSE (reconstruction)."""
    epochs_run: int = 0
    """Epochs started and finished or cut short (a `max_steps` budget may end the last one part way)."""
    steps: int = 0
    """Optimizer steps taken."""
    seconds: float = 0.0
    best_epoch: int = -1
    stopped_early: bool = False
    """Early stopping, the wall-clock safety net or Ctrl-C ended the run before its budget of steps."""
    out_of_time: bool = False
    """The wall-clock safety net (`max_seconds`) ended the run: its result depends on the machine's load."""
    device: str = "cpu"


def use_amp(device: torch.device, config: TrainConfig) -> bool:
    """AMP only where it helps and is supported here: CUDA."""
    return config.amp and device.type == "cuda"


def use_cpu_bf16(device: torch.device, config: TrainConfig) -> bool:
    """bfloat16 autocast on CPU only when asked for and native here (emulated bfloat16 is slower)."""
    return config.cpu_bf16 and device.type == "cpu" and cpu_bf16_supported()


def use_channels_last(device: torch.device, config: TrainConfig) -> bool:
    """channels_last on CUDA, and on CPU together with bfloat16 (alone on CPU it mostly costs copies)."""
    return config.channels_last and (device.type == "cuda" or use_cpu_bf16(device, config))


def make_loader(
    dataset: Dataset, batch_size: int, shuffle: bool = False, seed: int = 0, num_workers: int | None = None
) -> DataLoader:
    """A seeded DataLoader; pinned memory when CUDA is there; no worker processes by default on CPU."""
    cuda = torch.cuda.is_available()
    workers = (2 if cuda else 0) if num_workers is None else num_workers
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=torch.Generator().manual_seed(seed),
        num_workers=workers,
        pin_memory=cuda,
        persistent_workers=workers > 0,
    )


def _split_batch(batch: Any, task: Task) -> tuple[Tensor, Tensor]:
    if task is Task.RECONSTRUCTION:
        x = batch[0] if isinstance(batch, list | tuple) else batch
        return x, x
    x, y = batch
    return x, y


def _loss(output: Tensor, target: Tensor, task: Task) -> Tensor:
    if task is Task.RECONSTRUCTION:
        return F.mse_loss(output.float(), target.float())
    return F.cross_entropy(output.float(), target.long(), ignore_index=-1)


def _to(x: Tensor, device: torch.device, channels_last: bool) -> Tensor:
    x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.dim() == 4 else x


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer is Optimizer.SGD:
        return torch.optim.SGD(params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    cls = torch.optim.AdamW if config.optimizer is Optimizer.ADAMW else torch.optim.Adam
    return cls(params, lr=config.lr, weight_decay=config.weight_decay)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: DataLoader,
    task: Task,
    num_classes: int | None = None,
    device: str | None = None,
) -> dict[str, float]:
    """Loss and the task's metrics over `loader`: pixel accuracy and mean IoU, accuracy, or MSE."""
    dev = next(model.parameters()).device if device is None else torch.device(device)
    was_training = model.training
    model.eval()
    total, count, outputs, targets = 0.0, 0, [], []
    for batch in loader:
        x, y = _split_batch(batch, task)
        out = model(x.to(dev))
        total += float(_loss(out, y.to(dev), task)) * len(x)
        count += len(x)
        outputs.append(out.argmax(1).cpu() if task is not Task.RECONSTRUCTION else out.float().cpu())
        targets.append(y.cpu())
    model.train(was_training)
    result = {"loss": total / max(count, 1)}
    pred, target = torch.cat(outputs), torch.cat(targets)
    if task is Task.SEGMENTATION:
        result["pixel_accuracy"] = pixel_accuracy(pred, target)
        if num_classes is not None:
            result["mean_iou"] = mean_iou(pred, target, num_classes)
    elif task is Task.CLASSIFICATION:
        result["accuracy"] = accuracy(pred, target)
    else:
        result["mse"] = reconstruction_mse(pred, target)
    return result


def _metric(result: dict[str, float], task: Task) -> float:
    if task is Task.SEGMENTATION:
        return result["pixel_accuracy"]
    if task is Task.CLASSIFICATION:
        return result["accuracy"]
    return -result["mse"]


def lr_factor(schedule: Schedule, progress: float) -> float:
    """The learning rate, as a fraction of the peak, after `progress` (0 to 1) of the training run.

    COSINE decays from 1 to 0; ONECYCLE warms up from 1/25 to 1 over the first 30 % and then decays to
    1/250,000 (the shape of `torch.optim.lr_scheduler.OneCycleLR` with its defaults, without momentum
    cycling). `fit` measures progress in steps taken out of the steps planned, never in time.
    """
    p = min(max(progress, 0.0), 1.0)
    if schedule is Schedule.COSINE:
        return 0.5 * (1 + math.cos(math.pi * p))
    if schedule is Schedule.ONECYCLE:
        start, end, warm = 1 / 25, 1 / 25 / 1e4, 0.3
        if p < warm:
            return start + (1 - start) * 0.5 * (1 - math.cos(math.pi * p / warm))
        return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * (p - warm) / (1 - warm)))
    return 1.0


def planned_steps(config: TrainConfig, batches_per_epoch: int) -> int:
    """Optimizer steps a run of `config` takes unless stopped early: epochs x batches, capped by max_steps."""
    steps = config.epochs * max(batches_per_epoch, 1)
    return steps if config.max_steps is None else min(steps, config.max_steps)


def _check_budget(config: TrainConfig) -> None:
    if isinstance(config.epochs, bool) or not isinstance(config.epochs, int) or config.epochs < 1:
        raise ValueError(f"epochs must be positive, got {config.epochs!r}")
    steps = config.max_steps
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ValueError(f"max_steps must be a positive int or None, got {steps!r}")
    if config.max_seconds is not None and not config.max_seconds > 0:
        raise ValueError(f"max_seconds must be positive or None, got {config.max_seconds!r}")


def fit(
    model: nn.Module, train_loader: DataLoader, val_loader: DataLoader | None, config: TrainConfig
) -> History:
    """Train `model` in place; returns the History. The best weights (by validation loss) are restored.

    The work is `planned_steps(config, len(train_loader))` optimizer steps, seeded by `config.seed`: with the
    same data, threads and settings, the result does not depend on how fast or busy the machine is, unless
    the `max_seconds` safety net stops the run (then `History.out_of_time` is set and a warning is logged).
    """
    _check_budget(config)
    from tqdm.auto import tqdm

    seed_everything(config.seed)
    device = pick_device(config.device)
    amp, channels_last = use_amp(device, config), use_channels_last(device, config)
    bf16 = use_cpu_bf16(device, config)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = _optimizer(model, config)
    steps, step = planned_steps(config, len(train_loader)), 0
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    history = History(device=str(device))
    best_loss, best_state, bad_epochs = math.inf, None, 0
    start = time.perf_counter()
    try:
        for epoch in range(config.epochs):
            model.train()
            running, seen = 0.0, 0
            bar = tqdm(
                train_loader,
                desc=f"epoch {epoch + 1}/{config.epochs}",
                leave=False,
                disable=not config.progress,
            )
            for batch in bar:
                # the schedule runs over the steps planned, whatever the clock says
                for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
                    group["lr"] = base * lr_factor(config.scheduler, step / steps)
                step += 1
                x, y = _split_batch(batch, config.task)
                x, y = _to(x, device, channels_last), y.to(device, non_blocking=True)
                with torch.autocast(device.type, dtype=torch.bfloat16 if bf16 else None, enabled=amp or bf16):
                    loss = _loss(model(x), y, config.task)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if config.grad_clip is not None:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                running += float(loss.detach()) * len(x)
                seen += len(x)
                bar.set_postfix(loss=f"{running / seen:.4f}")
                if step >= steps:
                    break
                if config.max_seconds is not None and time.perf_counter() - start > config.max_seconds:
                    history.out_of_time = True
                    break
            history.train_loss.append(running / max(seen, 1))
            history.epochs_run = epoch + 1
            if val_loader is not None:
                result = evaluate(model, val_loader, config.task, device=str(device))
                history.val_loss.append(result["loss"])
                history.val_metric.append(_metric(result, config.task))
                current = result["loss"]
            else:
                current = history.train_loss[-1]
            if current < best_loss:
                best_loss, bad_epochs, history.best_epoch = current, 0, epoch
                best_state = copy.deepcopy(model.state_dict())
                if config.checkpoint_path is not None:
                    save_checkpoint(model, config.checkpoint_path)
            else:
                bad_epochs += 1
                if config.patience is not None and bad_epochs > config.patience:
                    history.stopped_early = True
                    break
            if history.out_of_time or step >= steps:
                break
    except KeyboardInterrupt:
        log.warning(
            "training interrupted after %d epochs; keeping the best weights so far", history.epochs_run
        )
        history.stopped_early = True
    history.steps = step
    if history.out_of_time:
        history.stopped_early = step < steps
        log.warning(
            "training stopped by the wall-clock safety net after %d of %d steps (max_seconds=%g): "
            "less work than asked, so the result depends on this machine's speed and load",
            step, steps, config.max_seconds,
        )  # fmt: skip
    if best_state is not None:
        model.load_state_dict(best_state)
    if channels_last:
        model.to(memory_format=torch.contiguous_format)
    history.seconds = time.perf_counter() - start
    return history


@torch.no_grad()
def predict(
    model: nn.Module, data: Tensor | DataLoader, *, device: str | None = None, batch_size: int = 64
) -> Tensor:
    """Model outputs on CPU for a tensor (batched) or a loader of (x, ...) batches."""
    dev = pick_device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval().to(dev)
    if isinstance(data, Tensor):
        batches = data.split(batch_size)
    else:
        batches = (b[0] if isinstance(b, list | tuple) else b for b in data)
    out = torch.cat([model(b.to(dev)).float().cpu() for b in batches])
    model.train(was_training)
    return out


def _paths(path: Path | str) -> tuple[Path, Path]:
    path = Path(path)
    base = path.with_suffix("") if path.suffix in {".pt", ".json"} else path
    return base.with_suffix(".pt"), base.with_suffix(".json")


def save_checkpoint(
    model: nn.Module, path: Path | str, extra: dict[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write `<path>.pt` (state_dict) and `<path>.json` ({"name", "kwargs", "extra"}); return both paths."""
    weights, spec_path = _paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    torch.save(state, weights)
    spec = model_spec(model)
    if extra:
        spec = {**spec, "extra": extra}
    spec_path.write_text(json.dumps(spec, indent=2))
    return weights, spec_path


def load_checkpoint(path: Path | str, map_location: str = "cpu") -> nn.Module:
    """Rebuild a model from `<path>.json` and load `<path>.pt` with `weights_only=True`."""
    weights, spec_path = _paths(path)
    spec = json.loads(spec_path.read_text())
    model = build_model({"name": spec["name"], "kwargs": spec["kwargs"]})
    model.load_state_dict(torch.load(weights, map_location=map_location, weights_only=True))
    return model


@dataclass(frozen=True)
class ModelSize:
    """Values in the state_dict (parameters and buffers) and the size of the saved state_dict."""

    parameters: int
    """Every value of every tensor in the state_dict, buffers included (what the limits count)."""
    bytes: int

    @property
    def megabytes(self) -> float:
        return self.bytes / 2**20


def model_size(model: nn.Module) -> ModelSize:
    """Count the state_dict's values and measure the saved state_dict (in memory)."""
    state = model.state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return ModelSize(state_dict_values(state), buffer.tell())


def check_limits(model: nn.Module, limits: ModelLimits) -> list[str]:
    """Violations of `limits`, each naming the value and the limit (empty when the model fits)."""
    size = model_size(model)
    problems = []
    if size.parameters > limits.max_parameters:
        problems.append(
            f"{size.parameters:,} values (parameters and buffers) exceed the limit of "
            f"{limits.max_parameters:,}"
        )
    if size.megabytes > limits.max_file_mb:
        problems.append(
            f"saved size {size.megabytes:.1f} MiB exceeds the limit of {limits.max_file_mb:g} MiB"
        )
    return problems
