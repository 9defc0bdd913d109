"""Benchmark: FCN-32s, -16s, -8s and the patch-based segmenter on digit scenes, one CPU-time budget each.

    .venv/bin/python bench/segmentation.py                    # 600 CPU-s per model, default scenes
    .venv/bin/python bench/segmentation.py --boldness 2.0     # thicker strokes (SceneConfig.boldness)
    .venv/bin/python bench/segmentation.py --variants 8s,patch --budget 300
    .venv/bin/python bench/segmentation.py --quick            # smoke test: 5 CPU-s each, few scenes
    .venv/bin/python bench/segmentation.py --variants 8s --seed 1 & \
    .venv/bin/python bench/segmentation.py --variants 32s --seed 1   # both cores: one model per process

Every model trains on `DigitScenes("train", --scenes)` for the same budget of *process CPU time*
(`time.process_time()`, all threads of this process), so the figures do not depend on other load on the
machine. `fit` stops on wall-clock time and rebuilds its optimizer on every call, so the bench runs its own
short loop with fit's loss (cross-entropy ignoring -1): AdamW, a learning rate that warms up and then
follows a cosine over the *budget* (the schedule is a function of the CPU time spent, not of a step count).
Validation (`val` split) runs a few times inside the budget; the weights of the best validation mIoU are
kept. The FCNs (backbone vgg_small) see whole scenes; the patch classifier sees patches centred on random
pixels and is evaluated densely through its fully convolutional twin. Test mean IoU and pixel accuracy
(`exercise_code.metrics` through `evaluate`) come from `DigitScenes("test", --test-scenes)`.

Speed settings, the same for every model: one thread (more steps per CPU-second than two), channels_last,
and the forward pass under bfloat16 autocast where the CPU runs bfloat16 natively (`--precision auto`;
weights, optimizer and loss stay float32; validation and test run in float32).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

# Idle OpenMP threads sleep instead of spinning: with spinning, a busy machine inflates the CPU time of every
# step (measured: x2 with two such processes on two cores), and the budgets would depend on the load again.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when torch loads libgomp, so before `import torch`

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from exercise_code.data import NUM_SCENE_CLASSES, DigitScenes, SceneConfig
from exercise_code.metrics import per_class_iou
from exercise_code.models import FCN, PatchClassifier, fully_convolutional
from exercise_code.models.fcn import _upsampler
from exercise_code.training import Task, evaluate, make_loader
from exercise_code.utils import cpu_bf16_supported, seed_everything

DEFAULT_MODELS = ("32s", "16s", "8s", "patch")
ALL_MODELS = (*DEFAULT_MODELS, "4s", "8s-maxpool")
BENCH_ONLY = {"4s": "proto", "8s-maxpool": "ablation"}
Batcher = Callable[[torch.Generator], tuple[Tensor, Tensor]]


@dataclass
class Recipe:
    """How one model is trained inside its budget."""

    lr: float
    batch: int
    weight_decay: float = 1e-4
    warmup: float = 0.05
    """Share of the budget spent warming the learning rate up linearly."""
    final_lr: float = 0.01
    """Learning rate at the end of the budget, as a share of `lr`."""


@dataclass
class Result:
    name: str
    steps: int
    samples: int
    train_cpu_s: float
    best_val_miou: float
    test_miou: float
    test_pixel_accuracy: float
    digit_iou: float
    """IoU of "any digit" against background: how well strokes are found, whatever their class."""
    class_accuracy: float
    """Share of digit pixels found as some digit that get the right digit: how well digits are recognised."""


class FCN4s(FCN):
    """Bench-only prototype, not part of the kit: FCN-8s plus one more skip from the stride-4 features of
    the vgg_small backbone (its second pooling stage), upsampled x2 then x4 instead of x8.

    Used only to test whether output stride, not training, limits FCN-8s on thin digit strokes.
    """

    def __init__(self, num_classes: int, width: int = 16) -> None:
        super().__init__(num_classes, variant="8s", backbone="vgg_small", width=width)
        self.score4 = nn.Conv2d(2 * width, num_classes, 1)
        nn.init.zeros_(self.score4.weight)  # starts as FCN-8s, like the other skips
        nn.init.zeros_(self.score4.bias)
        self.up2c = _upsampler(num_classes, 2)
        self.up_final = _upsampler(num_classes, 4)

    def forward(self, x: Tensor) -> Tensor:
        N, C, H, W = x.shape
        x = F.pad(x, (0, -W % 32, 0, -H % 32))
        to8 = self.backbone.to8
        f4 = to8[1](to8[0](x))  # stride 4, 2 * width channels
        f8 = to8[2](f4)
        f16 = self.backbone.to16(f8)
        score = self.score32(self.head(self.backbone.to32(f16)))
        score = self.up2a(score) + self.score16(f16)
        score = self.up2b(score) + self.score8(f8)
        score = self.up2c(score) + self.score4(f4)
        return self.up_final(score)[:, :, :H, :W]


def with_max_pooling(model: FCN) -> FCN:
    """Bench-only ablation, not part of the kit: the vgg_small backbone with VGG's 2x2 max pooling in place of
    each learned 3x3 stride-2 convolution (and its BatchNorm and ReLU), as the kit had it before."""
    for stage in (*model.backbone.to8, model.backbone.to16, model.backbone.to32):
        down = next(i for i, m in enumerate(stage) if isinstance(m, nn.Conv2d) and m.stride == (2, 2))
        stage[down] = nn.MaxPool2d(2)
        del stage[down + 1 : down + 3]  # its BatchNorm and ReLU
    return model


def lr_factor(progress: float, recipe: Recipe) -> float:
    """Linear warm-up, then a cosine from 1 down to `final_lr`, over progress in [0, 1] of the budget."""
    if progress < recipe.warmup:
        return max(progress / recipe.warmup, 0.02)
    t = min(1.0, (progress - recipe.warmup) / (1.0 - recipe.warmup))
    return recipe.final_lr + (1.0 - recipe.final_lr) * 0.5 * (1.0 + math.cos(math.pi * t))


def recolour(images: Tensor, gen: torch.Generator) -> Tensor:
    """Label-preserving colour augmentation: a random RGB channel permutation per image, and a random
    inversion for half of them (a digit's class is its shape, never its colour)."""
    n = images.shape[0]
    perms = torch.argsort(torch.rand(n, 3, generator=gen), dim=1)
    images = torch.gather(images, 1, perms[:, :, None, None].expand_as(images))
    flip = torch.rand(n, generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], 1.0 - images, images)


