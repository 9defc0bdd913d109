"""The training loop: losses fall for every task, early stopping, budgets, interrupts, checkpoints, seeds."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from exercise_code.config import ModelLimits
from exercise_code.models.registry import register
from exercise_code.training import (
    Optimizer,
    Schedule,
    Task,
    TrainConfig,
    check_limits,
    evaluate,
    fit,
    load_checkpoint,
    lr_factor,
    make_loader,
    model_size,
    predict,
    save_checkpoint,
    use_amp,
    use_channels_last,
    use_cpu_bf16,
)
from exercise_code.utils import cpu_bf16_supported


@register
class TinySegNet(nn.Module):
    def __init__(self, classes: int = 3):
        super().__init__()
        self.spec_kwargs = dict(classes=classes)
        self.net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, classes, 1))

    def forward(self, x):
        return self.net(x)


def _segmentation_data(n: int = 64):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 8, 8, generator=g)
    y = (x[:, 0] * 3).long().clamp(max=2)  # class = intensity band: learnable
    y[:, 0, 0] = -1  # a void pixel, ignored by the loss
    return TensorDataset(x, y)


def test_segmentation_loss_falls_and_metrics():
    model = TinySegNet()
    data = _segmentation_data()
    loader = make_loader(data, 16, shuffle=True)
    before = evaluate(model, loader, Task.SEGMENTATION, num_classes=3)
    history = fit(model, loader, loader, TrainConfig(Task.SEGMENTATION, epochs=15, lr=1e-2, progress=False))
    after = evaluate(model, loader, Task.SEGMENTATION, num_classes=3)
    assert after["loss"] < 0.7 * before["loss"]
    assert after["mean_iou"] > 0.5 and history.epochs_run == 15 and history.device == "cpu"
    assert len(history.val_metric) == 15


def test_classification_and_reconstruction_losses_fall():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(128, 4, generator=g)
    y = (x[:, 0] > 0).long()
    clf = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    h = fit(
        clf,
        make_loader(TensorDataset(x, y), 32),
        None,
        TrainConfig(Task.CLASSIFICATION, epochs=20, lr=1e-2, progress=False),
    )
    assert h.train_loss[-1] < 0.5 * h.train_loss[0]
    ae = nn.Sequential(nn.Linear(4, 2), nn.Linear(2, 4))
    low_rank = torch.randn(128, 2, generator=g) @ torch.randn(2, 4, generator=g)
    h = fit(
        ae,
        make_loader(TensorDataset(low_rank), 32),
        None,
        TrainConfig(Task.RECONSTRUCTION, epochs=60, lr=3e-2, progress=False),
    )
    assert h.train_loss[-1] < 0.3 * h.train_loss[0]


def test_early_stopping_restores_best_weights():
    data = _segmentation_data(32)
    model = TinySegNet()
    # a learning rate this large makes validation loss rise after the first epochs
    config = TrainConfig(
        Task.SEGMENTATION, epochs=30, lr=5.0, optimizer=Optimizer.SGD, patience=2, progress=False
    )
    history = fit(model, make_loader(data, 8), make_loader(data, 8), config)
    assert history.stopped_early and history.epochs_run < 30
    best = min(history.val_loss)
    assert evaluate(model, make_loader(data, 8), Task.SEGMENTATION)["loss"] == pytest.approx(best, rel=1e-5)


def test_the_wall_clock_safety_net_stops_a_long_run():
    data = _segmentation_data(256)
    config = TrainConfig(Task.SEGMENTATION, epochs=1000, max_seconds=0.5, progress=False)
    history = fit(TinySegNet(), make_loader(data, 4), None, config)
    assert history.seconds < 3.0 and history.epochs_run < 1000 and history.stopped_early
    assert history.out_of_time and history.steps < 1000 * 64


def test_max_steps_ends_the_run_part_way_through_an_epoch():
    data = _segmentation_data(64)
    config = TrainConfig(Task.SEGMENTATION, epochs=5, max_steps=10, progress=False)
    history = fit(TinySegNet(), make_loader(data, 8), None, config)  # 8 batches per epoch
    assert history.steps == 10 and history.epochs_run == 2 and len(history.train_loss) == 2
    assert not history.stopped_early and not history.out_of_time


def _torch_lrs(make, steps: int) -> list[float]:
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    sched, lrs = make(opt), []
    for _ in range(steps + 1):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def test_schedules_follow_torch_shapes():
    """Cosine equals CosineAnnealingLR; one-cycle follows OneCycleLR's learning rates (momentum aside)."""
    steps = 40
    want = _torch_lrs(lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps), steps)
    got = [0.1 * lr_factor(Schedule.COSINE, i / steps) for i in range(steps + 1)]
    assert got == pytest.approx(want, rel=1e-6, abs=1e-12)
    # OneCycleLR puts its phase boundary at step 0.3 * total - 1: equal up to that offset of 1 step in 2,000
    steps = 2000
    want = _torch_lrs(lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=steps + 1), steps)
    got = [0.1 * lr_factor(Schedule.ONECYCLE, i / steps) for i in range(steps + 1)]
    assert got == pytest.approx(want, abs=3e-4)
    assert got[0] == pytest.approx(want[0]) and got[-1] == pytest.approx(want[-1], abs=1e-9)
    assert max(got) == pytest.approx(0.1, rel=1e-4)
    assert lr_factor(Schedule.NONE, 0.7) == 1.0
    assert lr_factor(Schedule.COSINE, 2.0) == lr_factor(Schedule.COSINE, 1.0) == 0.0


