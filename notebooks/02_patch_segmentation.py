# %% [markdown]
# # 2. Patch-based segmentation, and why it wants to be fully convolutional
#
# Semantic segmentation assigns a class to **every pixel**. The most direct way to get there with
# the tools of image classification is the sliding window of the lecture: cut a small patch around
# each pixel, classify the patch with a CNN, and write the predicted class into the centre pixel.
#
# This works, and it is the best way to understand what a segmentation network computes. It also
# has two problems that this notebook makes concrete:
#
# 1. **It is slow.** An image of `H x W` pixels needs `H * W` forward passes (thousands for the
#    small scenes used here) over patches that overlap almost entirely: neighbouring patches share
#    most of their pixels, and the network recomputes the same convolutions again and again.
# 2. **Its context is the patch.** A patch that covers part of a stroke cannot know whether the
#    stroke belongs to a 1 or a 7. Bigger patches see more, but cost more and blur the boundaries.
#
# The fix for the first problem is the key idea of fully convolutional networks: a classifier made
# of convolutions can be applied to the **whole image at once**, and its output at each position
# is exactly the classification of the patch centred there. You will check this numerically.
#
# **Your code** lives in `exercise_code/models/patch.py` (`extract_patches`, the `PatchClassifier`,
# `segment_by_patches`) and `exercise_code/models/fully_conv.py` (`fully_convolutional`).

# %% tags=["readonly:setup_02"]
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from IPython.display import display
from torch.utils.data import TensorDataset
from tqdm.auto import tqdm

from exercise_code.config import CONFIG, fast_mode
from exercise_code.data import CLASS_NAMES, NUM_SCENE_CLASSES, DigitScenes, colorize, show_scenes
from exercise_code.metrics import mean_iou, pixel_accuracy
from exercise_code.models import PatchClassifier, extract_patches, fully_convolutional, segment_by_patches
from exercise_code.training import Task, TrainConfig, fit, make_loader
from exercise_code.utils import pick_device, seed_everything

seed_everything(0)
device = pick_device()
FAST = fast_mode()
print(f"device: {device} | fast mode: {FAST} | scenes of {CONFIG.scene_size} x {CONFIG.scene_size} pixels")

# %% [markdown]
# ## The data: digit scenes
#
# Each scene holds a few handwritten digits (real MNIST digits) on a cluttered background, with a
# mask that labels every pixel: background or one of the ten digits. A digit's class is its
# **shape**, not its colour, so a classifier has to look at a region, not at a single pixel.
# Training, validation and test scenes draw their digits from disjoint pools, so test digits were
# never seen during training.

# %%
# Budgets are epochs, so a busy machine takes longer but trains the same models; `guard_s` is only a
# safety net that stops a run on a machine far slower than this notebook was made for.
if FAST:  # automatic tests and grading: just check that everything runs
    RUN = dict(train_scenes=32, val_scenes=8, patches_per_scene=32, epochs=1, guard_s=60)
elif device.type == "cuda":
    RUN = dict(train_scenes=2000, val_scenes=200, patches_per_scene=128, epochs=10, guard_s=3600)
else:
    RUN = dict(train_scenes=600, val_scenes=100, patches_per_scene=64, epochs=4, guard_s=3600)
train_scenes = DigitScenes("train", RUN["train_scenes"], seed=0)
val_scenes = DigitScenes("val", RUN["val_scenes"], seed=1)
print(f"{len(train_scenes)} training scenes, {len(val_scenes)} validation scenes, {NUM_SCENE_CLASSES} classes")
fig = show_scenes(train_scenes, 6)
fig.suptitle("Digit scenes (top) and their label masks (bottom)")
display(fig)

# %% [markdown]
# ## Part 1: One patch per pixel
#
# **Exercise 1.** Implement `extract_patches(images, patch_size)` in `exercise_code/models/patch.py`.
# It returns, for every pixel of every image, the `patch_size x patch_size` window centred on it,
# in row-major order. For an odd patch size `p`, the patch of pixel `(i, j)` covers rows
# `i - p//2 ... i + p//2`. At the border the image is continued by **reflection** (zeros would
# look like a dark frame that never occurs inside a scene). Hint: `F.pad(..., mode="reflect")`,
# then `F.unfold` does the rest.