def scene_batcher(scenes: DigitScenes, batch: int, augment: bool) -> Batcher:
    """Whole scenes in shuffled epochs: (images float [B, 3, H, W], masks int64 [B, H, W])."""
    state = {"order": torch.empty(0, dtype=torch.long), "at": 0}

    def next_batch(gen: torch.Generator) -> tuple[Tensor, Tensor]:
        if state["at"] + batch > len(state["order"]):
            state["order"], state["at"] = torch.randperm(len(scenes), generator=gen), 0
        idx = state["order"][state["at"] : state["at"] + batch]
        state["at"] += batch
        images = scenes.images[idx].float().div_(255.0)
        return (recolour(images, gen) if augment else images), scenes.masks[idx].long()

    return next_batch


def patch_batcher(
    scenes: DigitScenes, patch_size: int, batch: int, augment: bool, digit_share: float
) -> Batcher:
    """Patches centred on random pixels (reflect padding, as `extract_patches`), labelled by the centre.

    `digit_share` of each batch is centred on digit pixels, the rest on uniformly drawn pixels.
    """
    N, _, H, W = scenes.images.shape
    r = patch_size // 2
    rows = torch.arange(-r, H + r).abs()
    rows = torch.where(rows >= H, 2 * (H - 1) - rows, rows)  # reflect, like F.pad(mode="reflect")
    cols = torch.arange(-r, W + r).abs()
    cols = torch.where(cols >= W, 2 * (W - 1) - cols, cols)
    padded = scenes.images[:, :, rows][:, :, :, cols]  # uint8 [N, 3, H + 2r, W + 2r]
    masks = scenes.masks.long()
    digit_pixels = torch.nonzero(masks.flatten() > 0).flatten()
    offsets = torch.arange(patch_size)

    def next_batch(gen: torch.Generator) -> tuple[Tensor, Tensor]:
        n_digit = int(round(batch * digit_share))
        flat = torch.cat(
            [
                digit_pixels[torch.randint(len(digit_pixels), (n_digit,), generator=gen)],
                torch.randint(N * H * W, (batch - n_digit,), generator=gen),
            ]
        )
        n, i, j = flat // (H * W), (flat // W) % H, flat % W
        r_idx, c_idx = i[:, None] + offsets, j[:, None] + offsets  # [B, P] each
        patches = padded[n[:, None, None], :, r_idx[:, :, None], c_idx[:, None, :]]  # [B, P, P, 3]
        patches = patches.permute(0, 3, 1, 2).float().div_(255.0)
        return (recolour(patches, gen) if augment else patches), masks[n, i, j]

    return next_batch


