# %% [markdown]
# # 3. Fully convolutional networks (FCN-32s, FCN-16s, FCN-8s)
#
# The previous notebook showed that a convolutional classifier applied to a whole image computes
# every patch classification at once. A real segmentation network goes one step further. Its
# backbone is a deep classification network that **downsamples** (pooling, strides) to build a large
# receptive field cheaply, and the coarse score map is **upsampled** back to the input size with the
# transpose convolutions of notebook 1. Long, Shelhamer and Darrell (2015) called this a fully
# convolutional network (FCN) and introduced three variants:
#
# | variant | scores are fused down to stride | uses features at strides |
# |---|---|---|
# | FCN-32s | 32 | 32 |
# | FCN-16s | 16 | 32 and 16 (one *skip connection*) |
# | FCN-8s  | 8  | 32, 16 and 8 (two skip connections) |
#
# Deep features know *what* is in the image but have lost *where* exactly; shallow features are
# precise but have seen little context. Skip connections add the two: each finer feature map gets
# its own 1x1 score layer, and its scores are added to the upsampled coarser scores. Two details
# from the paper make training start well: every upsampling layer is initialised as **bilinear
# interpolation** (notebook 1, `bilinear_kernel`), and the score layers of the skips start at
# **zero**, so at initialisation FCN-16s and FCN-8s ignore their skips and training only adds the
# detail that helps.
#
# **Your code** lives in `exercise_code/models/fcn.py` (the `FCN` model: backbone, score layers,
# skip fusion, upsampling). This notebook trains it on the digit scenes and saves the model you
# submit. It trains on a GPU when there is one; on a CPU it picks a smaller configuration.

# %% tags=["readonly:setup_03"]
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display
from matplotlib_inline.backend_inline import set_matplotlib_formats
from tqdm.auto import tqdm

from exercise_code.config import CONFIG, fast_mode
from exercise_code.data import CLASS_NAMES, NUM_SCENE_CLASSES, DigitScenes, colorize, show_scenes
from exercise_code.layers import bilinear_kernel
from exercise_code.metrics import confusion_matrix, mean_iou, per_class_iou, pixel_accuracy
from exercise_code.models import FCN, build_model, model_spec
from exercise_code.training import (
    Optimizer,
    Schedule,
    Task,
    TrainConfig,
    check_limits,
    fit,
    load_checkpoint,
    make_loader,
    model_size,
    planned_steps,
    predict,
    save_checkpoint,
)
from exercise_code.utils import pick_device, seed_everything

set_matplotlib_formats("png")  # show the Figure objects that the kit's plotting functions return
seed_everything(0)
device = pick_device()
FAST = fast_mode()
print(f"device: {device} | fast mode: {FAST}")

# %% [markdown]
# ## Settings that follow the hardware
#
# One dictionary holds everything that depends on where the notebook runs. On a GPU we train on
# many scenes for many epochs; on a CPU a smaller run still gives a useful model in about ten
# minutes; in fast mode (automatic tests and grading) the notebook only checks that everything
# runs, on a few small scenes.
#
# The training budgets are epochs: a fixed amount of work from a fixed seed, so a busy machine takes
# longer but ends with the same model as an idle one. `guard_s` is only a safety net: a run that
# takes longer than that many seconds, far more than it needs, stops early and says so. The scenes
# are drawn once (a progress bar shows how far) and, outside fast mode, kept in a cache for the next run.

# %%
if FAST:
    RUN = dict(size=32, train=24, val=8, epochs=1, compare_epochs=1, guard_s=60, batch=8, width=8, cache=False)
elif device.type == "cuda":
    RUN = dict(size=CONFIG.scene_size, train=3000, val=300, epochs=60, compare_epochs=60, guard_s=3600,
               batch=64, width=24, cache=True)
else:
    RUN = dict(size=CONFIG.scene_size, train=5000, val=150, epochs=16, compare_epochs=4, guard_s=3600,
               batch=16, width=16, cache=True)
print("run settings:", RUN)

train_set = DigitScenes("train", RUN["train"], image_size=RUN["size"], seed=0, cache=RUN["cache"], progress=True)
val_set = DigitScenes("val", RUN["val"], image_size=RUN["size"], seed=0, cache=RUN["cache"], progress=True)
train_loader = make_loader(train_set, batch_size=RUN["batch"], shuffle=True)
val_loader = make_loader(val_set, batch_size=RUN["batch"])
fig = show_scenes(val_set, 5)
fig.suptitle("Validation scenes: their digits come from a pool never used for training")
display(fig)