# %%
PATCH = 17
image, mask = val_scenes[0]
patches = extract_patches(image[None], PATCH)  # one patch per pixel
print(f"one image {tuple(image.shape)} -> patches {tuple(patches.shape)}")
positions = [(10, 10), (32, 20), (40, 45), (60, 60)]
fig, axes = plt.subplots(1, len(positions) + 1, figsize=(13, 3), layout="constrained")
axes[0].imshow(image.permute(1, 2, 0))
for i, j in positions:
    axes[0].add_patch(plt.Rectangle((j - PATCH // 2 - 0.5, i - PATCH // 2 - 0.5), PATCH, PATCH, fill=False, color="w"))
axes[0].set_title("scene and four windows")
for ax, (i, j) in zip(axes[1:], positions, strict=True):
    ax.imshow(patches[i * image.shape[-1] + j].permute(1, 2, 0).clamp(0, 1))
    ax.set_title(f"pixel ({i}, {j}): {CLASS_NAMES[int(mask[i, j])]}")
for ax in axes:
    ax.set_axis_off()
fig.suptitle(f"{PATCH} x {PATCH} patches and the label of their centre pixel")
plt.show()

# %% tags=["tests:extract_patches:2"]
img = torch.arange(2 * 3 * 5 * 6, dtype=torch.float32).view(2, 3, 5, 6)
p = extract_patches(img, 3)
assert p.shape == (2 * 5 * 6, 3, 3, 3), p.shape
torch.testing.assert_close(p[1 * 6 + 2], img[0, :, 0:3, 1:4])  # pixel (1, 2) of image 0
torch.testing.assert_close(p[0, :, 0, 1:], img[0, :, 1, 0:2])  # above row 0: row 1, reflected
### BEGIN HIDDEN TESTS
torch.testing.assert_close(p[30 + 4 * 6 + 5, :, :2, :2], img[1, :, 3:5, 4:6])
torch.testing.assert_close(p[30 + 4 * 6 + 5, :, 2, 2], img[1, :, 3, 4])  # reflected corner
q = extract_patches(torch.randn(1, 1, 7, 4, generator=torch.Generator().manual_seed(0)), 5)
assert q.shape == (28, 1, 5, 5)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2: Train a patch classifier
#
# The training set for a patch classifier is a set of `(patch, centre label)` pairs. We sample a
# fixed number of random pixels per scene. Background covers most of each scene, so we sample
# digit pixels and background pixels equally often; otherwise the classifier could score well by
# answering "background" everywhere.
#
# The `PatchClassifier` is a small CNN in the classic style: two blocks of an unpadded 3x3
# convolution, ReLU and 2x2 max pooling, then two fully connected layers. Its convolutions use no
# padding, so it sees exactly its patch and nothing else. Keep that in mind; it is what makes the
# fully convolutional twin exact.


# %%
def sample_patches(scenes, per_scene, patch_size, seed=0):
    """Random (patch, centre label) pairs, half on digit pixels and half on background."""
    gen = torch.Generator().manual_seed(seed)
    half = patch_size // 2
    xs, ys = [], []
    for image, mask in tqdm(scenes, desc="sampling patches", leave=False):
        padded = F.pad(image[None], (half, half, half, half), mode="reflect")[0]  # as extract_patches
        for want_digit in (True, False):
            where = torch.nonzero((mask > 0) == want_digit)
            pick = where[torch.randint(len(where), (per_scene // 2,), generator=gen)]
            for i, j in pick.tolist():
                xs.append(padded[:, i : i + patch_size, j : j + patch_size])
                ys.append(int(mask[i, j]))
    return TensorDataset(torch.stack(xs), torch.tensor(ys))


train_patches = sample_patches(train_scenes, RUN["patches_per_scene"], PATCH, seed=0)
val_patches = sample_patches(val_scenes, RUN["patches_per_scene"], PATCH, seed=1)
print(f"{len(train_patches)} training patches, {len(val_patches)} validation patches")

# %% [markdown]
# **Exercise 2 (in this notebook).** Choose the training settings: learning rate and batch size.
# On a CPU in fast mode the run is cut short anyway; on a GPU, a good choice matters.

# %% tags=["solution:patch_hparams"]
### BEGIN SOLUTION
LEARNING_RATE = 2e-3
BATCH_SIZE = 128
### END SOLUTION

# %% tags=["tests:check_patch_hparams:1"]
assert 1e-5 <= LEARNING_RATE <= 1e-1, "a learning rate outside [1e-5, 0.1] will not train this network"
assert isinstance(BATCH_SIZE, int) and 8 <= BATCH_SIZE <= 4096

# %%
seed_everything(0)
patch_model = PatchClassifier(in_channels=3, num_classes=NUM_SCENE_CLASSES, patch_size=PATCH)
config = TrainConfig(
    task=Task.CLASSIFICATION,
    epochs=RUN["epochs"],
    lr=LEARNING_RATE,
    max_seconds=RUN["guard_s"],
    device=str(device),
)
history = fit(
    patch_model,
    make_loader(train_patches, batch_size=BATCH_SIZE, shuffle=True),
    make_loader(val_patches, batch_size=512),
    config,
)
print(f"trained {history.epochs_run} epoch(s) in {history.seconds:.1f} s on {history.device}; "
      f"validation accuracy on patches {history.val_metric[-1]:.3f}")
if history.out_of_time:
    print(f"WARNING: the {RUN['guard_s']} s safety net stopped training early: this machine is very busy "
          "or slow, so the numbers below are not the ones this notebook is about.")

# %% [markdown]
# ## Part 3: Segmentation the slow way
#
# **Exercise 3.** Implement `segment_by_patches(model, images, batch_size)`: for each image, cut
# all its patches, classify them in batches, and arrange the predicted labels as an image,
# `Tensor[N, H, W]`. The patch size is the model's own (`model.spec_kwargs["patch_size"]`). With
# `progress=True` it shows a progress bar over the images: this is the slow path.

# %%
patch_model = patch_model.to("cpu").eval()
n_slow = 1 if FAST else 4
images, masks = val_scenes.tensors()
start = time.perf_counter()
slow_pred = segment_by_patches(patch_model, images[:n_slow], batch_size=512, progress=True)
slow_seconds = (time.perf_counter() - start) / n_slow
H, W = images.shape[-2:]
print(f"{H * W} patches per image, {slow_seconds:.2f} s per image; "
      f"pixel accuracy {pixel_accuracy(slow_pred, masks[:n_slow]):.3f}")

# %% [markdown]
# ## Part 4: The fully convolutional twin
#
# Give the classifier's convolutions the whole (padded) image instead of one patch. Each
# convolution slides over the larger input, and its output at a position depends only on the input
# window that the corresponding patch would have contained. So one pass computes the features of
# **all** patches, and every intermediate feature is computed once instead of up to `p^2` times.
# Two things need care:
#
# * **Fully connected layers become convolutions.** The first `Linear(C * h * w, hidden)` looks at
#   the whole `C x h x w` feature map of a patch: it is a `Conv2d(C, hidden, kernel_size=(h, w))`
#   with the same numbers, reshaped. The following `Linear(hidden, K)` is a 1x1 convolution. This
#   is the "convolutionalisation" of Long, Shelhamer and Darrell (2015).
# * **Pooling with stride 2 would thin out the output.** Applied to a whole image, a stride-2
#   pooling moves two input pixels per step, so after two of them we would only get the
#   classification of every fourth pixel in each direction. To stay dense, each pooling runs with
#   stride 1 instead, and every later layer is **dilated** by the stride that was removed (its
#   taps are spaced 2, then 4 pixels apart), so it still combines exactly the positions that the
#   patch network combines. This is the "a trous" (with holes) trick. A stride-1 max pooling over
#   a dilated window is simply the maximum of a few shifted copies of the map: `DenseMaxPool2d`
#   (given in the same file) computes it that way, which on a CPU is much faster than
#   `nn.MaxPool2d(k, stride=1, dilation=d)` and gives the same numbers.
#
# **Exercise 4.** Implement `fully_convolutional(model)` in `exercise_code/models/fully_conv.py`:
# a module that maps images `Tensor[N, 3, H, W]` to scores `Tensor[N, K, H, W]`, with the patch
# classifier's weights (copied into the new layers).

# %%
twin = fully_convolutional(patch_model).eval()
start = time.perf_counter()
with torch.no_grad():
    dense_scores = twin(images[:n_slow])  # (N, K, H, W) in one pass
fast_seconds = (time.perf_counter() - start) / n_slow
with torch.no_grad():  # the patch classifier's own scores, patch by patch, arranged as an image
    patch_scores = patch_model(extract_patches(images[:1], PATCH)).view(1, H, W, -1).permute(0, 3, 1, 2)
fast_pred = dense_scores.argmax(1)
print(f"one pass: {fast_seconds * 1e3:.1f} ms per image, speed-up x{slow_seconds / fast_seconds:.0f}")
print(f"largest difference of the scores: {float((dense_scores[:1] - patch_scores).abs().max()):.1e}")
print(f"pixels labelled differently: {int((fast_pred != slow_pred).sum())} of {slow_pred.numel()}")

image, mask = images[0], masks[0]
fig, axes = plt.subplots(1, 4, figsize=(13, 3.4), layout="constrained")
axes[0].imshow(image.permute(1, 2, 0))
axes[1].imshow(colorize(mask))
axes[2].imshow(colorize(slow_pred[0]))
axes[3].imshow(colorize(fast_pred[0]))
titles = ("image", "ground truth", f"patch by patch ({slow_seconds:.2f} s)", f"fully convolutional ({fast_seconds * 1e3:.0f} ms)")
for ax, title in zip(axes, titles, strict=True):
    ax.set_title(title)
    ax.set_axis_off()
fig.suptitle("The same classifier, two ways to apply it: identical predictions")
plt.show()

# %% tags=["tests:fully_convolutional:3"]
seed_everything(1)
net = PatchClassifier(in_channels=3, num_classes=4, patch_size=11).double().eval()
img = torch.rand(2, 3, 14, 12, dtype=torch.float64)
with torch.no_grad():
    per_patch = net(extract_patches(img, 11)).view(2, 14, 12, 4).permute(0, 3, 1, 2)
    dense = fully_convolutional(net).eval()(img)
    labels = segment_by_patches(net, img, batch_size=50)
assert dense.shape == (2, 4, 14, 12), dense.shape
torch.testing.assert_close(dense, per_patch, rtol=1e-7, atol=1e-9)
assert labels.shape == (2, 14, 12) and labels.dtype == torch.int64
assert torch.equal(labels, per_patch.argmax(1))
### BEGIN HIDDEN TESTS
net13 = PatchClassifier(in_channels=1, num_classes=3, patch_size=13, width=4, hidden=8).double().eval()
img13 = torch.rand(1, 1, 16, 19, dtype=torch.float64)
with torch.no_grad():
    ref = net13(extract_patches(img13, 13)).view(1, 16, 19, 3).permute(0, 3, 1, 2)
    torch.testing.assert_close(fully_convolutional(net13)(img13), ref, rtol=1e-7, atol=1e-9)
    assert torch.equal(segment_by_patches(net13, img13, batch_size=7), ref.argmax(1))
### END HIDDEN TESTS

# %% [markdown]
# ### Where the speed-up comes from
#
# Both methods do work proportional to the number of pixels `H * W`. The patch-wise method does,
# per pixel, a whole forward pass over a `p x p` patch; the fully convolutional one only the work
# that is *new* at that pixel, because neighbouring patches share their features. The ratio is
# the redundancy of the sliding window, and it grows with the patch size. The table times both on
# one image for untrained classifiers of several patch sizes (timings on a busy machine are noisy).

# %%
timing_sizes = (11, 17) if FAST else (11, 17, 25, 33)
side = 32 if FAST else CONFIG.scene_size
img = torch.rand(1, 3, side, side)
print(f"{'patch':>6} {'patch by patch s':>17} {'fully conv s':>13} {'speed-up':>9}")
for size in tqdm(timing_sizes, desc="patch sizes", leave=False):
    net = PatchClassifier(in_channels=3, num_classes=NUM_SCENE_CLASSES, patch_size=size).eval()
    dense = fully_convolutional(net).eval()
    with torch.no_grad():
        start = time.perf_counter()
        segment_by_patches(net, img, batch_size=512)
        t_slow = time.perf_counter() - start
        start = time.perf_counter()
        dense(img)
        t_fast = time.perf_counter() - start
    print(f"{size:>6} {t_slow:>17.3f} {t_fast:>13.4f} {t_slow / t_fast:>9.1f}")

# %% [markdown]
# ## Part 5: Patch size is receptive field
#
# The patch classifier can only use what is inside its patch. Small patches see a piece of stroke:
# good for sharp boundaries, bad at telling digits apart. Large patches see the whole digit (and
# its neighbours), which helps recognition but smooths the boundaries and costs more. The
# experiment below trains classifiers with different patch sizes under the same budget and
# compares their segmentations. (In fast mode the budget is tiny, so the numbers are noise; run
# it on a GPU or with more time for the real picture.)

# %%
patch_sizes = (11, 17) if FAST else (11, 19, 29)
results = {}
for size in tqdm(patch_sizes, desc="patch sizes"):
    seed_everything(0)
    train_p = sample_patches(train_scenes, RUN["patches_per_scene"], size, seed=0)
    model = PatchClassifier(in_channels=3, num_classes=NUM_SCENE_CLASSES, patch_size=size)
    cfg = TrainConfig(task=Task.CLASSIFICATION, epochs=RUN["epochs"], lr=LEARNING_RATE,
                      max_seconds=RUN["guard_s"], device=str(device), progress=False)
    fit(model, make_loader(train_p, batch_size=BATCH_SIZE, shuffle=True), None, cfg)
    model = model.to("cpu").eval()
    with torch.no_grad():
        preds = fully_convolutional(model).eval()(images).argmax(1)
    results[size] = (preds, pixel_accuracy(preds, masks), mean_iou(preds, masks, NUM_SCENE_CLASSES))
    print(f"patch {size:>2}: pixel accuracy {results[size][1]:.3f}, mean IoU {results[size][2]:.3f}")

fig, axes = plt.subplots(2, len(patch_sizes) + 2, figsize=(3 * (len(patch_sizes) + 2), 6), layout="constrained")
for row in range(2):
    image, mask = val_scenes[row]
    axes[row, 0].imshow(image.permute(1, 2, 0))
    axes[row, 1].imshow(colorize(mask))
    for col, size in enumerate(patch_sizes, start=2):
        axes[row, col].imshow(colorize(results[size][0][row]))
        axes[row, col].set_title(f"patch {size}: mIoU {results[size][2]:.2f}", fontsize=9)
    axes[row, 0].set_title("image", fontsize=9)
    axes[row, 1].set_title("ground truth", fontsize=9)
for ax in axes.flat:
    ax.set_axis_off()
fig.suptitle("What the patch (receptive field) size does to the segmentation")
plt.show()

# %%
# The public checks of this notebook, as `python -m exercise_code.checks patches` runs them (ungraded: the
# grader runs more, hidden, tests). A TODO line names the function still to write.
from exercise_code.checks import run_checks

run_checks("patches")

# %% [markdown]
# ## Questions (graded by hand)
#
# **Question 1.** Suppose you convert the patch classifier naively: keep both stride-2 poolings
# and turn the fully connected layers into convolutions. What would the network output for a
# (padded) scene of `64 x 64` pixels, and how does that relate to the patch-wise segmentation? Your
# `fully_convolutional` avoids this with stride-1 pooling and dilated layers: what does that cost,
# and what do FCNs (next notebook) do instead?

# %% [markdown] tags=["answer:q_pooling_twin:2"]
# ### BEGIN SOLUTION
# With the strides kept, every output step moves four input pixels, so the naive twin returns a
# 16 x 16 score map: the patch classifications of every fourth pixel in each direction, exactly
# equal to the patch-wise results there, and nothing for the pixels in between. The dilated
# version computes all H x W classifications, but every layer after a pooling now runs at full
# resolution instead of 1/4 or 1/16 of it, so it costs more compute and memory than the strided
# network (still far less than patch by patch, since features are shared). FCNs keep the strides
# (cheap, large receptive field) and upsample the coarse score map with learned transpose
# convolutions, adding finer-resolution scores through skip connections.
# ### END SOLUTION

# %% [markdown]
# **Question 2.** Why are small patches worse at telling digits apart, and why can large patches
# make the boundaries worse? What does a fully convolutional network with skip connections
# (next notebook) do about this trade-off?

# %% [markdown] tags=["answer:q_patch_size:2"]
# ### BEGIN SOLUTION
# A classifier only sees its patch: a small patch around a stroke pixel of a 7 can look just like a
# piece of a 1, so the class (which depends on the whole shape) is ambiguous. A large patch sees
# the whole digit, but neighbouring pixels then share almost all of their input, so the prediction
# changes slowly across a boundary and thin background gaps get swallowed; large patches also
# cost more per pixel. An FCN with skip connections combines both: deep, coarse layers with a large
# receptive field decide *what* is there, and shallow, fine layers passed through skip connections
# decide *where* the boundary is.
# ### END SOLUTION

# %% [markdown]
# ## Summary
#
# * Sliding-window segmentation = one classification per pixel; correct, but it recomputes shared
#   features up to `p^2` times.
# * A classifier made of convolutions applied to the whole image computes all patch
#   classifications in one pass, with the same weights: the fully convolutional network.
#   Fully connected layers become convolutions; stride-1 pooling and dilation keep it dense.
# * The receptive field (here: the patch size) decides how much context each prediction has.