def train_budgeted(
    model: nn.Module,
    next_batch: Batcher,
    recipe: Recipe,
    budget_s: float,
    validate: Callable[[], float],
    validations: int,
    seed: int,
    bf16: bool = False,
) -> tuple[int, int, float, float]:
    """Train until `budget_s` CPU-seconds are spent (validation included); keep the best validated weights.

    Weights, optimizer state and the loss stay float32; `bf16` runs the forward pass under bfloat16 autocast
    (convolutions and matrix products in bfloat16). Inputs go in channels_last, like the model.
    Returns (steps, samples seen, CPU seconds spent, best validation mIoU).
    """
    model.to(memory_format=torch.channels_last)  # measured ~1.2x faster per step on CPU for these nets
    gen = torch.Generator().manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    checkpoints = [(k + 1) / validations for k in range(validations)]
    best, best_state, steps, samples = -1.0, None, 0, 0
    running, count = 0.0, 0
    start = time.process_time()
    model.train()
    while True:
        progress = (time.process_time() - start) / budget_s
        if (checkpoints and progress >= checkpoints[0] * 0.97) or progress >= 1.0:
            while checkpoints and progress >= checkpoints[0] * 0.97:
                checkpoints.pop(0)
            score = validate()
            model.train()
            print(
                f"    {100 * progress:3.0f} % of the budget, step {steps}: train loss "
                f"{running / max(count, 1):.4f}, val mIoU {score:.3f}",
                flush=True,
            )
            running, count = 0.0, 0
            if score > best:
                best, best_state = score, {k: v.detach().clone() for k, v in model.state_dict().items()}
            if progress >= 1.0 or not checkpoints:
                break
            continue
        for group in optimizer.param_groups:
            group["lr"] = recipe.lr * lr_factor(progress, recipe)
        x, y = next_batch(gen)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(x.contiguous(memory_format=torch.channels_last))
        loss = F.cross_entropy(out.float(), y, ignore_index=-1)  # fit's loss, in float32
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        steps += 1
        samples += len(x)
        running, count = running + float(loss.detach()), count + 1
    spent = time.process_time() - start
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return steps, samples, spent, best


@torch.no_grad()
def diagnose(model: nn.Module, scenes: DigitScenes) -> tuple[float, float]:
    """(digit-vs-background IoU, digit-class accuracy on pixels that are digits and predicted as digits)."""
    images, masks = scenes.tensors()
    pred = torch.cat([model(x).argmax(1) for x in images.split(64)])
    found, truth = pred > 0, masks > 0
    digit_iou = per_class_iou(found.long(), truth.long(), 2)[1].item()
    both = found & truth
    return digit_iou, float((pred[both] == masks[both]).double().mean()) if both.any() else float("nan")


def seg_metrics(model: nn.Module, loader: torch.utils.data.DataLoader) -> dict[str, float]:
    return evaluate(model, loader, Task.SEGMENTATION, NUM_SCENE_CLASSES)