# %% [markdown]
# ## Part 1: Build the three variants
#
# **Exercise 1.** Complete `FCN` in `exercise_code/models/fcn.py`. `FCN(num_classes, variant)` maps
# `Tensor[N, 3, H, W]` to class scores `Tensor[N, K, H, W]` for any `H, W`, initialises every
# upsampling transpose convolution with `bilinear_kernel`, and initialises the skip score layers
# with zeros. The cell below builds all three variants and prints their size and output shape.

# %%
print(f"{'variant':>8} {'parameters':>11} {'MiB':>6}  output for a {CONFIG.scene_size}x{CONFIG.scene_size} scene")
for variant in ("32s", "16s", "8s"):
    model = FCN(NUM_SCENE_CLASSES, variant=variant, width=RUN["width"])
    size = model_size(model)
    with torch.no_grad():
        out = model.eval()(torch.zeros(2, 3, CONFIG.scene_size, CONFIG.scene_size))
    print(f"{'FCN-' + variant:>8} {size.parameters:>11,} {size.megabytes:>6.2f}  {tuple(out.shape)}")

# %% [markdown]
# Perhaps surprisingly, FCN-32s has the most parameters: its single upsampling layer has a
# `64 x 64` kernel for every pair of classes (kernel `2s` for stride `s = 32`), while FCN-8s
# upsamples in steps of 2, 2 and 8 with much smaller kernels.

# %% tags=["tests:fcn_shapes:3"]
seed_everything(0)
for variant in ("32s", "16s", "8s"):
    net = FCN(5, variant=variant, width=4, head_channels=16).eval()
    with torch.no_grad():
        assert net(torch.rand(2, 3, 64, 96)).shape == (2, 5, 64, 96), variant
        assert net(torch.rand(1, 3, 40, 50)).shape == (1, 5, 40, 50), variant  # not a multiple of 32
spec = model_spec(FCN(5, variant="8s", width=4, head_channels=16))
assert spec["name"] == "FCN" and spec["kwargs"]["variant"] == "8s"
rebuilt = build_model(spec)
assert sum(p.numel() for p in rebuilt.parameters()) == sum(p.numel() for p in net.parameters())
### BEGIN HIDDEN TESTS
with torch.no_grad():
    assert FCN(3, variant="16s", width=4, head_channels=8).eval()(torch.rand(1, 3, 32, 32)).shape == (1, 3, 32, 32)
    x = torch.rand(1, 3, 64, 64)
    a = FCN(3, variant="8s", width=4, head_channels=8).eval()
    assert torch.isfinite(a(x)).all()
### END HIDDEN TESTS

# %% [markdown]
# Every upsampling layer should start as bilinear interpolation: the test checks each transpose
# convolution of an FCN-8s against `bilinear_kernel` of its own size.

# %% tags=["tests:fcn_bilinear_init:2"]
seed_everything(0)
fcn8 = FCN(4, variant="8s", width=4, head_channels=16)
ups = [m for m in fcn8.modules() if type(m).__name__ == "ConvTranspose2d"]
assert len(ups) >= 3, f"FCN-8s upsamples three times (x2, x2, x8), found {len(ups)} transpose convolutions"
for up in ups:
    c_in, c_out, k, _ = up.weight.shape
    torch.testing.assert_close(up.weight.detach(), bilinear_kernel(c_in, c_out, k))
factors = sorted(int(up.stride[0]) for up in ups)
assert factors == [2, 2, 8], factors

# %% [markdown]
# ## Part 2: Train
#
# **Exercise 2 (in this notebook).** Pick the variant you will submit, the learning rate and the
# weight decay. The training loop (`exercise_code.training.fit`) handles the device, mixed
# precision on CUDA, progress bars, and keeps the weights of the best validation epoch. It uses
# AdamW with a one-cycle schedule below: the learning rate warms up to `LEARNING_RATE`, then decays
# to almost zero by the last step of the run.

# %% tags=["solution:fcn_choice"]
### BEGIN SOLUTION
VARIANT = "8s"
LEARNING_RATE = 1e-2
WEIGHT_DECAY = 1e-4
### END SOLUTION

# %% tags=["tests:check_fcn_choice:1"]
assert VARIANT in ("32s", "16s", "8s")
assert 1e-5 <= LEARNING_RATE <= 1e-1
assert 0 <= WEIGHT_DECAY <= 1e-1