def test_the_safety_net_never_bends_the_schedule():
    """A run the safety net stops took the first steps of the planned schedule: no annealing by the clock."""
    data = _segmentation_data(256)
    seen = []

    model = TinySegNet()
    config = TrainConfig(
        Task.SEGMENTATION, epochs=1000, lr=0.1, scheduler=Schedule.COSINE, max_seconds=0.5, progress=False
    )
    optimizer_step = torch.optim.Adam.step

    def spying_step(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return optimizer_step(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.optim.Adam, "step", spying_step)
        history = fit(model, make_loader(data, 4), None, config)
    assert history.stopped_early and history.out_of_time and history.epochs_run < 1000
    planned = 1000 * 64
    want = [0.1 * lr_factor(Schedule.COSINE, i / planned) for i in range(history.steps)]
    assert seen == pytest.approx(want, rel=1e-12) and seen[-1] > 0.099


def test_keyboard_interrupt_returns_history():
    class Interrupting(TinySegNet):
        calls = 0

        def forward(self, x):
            type(self).calls += 1
            if type(self).calls == 3:
                raise KeyboardInterrupt
            return super().forward(x)

    data = _segmentation_data(64)
    history = fit(
        Interrupting(), make_loader(data, 8), None, TrainConfig(Task.SEGMENTATION, epochs=5, progress=False)
    )
    assert history.stopped_early and history.epochs_run == 0


def test_seeds_make_runs_identical():
    data = _segmentation_data(32)
    runs = []
    for _ in range(2):
        torch.manual_seed(123)  # different init seeds are overridden by config.seed only for the loop
        model = TinySegNet()
        fit(
            model,
            make_loader(data, 8, shuffle=True, seed=5),
            None,
            TrainConfig(Task.SEGMENTATION, epochs=2, seed=7, progress=False),
        )
        runs.append(predict(model, data.tensors[0]))
    torch.testing.assert_close(runs[0], runs[1])


def test_checkpoint_round_trip_weights_only(tmp_path):
    model = TinySegNet(classes=4)
    weights, spec = save_checkpoint(model, tmp_path / "models" / "segmentation", extra={"note": "demo"})
    assert json.loads(spec.read_text())["name"] == "TinySegNet"
    loaded = load_checkpoint(tmp_path / "models" / "segmentation.pt")
    x = torch.rand(2, 1, 5, 5)
    torch.testing.assert_close(loaded(x), model(x))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickled_module_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    save_checkpoint(TinySegNet(), tmp_path / "m")
    (tmp_path / "m.pt").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(tmp_path / "m")


def test_size_and_limits():
    model = TinySegNet()
    size = model_size(model)
    assert size.parameters == sum(p.numel() for p in model.parameters()) and size.bytes > 4 * size.parameters
    assert check_limits(model, ModelLimits(10_000, 1.0)) == []
    problems = check_limits(model, ModelLimits(10, 0.0001))
    assert any("exceed the limit of 10" in p for p in problems) and any("MiB" in p for p in problems)


def test_gpu_switches():
    config = TrainConfig(Task.SEGMENTATION)
    assert use_amp(torch.device("cuda"), config) and not use_amp(torch.device("cpu"), config)
    assert use_channels_last(torch.device("cuda"), config) and not use_channels_last(
        torch.device("cpu"), config
    )
    assert not use_amp(torch.device("cuda"), TrainConfig(Task.SEGMENTATION, amp=False))


def test_cpu_bf16_switch():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    asked = TrainConfig(Task.SEGMENTATION, cpu_bf16=True)
    assert not use_cpu_bf16(cpu, TrainConfig(Task.SEGMENTATION))  # off unless asked for
    assert not use_cpu_bf16(cuda, asked)  # CUDA has its own AMP
    assert use_cpu_bf16(cpu, asked) == cpu_bf16_supported()
    assert use_channels_last(cpu, asked) == cpu_bf16_supported()
    assert not use_channels_last(cpu, TrainConfig(Task.SEGMENTATION, cpu_bf16=True, channels_last=False))


@pytest.mark.skipif(not cpu_bf16_supported(), reason="this CPU has no native bfloat16")
def test_cpu_bf16_trains_in_bfloat16_and_keeps_float32_weights():
    model = TinySegNet()
    seen: list[torch.dtype] = []
    model.net[0].register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    loader = make_loader(_segmentation_data(), 16, shuffle=True)
    before = evaluate(model, loader, Task.SEGMENTATION, num_classes=3)["loss"]
    config = TrainConfig(Task.SEGMENTATION, epochs=15, lr=1e-2, progress=False, cpu_bf16=True)
    fit(model, loader, loader, config)
    after = evaluate(model, loader, Task.SEGMENTATION, num_classes=3)["loss"]
    assert torch.bfloat16 in seen  # training steps ran under autocast
    assert seen[-1] == torch.float32  # evaluation did not
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert model.net[0].weight.is_contiguous()  # channels_last undone after training
    assert after < 0.7 * before


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(epochs=0), "epochs must be positive, got 0"),
        (dict(max_steps=0), "max_steps must be a positive int or None, got 0"),
        (dict(max_steps=2.5), "max_steps must be a positive int or None, got 2.5"),
        (dict(max_seconds=0), "max_seconds must be positive or None, got 0"),
    ],
)
def test_bad_budgets(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit(
            TinySegNet(),
            make_loader(_segmentation_data(4), 2),
            None,
            TrainConfig(Task.SEGMENTATION, **kwargs),
        )