def run_one(
    name: str,
    train: DigitScenes,
    val_loader: torch.utils.data.DataLoader,
    test_loader: torch.utils.data.DataLoader,
    args: argparse.Namespace,
) -> Result:
    seed_everything(args.seed)
    if name == "patch":
        patch = PatchClassifier(
            3, NUM_SCENE_CLASSES, args.patch_size, width=args.patch_width, hidden=args.patch_hidden
        )
        recipe = Recipe(lr=args.patch_lr, batch=args.patch_batch)
        batcher = patch_batcher(train, args.patch_size, recipe.batch, args.augment, args.digit_share)

        def validate() -> float:
            return seg_metrics(fully_convolutional(patch).eval(), val_loader)["mean_iou"]

        steps, samples, spent, best = train_budgeted(
            patch, batcher, recipe, args.budget, validate, args.validations, args.seed, args.bf16
        )
        model: nn.Module = fully_convolutional(patch).eval()
    else:
        if name == "4s":
            model = FCN4s(NUM_SCENE_CLASSES, width=args.width)
        elif name == "8s-maxpool":
            model = with_max_pooling(FCN(NUM_SCENE_CLASSES, variant="8s", width=args.width))
        else:
            model = FCN(NUM_SCENE_CLASSES, variant=name, backbone="vgg_small", width=args.width)
        recipe = Recipe(lr=args.lr, batch=args.batch)
        batcher = scene_batcher(train, recipe.batch, args.augment)

        def validate() -> float:
            return seg_metrics(model, val_loader)["mean_iou"]

        steps, samples, spent, best = train_budgeted(
            model, batcher, recipe, args.budget, validate, args.validations, args.seed, args.bf16
        )
    test = seg_metrics(model, test_loader)
    label = "patch" if name == "patch" else f"FCN-{name}"
    label += f" ({BENCH_ONLY[name]})" if name in BENCH_ONLY else ""
    digit_iou, class_accuracy = diagnose(model, test_loader.dataset)
    result = Result(
        label,
        steps,
        samples,
        spent,
        best,
        test["mean_iou"],
        test["pixel_accuracy"],
        digit_iou,
        class_accuracy,
    )
    print(
        f"{label:>8}: {steps} steps, {samples} {'patches' if name == 'patch' else 'scenes'} in "
        f"{spent:.0f} CPU-s; best val mIoU {best:.3f}; test mIoU {result.test_miou:.3f}, "
        f"pixel acc {result.test_pixel_accuracy:.3f}, digit-vs-background IoU {digit_iou:.3f}, "
        f"digit-class acc {class_accuracy:.3f}",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--variants",
        default=",".join(DEFAULT_MODELS),
        help=f"comma-separated from {ALL_MODELS}; bench-only: 4s (FCN-8s + a stride-4 skip), 8s-maxpool "
        "(FCN-8s whose backbone max-pools instead of its strided convolutions)",
    )
    parser.add_argument("--budget", type=float, default=600.0, help="process CPU-seconds per model")
    parser.add_argument("--scenes", type=int, default=30000, help="training scenes")
    parser.add_argument("--val-scenes", type=int, default=96)
    parser.add_argument("--test-scenes", type=int, default=256)
    parser.add_argument("--boldness", type=float, default=SceneConfig().boldness)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (one thread does ~35 %% more steps per CPU-second than two)",
    )
    parser.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp32"),
        default="auto",
        help="forward pass under bfloat16 autocast (auto: where the CPU runs bfloat16 natively) or float32",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--validations", type=int, default=4, help="validation passes inside the budget")
    parser.add_argument("--lr", type=float, default=2e-2, help="FCN peak learning rate (AdamW)")
    parser.add_argument("--batch", type=int, default=16, help="FCN batch size (scenes)")
    parser.add_argument("--width", type=int, default=16, help="FCN backbone width (vgg_small)")
    parser.add_argument(
        "--no-augment",
        dest="augment",
        action="store_false",
        help="no colour augmentation (channel permutation, inversion)",
    )
    parser.add_argument("--patch-size", type=int, default=25)
    parser.add_argument("--patch-width", type=int, default=32)
    parser.add_argument("--patch-hidden", type=int, default=128)
    parser.add_argument("--patch-lr", type=float, default=3e-3)
    parser.add_argument("--patch-batch", type=int, default=256, help="patches per step")
    parser.add_argument("--digit-share", type=float, default=0.5, help="share of patches centred on digits")
    parser.add_argument("--quick", action="store_true", help="smoke test: 5 CPU-s per model, few scenes")
    args = parser.parse_args()
    if args.quick:
        args.budget, args.scenes, args.val_scenes, args.test_scenes = 5.0, 64, 16, 32
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(names) - set(ALL_MODELS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {ALL_MODELS}")
    torch.set_num_threads(args.threads)
    args.bf16 = args.precision == "bf16" or (args.precision == "auto" and cpu_bf16_supported())
    config = SceneConfig(boldness=args.boldness)

    t0 = time.process_time()
    train = DigitScenes("train", args.scenes, seed=args.seed, config=config)
    val = DigitScenes("val", args.val_scenes, seed=args.seed, config=config)
    test = DigitScenes("test", args.test_scenes, seed=args.seed, config=config)
    print(
        f"{args.scenes} train / {args.val_scenes} val / {args.test_scenes} test scenes of "
        f"{config.image_size}x{config.image_size}, boldness {args.boldness:g}, generated in "
        f"{time.process_time() - t0:.0f} CPU-s (outside the budgets); budget {args.budget:g} CPU-s per "
        f"model, {torch.get_num_threads()} threads, forward in {'bfloat16' if args.bf16 else 'float32'}",
        flush=True,
    )
    val_loader, test_loader = make_loader(val, 64), make_loader(test, 64)
    results = [run_one(name, train, val_loader, test_loader, args) for name in names]

    print()
    print(
        "| model | steps | seen | train CPU-s | best val mIoU | test mIoU | test pixel acc "
        "| digit-vs-bg IoU | digit-class acc |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.name} | {r.steps} | {r.samples} | {r.train_cpu_s:.0f} | {r.best_val_miou:.3f} | "
            f"{r.test_miou:.3f} | {r.test_pixel_accuracy:.3f} | {r.digit_iou:.3f} | {r.class_accuracy:.3f} |"
        )
    by_name = {r.name: r for r in results}
    if "FCN-8s" in by_name and "FCN-32s" in by_name:
        gap = by_name["FCN-8s"].test_miou - by_name["FCN-32s"].test_miou
        print(f"FCN-8s - FCN-32s test mIoU: {gap:+.3f} (target >= +0.05)")
    if "FCN-8s" in by_name:
        print(f"FCN-8s test mIoU {by_name['FCN-8s'].test_miou:.3f} (target >= 0.80)")


if __name__ == "__main__":
    main()