# %%
def train_fcn(variant, epochs, progress=True, val=val_loader):
    """A fresh FCN of `variant`, trained for `epochs` with this notebook's settings; returns (model, history).
    Says so when the safety net, not the epochs, ended the run."""
    seed_everything(0)
    net = FCN(NUM_SCENE_CLASSES, variant=variant, width=RUN["width"])
    config = TrainConfig(
        task=Task.SEGMENTATION,
        epochs=epochs,
        lr=LEARNING_RATE,
        weight_decay=WEIGHT_DECAY,
        optimizer=Optimizer.ADAMW,
        scheduler=Schedule.ONECYCLE,
        max_seconds=RUN["guard_s"],
        progress=progress,
        cpu_bf16=True,  # bfloat16 on a CPU that runs it natively (ignored on a GPU and elsewhere)
    )
    history = fit(net, train_loader, val, config)
    if history.out_of_time:
        print(f"WARNING: the {RUN['guard_s']} s safety net stopped FCN-{variant} after {history.steps} of "
              f"{planned_steps(config, len(train_loader))} steps. This machine is very busy or slow, so its "
              "numbers are not the ones this notebook is about; run it again when the machine is quieter.")
    return net, history


model, history = train_fcn(VARIANT, RUN["epochs"])
print(f"{history.epochs_run} epoch(s) in {history.seconds:.0f} s on {history.device}; best epoch {history.best_epoch + 1}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
epochs = np.arange(1, history.epochs_run + 1)
axes[0].plot(epochs, history.train_loss, "o-", label="train")
axes[0].plot(epochs, history.val_loss, "s-", label="validation")
axes[0].set_xlabel("epoch")
axes[0].set_ylabel("cross-entropy")
axes[0].set_title("Loss")
axes[0].legend()
axes[1].plot(epochs, history.val_metric, "s-", color="tab:green")
axes[1].set_xlabel("epoch")
axes[1].set_ylabel("pixel accuracy")
axes[1].set_title("Validation pixel accuracy")
fig.suptitle(f"Training FCN-{VARIANT}")
plt.show()

# %% [markdown]
# ## Part 3: Pixel accuracy and mean IoU
#
# **Pixel accuracy** is the share of pixels labelled correctly. The **intersection over union**
# (IoU) of a class is `|pred ∩ truth| / |pred ∪ truth|` over the pixels of that class; **mean IoU**
# averages it over classes. They answer different questions. Background covers most pixels of a
# scene, so a model that paints everything as background already has a high pixel accuracy, while
# its mean IoU is tiny: every digit class has IoU 0. Mean IoU weighs every class equally, so rare
# classes and thin structures count as much as the background, and it punishes false positives
# too (they enlarge the union). The cell below shows both on the validation set.

# %%
images, masks = val_set.tensors()
pred = predict(model, images, device=str(device)).argmax(1)
model = model.to("cpu")
background_only = torch.zeros_like(masks)
print(f"{'predictor':>28} {'pixel acc':>10} {'mean IoU':>9}")
for name, p in (("trained FCN-" + VARIANT, pred), ("'everything is background'", background_only)):
    print(f"{name:>28} {pixel_accuracy(p, masks):>10.3f} {mean_iou(p, masks, NUM_SCENE_CLASSES):>9.3f}")
print(f"background share of the validation pixels: {float((masks == 0).float().mean()):.2f}")

cm = confusion_matrix(pred, masks, NUM_SCENE_CLASSES).double()
cm_rows = cm / cm.sum(1, keepdim=True).clamp_min(1)
ious = per_class_iou(pred, masks, NUM_SCENE_CLASSES)
fig, axes = plt.subplots(1, 2, figsize=(13, 5), layout="constrained", width_ratios=[1.1, 1])
im = axes[0].imshow(cm_rows.numpy(), cmap="Blues", vmin=0, vmax=1)
axes[0].set_xticks(range(NUM_SCENE_CLASSES), CLASS_NAMES, rotation=45, fontsize=8)
axes[0].set_yticks(range(NUM_SCENE_CLASSES), CLASS_NAMES, fontsize=8)
axes[0].set_xlabel("predicted class")
axes[0].set_ylabel("true class")
axes[0].set_title("Confusion matrix (each row sums to 1)")
fig.colorbar(im, ax=axes[0], shrink=0.8)
axes[1].bar(CLASS_NAMES, np.nan_to_num(ious.numpy()), color="tab:blue")
axes[1].set_ylim(0, 1)
axes[1].set_xlabel("class")
axes[1].set_ylabel("IoU")
axes[1].tick_params(axis="x", rotation=45)
axes[1].set_title(f"Per-class IoU (mean {mean_iou(pred, masks, NUM_SCENE_CLASSES):.3f})")
fig.suptitle(f"FCN-{VARIANT} on the validation scenes")
plt.show()


# %%
def overlay(image, labels, alpha=0.75):
    """A grey version of the image with the class colours of `labels` blended in (background stays grey)."""
    grey = image.mean(0, keepdim=True).permute(1, 2, 0).expand(-1, -1, 3)  # (H, W, 3)
    colours = colorize(labels).float() / 255
    blend = (1 - alpha) * grey + alpha * colours
    return torch.where((labels > 0)[..., None], blend, grey).clamp(0, 1)


n_show = min(6, len(images))
fig, axes = plt.subplots(3, n_show, figsize=(2.2 * n_show, 6.8), layout="constrained", squeeze=False)
for col in range(n_show):
    axes[0, col].imshow(images[col].permute(1, 2, 0))
    axes[1, col].imshow(overlay(images[col], masks[col]))
    axes[2, col].imshow(overlay(images[col], pred[col]))
for row, title in enumerate(("image", "ground truth", "prediction")):
    axes[row, 0].set_title(title, loc="left", fontsize=9)
for ax in axes.flat:
    ax.set_axis_off()
fig.suptitle(f"FCN-{VARIANT}: predictions overlaid on validation scenes")
plt.show()

# %% [markdown]
# ## Part 4: What the skip connections buy
#
# Train FCN-32s and FCN-8s with the same budget and compare. Expect FCN-32s to find the digits but
# paint them as blobs (its scores live on a grid 32 times coarser than the scene: 2 x 2 for 64 x 64
# pixels!), and
# FCN-8s to follow the strokes much better. (In fast mode both runs take three steps, so the numbers
# mean nothing; on a GPU the difference is large.)

# %%
compare = {}
for variant in tqdm(("32s", "8s"), desc="variants"):
    net, _ = train_fcn(variant, RUN["compare_epochs"], progress=False, val=None)
    p = predict(net, images, device=str(device)).argmax(1)
    compare[variant] = p
    print(f"FCN-{variant}: pixel accuracy {pixel_accuracy(p, masks):.3f}, mean IoU {mean_iou(p, masks, NUM_SCENE_CLASSES):.3f}")

fig, axes = plt.subplots(2, 4, figsize=(11, 5.8), layout="constrained")
for row in range(2):
    axes[row, 0].imshow(images[row].permute(1, 2, 0))
    for col, (title, m) in enumerate((("ground truth", masks), ("FCN-32s", compare["32s"]), ("FCN-8s", compare["8s"])), 1):
        axes[row, col].imshow(colorize(m[row]))
        axes[row, col].set_title(title, fontsize=9)
    axes[row, 0].set_title("image", fontsize=9)
for ax in axes.flat:
    ax.set_axis_off()
fig.suptitle("Skip connections put the boundaries back")
plt.show()

# %% [markdown]
# ## Part 5: Save the model you submit
#
# A submission holds each model as a `state_dict` (`models/<name>.pt`) plus a JSON description of
# how to rebuild it (`models/<name>.json`), never a pickled module. The grader rebuilds your model
# from your own `exercise_code`, loads the weights with `weights_only=True`, and runs it on hidden
# scenes. The limits and the points scale come from the assignment config:

# %%
limits = CONFIG.segmentation_limits
scale = CONFIG.segmentation_miou
print(f"limits: at most {limits.max_parameters:,} parameters and {limits.max_file_mb:g} MiB for the weights file")
print(f"quality: mean IoU on {CONFIG.hidden_scenes} hidden {CONFIG.scene_size}x{CONFIG.scene_size} scenes; "
      f"{scale.floor:.2f} earns nothing, {scale.target:.2f} or more earns all of these points (linear in between)")
val_miou = mean_iou(pred, masks, NUM_SCENE_CLASSES)
print(f"your validation mean IoU {val_miou:.3f} -> about {100 * scale.fraction(val_miou):.0f} % of the quality points")


# %%
def models_dir() -> Path:
    """`models/` of the kit (run from the kit's `notebooks/` folder); a temporary folder in fast mode."""
    if FAST:
        return Path(tempfile.mkdtemp(prefix="models-"))
    for folder in (Path.cwd(), Path.cwd().parent):
        if (folder / "exercise_code").is_dir():
            return folder / "models"
    return Path.cwd() / "models"


MODELS = models_dir()
name = "segmentation"
assert name in CONFIG.model_names
weights, spec_file = save_checkpoint(model, MODELS / name, extra={"val_mean_iou": round(val_miou, 4)})
size = model_size(model)
print(f"saved {weights} ({size.megabytes:.2f} MiB) and {spec_file.name}: {size.parameters:,} parameters")
problems = check_limits(model, limits)
print("within the limits" if not problems else "OVER THE LIMITS: " + "; ".join(problems))
reloaded = load_checkpoint(MODELS / name).eval()
with torch.no_grad():
    torch.testing.assert_close(reloaded(images[:2]), model.eval()(images[:2]))
print("rebuilt from the JSON spec and the state_dict: identical outputs")

# %%
# The public checks of this notebook, as `python -m exercise_code.checks fcn models` runs them (ungraded:
# the grader runs more, hidden, tests); `models` checks the files in the kit's models/ folder (fast mode
# saves to a temporary folder instead, so it is left out then).
from exercise_code.checks import run_checks

run_checks("fcn", *(() if FAST else ("models",)), root=MODELS.parent)

# %% [markdown]
# ## Questions (graded by hand)
#
# **Question 1.** Your model's pixel accuracy is much higher than its mean IoU. Explain why, and
# say which of the two you would report for a dataset where one class covers 90 % of the pixels.

# %% [markdown] tags=["answer:q_accuracy_vs_iou:2"]
# ### BEGIN SOLUTION
# Pixel accuracy counts pixels, so it is dominated by the background, which covers most of each
# scene: a model that gets the background right and the digits half wrong still scores high. Mean
# IoU computes intersection over union per class and averages over classes, so each digit class
# weighs as much as the background, and IoU also punishes false positives (they enlarge the union),
# which accuracy per pixel of the class does not. With a 90 % class, predicting only that class
# gives 90 % pixel accuracy and a mean IoU near 1/K; mean IoU (or per-class IoU) is the honest number.
# ### END SOLUTION

# %% [markdown]
# **Question 2.** Why does FCN initialise the upsampling layers as bilinear interpolation and the
# skip score layers with zeros? What would go wrong with a random initialisation?

# %% [markdown] tags=["answer:q_fcn_init:2"]
# ### BEGIN SOLUTION
# With bilinear weights the network starts with a sensible upsampler, so the coarse scores are
# interpolated smoothly and gradients reach the backbone through a well-behaved path; training
# only needs to learn corrections. Zero skip scores make FCN-16s/8s start as a pure coarse-to-fine
# upsampling of the stride-32 scores, so the extra paths cannot hurt at the start and grow only
# where they reduce the loss. Random transpose kernels instead produce noisy, checkerboard-patterned
# outputs and noisy gradients; randomly weighted skips add unscaled shallow features to the scores,
# which slows down or destabilises training.
# ### END SOLUTION

# %% [markdown]
# **Question 3.** Compare the FCN-32s and FCN-8s predictions of Part 4. Where do they differ, and
# why does adding scores from the stride-8 features help there?

# %% [markdown] tags=["answer:q_skips:2"]
# ### BEGIN SOLUTION
# FCN-32s predicts on a grid 32 times coarser than the image and interpolates: it usually finds
# the right digit class but paints round blobs, misses thin strokes and merges nearby digits.
# FCN-8s adds scores computed from stride-16 and stride-8 features, which still know where edges
# are, so its boundaries follow the strokes and small or thin parts survive. The deep path still
# decides which digit it is (large receptive field); the skips mainly fix where the boundary is.
# ### END SOLUTION

# %% [markdown]
# ## Summary
#
# * An FCN = a downsampling backbone + 1x1 score layers + learned upsampling back to the input size.
# * Skip connections fuse coarse "what" with fine "where"; bilinear and zero initialisation make
#   the variants start from a sensible point.
# * Report mean IoU, not only pixel accuracy, when one class dominates the pixels.
# * Submit models as `state_dict` + JSON spec; the limits and the points scale come from `CONFIG`.
