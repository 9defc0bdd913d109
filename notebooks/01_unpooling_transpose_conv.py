# %% [markdown]
# # 1. Unpooling and transpose convolution
#
# A classification network *shrinks* its input: every pooling layer or strided convolution halves
# the resolution until a single vector is left. Semantic segmentation, depth estimation, image
# generation and autoencoders need the opposite as well: from a small, coarse feature map back to
# a full-resolution image. This notebook builds the tools for that way back, from first principles:
#
# 1. **Unpooling**: fixed rules that enlarge a feature map (nearest neighbour, bed of nails, and max
#    unpooling, which remembers where the maxima came from).
# 2. **Convolution as a matrix product**: a convolution with a fixed kernel is a linear map
#    `y = X a`. Looking at the matrix `X` tells us what "transpose convolution" means.
# 3. **Transpose convolution**: first by its definition (loops), then vectorised, both checked
#    against PyTorch; the output-size formula.
# 4. **The checkerboard artefact**, and how kernel size, stride and padding cause or avoid it.
#
# **How to work.** The functions you write live in `exercise_code/layers/` (`unpooling.py`,
# `conv_matrix.py`, `transpose_conv.py`, `bilinear.py`). Each has a docstring with shapes and the
# output-size formula. Work through the notebook top to bottom; after each exercise a test cell
# checks your code. Some graded tests are hidden, so passing the visible asserts is necessary but
# not sufficient: test the corner cases yourself. At any time you can run the public checks from
# a terminal: `python -m exercise_code.checks layers`.

# %% tags=["readonly:setup_01"]
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import display

from exercise_code import layers
from exercise_code.checks import run_checks
from exercise_code.config import fast_mode
from exercise_code.utils import pick_device, rel_error, seed_everything

seed_everything(0)
device = pick_device()
FAST = fast_mode()
torch.set_printoptions(precision=3, sci_mode=False)
print(f"device: {device} | fast mode: {FAST} | torch {torch.__version__}")


# %% [markdown]
# A small helper draws a tensor as a grid of numbered squares; all figures of this notebook use it.


# %%
def show_grid(ax, values, title, fmt="{:g}", cmap="Blues", labels=None):
    """Draw a 2-D tensor as annotated squares (labels: optional array of strings to print instead)."""
    values = torch.as_tensor(values, dtype=torch.float64).squeeze()
    if values.dim() == 1:
        values = values[None]
    vmin, vmax = min(0.0, float(values.min())), float(values.abs().max()) or 1.0
    ax.imshow(values.numpy(), cmap=cmap, vmin=vmin, vmax=vmax)
    for (i, j), v in np.ndenumerate(values.numpy()):
        text = labels[i][j] if labels is not None else fmt.format(v)
        dark = (v - vmin) > 0.6 * (vmax - vmin)  # white text on dark squares
        ax.text(j, i, text, ha="center", va="center", fontsize=9, color="white" if dark else "black")
    ax.set_title(title, fontsize=10)
    ax.set_xticks(range(values.shape[1]))
    ax.set_yticks(range(values.shape[0]))
    ax.tick_params(labelsize=7)


# %% [markdown]
# ## Part 1: Unpooling
#
# Pooling throws information away: a 2x2 max pooling keeps one of four numbers. Unpooling cannot
# bring it back; it only chooses **where to put** the numbers it has. Three common choices:
#
# * **Nearest neighbour**: copy each value into its whole `s x s` block. Smooth but blocky.
# * **Bed of nails**: put each value at the top-left corner of its block, zeros elsewhere. The
#   zeros leave room for a following convolution to fill in the gaps.
# * **Max unpooling**: like bed of nails, but each value goes back to the position where the
#   matching max pooling found its maximum. The encoder passes these positions ("switches") to the
#   decoder, so fine spatial detail (where exactly was the edge?) survives the bottleneck. SegNet
#   uses exactly this.
#
# **Exercise 1.** Implement `nearest_unpool2d`, `bed_of_nails_unpool2d` and `max_unpool2d` in
# `exercise_code/layers/unpooling.py`. For `max_unpool2d`, the `indices` are flat positions inside
# each `(n, c)` plane of the *output*, exactly what `F.max_pool2d(..., return_indices=True)` returns.
# Hint: one `scatter` along a flattened spatial axis does the whole job without loops.

# %%
x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), layout="constrained")
show_grid(axes[0], x, "input 2x2")
show_grid(axes[1], layers.nearest_unpool2d(x, 2), "nearest neighbour -> 4x4")
show_grid(axes[2], layers.bed_of_nails_unpool2d(x, 2), "bed of nails -> 4x4")
fig.suptitle("Fixed unpooling rules: the same four numbers, two layouts")
plt.show()

# %% [markdown]
# Max unpooling needs a max pooling first. Below, a 4x4 feature map is pooled to 2x2; we keep the
# indices, change the pooled values (as a decoder would), and put them back where the maxima were.

# %%
fmap = torch.tensor(
    [[1.0, 6.0, 2.0, 0.0], [5.0, 3.0, 1.0, 8.0], [0.0, 2.0, 4.0, 1.0], [7.0, 1.0, 3.0, 2.0]]
).view(1, 1, 4, 4)
pooled, switches = F.max_pool2d(fmap, kernel_size=2, return_indices=True)
decoded = pooled * 10  # stand-in for whatever the decoder computed at the coarse resolution
fig, axes = plt.subplots(1, 4, figsize=(13, 3.4), layout="constrained")
show_grid(axes[0], fmap, "feature map 4x4")
show_grid(axes[1], pooled, "max pooled 2x2")
show_grid(axes[2], switches, "switches (flat indices)", cmap="Greys")
show_grid(axes[3], layers.max_unpool2d(decoded, switches, kernel_size=2), "max unpool of 10 x pooled")
fig.suptitle("Max unpooling puts each value back where its maximum was found")
plt.show()

# %% tags=["tests:unpooling:3"]
x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
expected_nearest = torch.tensor([[1.0, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]).view(1, 1, 4, 4)
expected_nails = torch.tensor([[1.0, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]]).view(1, 1, 4, 4)
torch.testing.assert_close(layers.nearest_unpool2d(x, 2), expected_nearest)
torch.testing.assert_close(layers.bed_of_nails_unpool2d(x, 2), expected_nails)
assert layers.nearest_unpool2d(torch.zeros(2, 3, 4, 5), (2, 3)).shape == (2, 3, 8, 15)

fmap = torch.tensor([[1.0, 6, 2, 0], [5, 3, 1, 8], [0, 2, 4, 1], [7, 1, 3, 2]]).view(1, 1, 4, 4)
pooled, switches = F.max_pool2d(fmap, 2, return_indices=True)
expected_max = torch.tensor([[0.0, 6, 0, 0], [0, 0, 0, 8], [0, 0, 4, 0], [7, 0, 0, 0]]).view(1, 1, 4, 4)
torch.testing.assert_close(layers.max_unpool2d(pooled, switches, 2), expected_max)
### BEGIN HIDDEN TESTS
gen = torch.Generator().manual_seed(11)
for scale in (3, (2, 4), (1, 2)):
    x = torch.randn(2, 3, 3, 4, generator=gen)
    torch.testing.assert_close(layers.nearest_unpool2d(x, scale), F.interpolate(x, scale_factor=scale))
x = torch.randperm(2 * 3 * 8 * 6, generator=gen).float().view(2, 3, 8, 6)
pooled, idx = F.max_pool2d(x, 2, return_indices=True)
torch.testing.assert_close(layers.max_unpool2d(pooled, idx, 2), F.max_unpool2d(pooled, idx, 2))
for k, s, p in ((2, 2, 0), (3, 2, 1), (3, 3, 0)):
    x = torch.randperm(2 * 3 * 9 * 8, generator=gen).float().view(2, 3, 9, 8)
    pooled, idx = F.max_pool2d(x, k, s, p, return_indices=True)
    size = (x.shape[-2], x.shape[-1])
    torch.testing.assert_close(
        layers.max_unpool2d(pooled, idx, k, s, p, output_size=size),
        F.max_unpool2d(pooled, idx, k, s, p, output_size=size),
    )
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2: Convolution is a matrix product
#
# For a fixed kernel, convolution is **linear** in its input, so it can be written as one matrix
# product `y = X a`, where `a` is the (flattened) input and every row of `X` holds a copy of the
# kernel, shifted by the stride. The lecture's 1-D example uses the kernel `[x, y, z]`, stride 2 and
# padding 1 on an input of length 4: the output has `(4 + 2*1 - 3) // 2 + 1 = 2` entries.
#
# **Exercise 2.** Implement `conv1d_as_matrix` and `conv2d_as_matrix` in
# `exercise_code/layers/conv_matrix.py`. Columns that would multiply the zero padding never see
# data, so they are dropped: `X` has one column per *real* input value.
#
# To see the structure, we build `X` for the kernel `[1, 2, 3]` and print each number as the
# letter it stands for (1 -> x, 2 -> y, 3 -> z). Because `X` is linear in the kernel, the numbers
# are just placeholders.

# %%
kernel = torch.tensor([1.0, 2.0, 3.0])
X = layers.conv1d_as_matrix(kernel, input_length=4, stride=2, padding=1)
letters = {0.0: "0", 1.0: "x", 2.0: "y", 3.0: "z"}


def as_letters(matrix):
    return [[letters[float(v)] for v in row] for row in matrix]


fig, axes = plt.subplots(1, 2, figsize=(8, 3.6), layout="constrained", width_ratios=[2, 1.2])
show_grid(axes[0], X, f"X: convolution, shape {tuple(X.shape)}", labels=as_letters(X))
show_grid(axes[1], X.T, f"X^T: transpose convolution, shape {tuple(X.T.shape)}", labels=as_letters(X.T))
for ax in axes:
    ax.set_xlabel("input position")
    ax.set_ylabel("output position")
fig.suptitle("Kernel [x, y, z], stride 2, padding 1, input length 4")
plt.show()

a = torch.tensor([1.0, -1.0, 2.0, 0.5])
print("X @ a            :", X @ a)
print("F.conv1d         :", F.conv1d(a.view(1, 1, 4), kernel.view(1, 1, 3), stride=2, padding=1).flatten())

# %% [markdown]
# ### Why "transpose" convolution multiplies by `X^T`
#
# `X` maps 4 numbers to 2; `X^T` maps 2 numbers back to 4, so it is an **upsampling** with the same
# kernel. Read `X^T` column by column: each input value `b_i` scales one copy of the kernel, and the
# copies are placed `stride` apart in the output, where they overlap and add up. That is exactly
# the "stamp the kernel" picture of transpose convolution in the lecture.
#
# There is a second reason the name is apt. In backpropagation, the gradient of a loss `L` with
# respect to the input of `y = X a` is `dL/da = X^T dL/dy`. So the backward pass of every
# convolution *is* a transpose convolution, which is also how deep-learning libraries implement it.
#
# Note what `X^T` is **not**: the inverse. `X^T X` is not the identity (see below), so a transpose
# convolution does not undo a convolution; it only restores the *shape*. The name
# "deconvolution" that you will meet in papers is therefore misleading.

# %%
b = torch.tensor([1.0, 2.0])
print("X^T @ b               :", X.T @ b)
print("F.conv_transpose1d    :", F.conv_transpose1d(
    b.view(1, 1, 2), kernel.view(1, 1, 3), stride=2, padding=1, output_padding=1
).flatten())
print("X^T X (not the identity):\n", X.T @ X)

# %% tags=["tests:conv_matrix:3"]
kernel = torch.tensor([1.0, 2.0, 3.0])
X = layers.conv1d_as_matrix(kernel, input_length=4, stride=2, padding=1)
torch.testing.assert_close(X, torch.tensor([[2.0, 3.0, 0.0, 0.0], [0.0, 1.0, 2.0, 3.0]]))

gen = torch.Generator().manual_seed(3)
w2 = torch.randn(3, 3, generator=gen)
img = torch.randn(5, 6, generator=gen)
M = layers.conv2d_as_matrix(w2, (5, 6), stride=2, padding=1)
assert M.shape == (3 * 3, 5 * 6), M.shape
torch.testing.assert_close(M @ img.flatten(), F.conv2d(img[None, None], w2[None, None], stride=2, padding=1).flatten())
### BEGIN HIDDEN TESTS
for L, K, s, p in ((9, 3, 1, 0), (10, 4, 3, 2), (7, 2, 2, 1)):
    w = torch.randn(K, generator=gen)
    M = layers.conv1d_as_matrix(w, L, stride=s, padding=p)
    v = torch.randn(L, generator=gen)
    torch.testing.assert_close(M @ v, F.conv1d(v.view(1, 1, L), w.view(1, 1, K), stride=s, padding=p).flatten())
    u = torch.randn(M.shape[0], generator=gen)
    out = F.conv_transpose1d(u.view(1, 1, -1), w.view(1, 1, K), stride=s, padding=p)
    torch.testing.assert_close((M.T @ u)[: out.shape[-1]], out.flatten())
for (H, W), (kH, kW), s, p in (((4, 4), (3, 3), 1, 1), ((6, 5), (2, 3), (2, 1), (0, 1))):
    w = torch.randn(kH, kW, generator=gen)
    v = torch.randn(H, W, generator=gen)
    M = layers.conv2d_as_matrix(w, (H, W), stride=s, padding=p)
    torch.testing.assert_close(M @ v.flatten(), F.conv2d(v[None, None], w[None, None], stride=s, padding=p).flatten())
### END HIDDEN TESTS

# %% [markdown]
# The same holds in 2-D: flatten the image row by row and every output pixel is one row of `X`,
# holding the kernel at the right places. For a 3x3 kernel on a 4x4 image (stride 1, no padding)
# the matrix is 4 x 16 and very sparse: a convolution is a matrix with a lot of structure
# (shared weights, local support), which is why it needs so few parameters.

# %%
M = layers.conv2d_as_matrix(torch.arange(1.0, 10.0).view(3, 3), (4, 4))
fig, ax = plt.subplots(figsize=(10, 3), layout="constrained")
show_grid(ax, M, "X for a 3x3 kernel (weights 1..9) on a 4x4 image: one row per output pixel", cmap="Purples")
ax.set_xlabel("input pixel (row-major index)")
ax.set_ylabel("output pixel")
plt.show()

# %% [markdown]
# ## Part 3: Transpose convolution
#
# **By its definition.** Every input pixel `x[n, c, i, j]` scales the kernel `w[c, o]` and adds the
# result into the output window whose top-left corner is `(i * stride, j * stride)`; overlapping
# windows add up. Finally `padding` *crops* that many rows and columns from every border (for a
# transpose convolution, padding removes, because it undoes the padding of the matching
# convolution). The output size is
#
# $$H_{out} = (H - 1)\cdot s - 2p + d\,(k - 1) + p_{out} + 1$$
#
# with stride `s`, padding `p`, dilation `d`, kernel size `k` and `output_padding` `p_out`.
# The `output_padding` exists because a strided convolution maps several input sizes to the same
# output size (7 and 8 both give 4 with kernel 3, stride 2, padding 1), so the transpose needs to
# be told which one to produce.
#
# **Exercise 3.** Implement `conv_transpose2d_loops` (loops over input positions, for
# understanding) and the vectorised `conv_transpose2d` (no Python loop over pixels) in
# `exercise_code/layers/transpose_conv.py`. The textbook way to vectorise: insert `stride - 1`
# zeros between neighbouring input pixels, pad the result, and run one ordinary stride-1
# convolution (`F.conv2d`) over it. Working out the padding, why the kernel must be flipped and
# how its channel axes (and `groups`) map to `F.conv2d`'s is the exercise. (Another way: one
# matrix product gives every stamp, then `F.fold` adds the overlapping stamps.) Both functions
# must equal `F.conv_transpose2d`.

# %%
gen = torch.Generator().manual_seed(0)
x = torch.randn(2, 3, 5, 6, generator=gen)
w = torch.randn(3, 4, 3, 3, generator=gen)  # (C_in, C_out, kH, kW): note the order!
bias = torch.randn(4, generator=gen)
reference = F.conv_transpose2d(x, w, bias, stride=2, padding=1)
ours_loops = layers.conv_transpose2d_loops(x, w, bias, stride=2, padding=1)
ours = layers.conv_transpose2d(x, w, bias, stride=2, padding=1)
H_out = layers.transpose_output_size(5, kernel=3, stride=2, padding=1)
print(f"output shape {tuple(reference.shape)}; formula gives H_out = {H_out}")
print(f"relative error, loops vs PyTorch     : {rel_error(ours_loops, reference):.2e}")
print(f"relative error, vectorised vs PyTorch: {rel_error(ours, reference):.2e}")

# %% [markdown]
# How much does vectorising buy? The loop version runs one small product per input pixel, so its
# cost grows with `H * W` Python iterations; the vectorised version is one call to an optimised
# convolution (which still multiplies every inserted zero: see Part 4).


# %%
def best_time(fn, *args, repeats=3, **kwargs):
    """Best wall-clock time of `fn(*args, **kwargs)` over `repeats` runs, in milliseconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best * 1e3


sizes = (8, 16) if FAST else (8, 16, 32, 64)
print(f"{'H = W':>6} {'loops ms':>10} {'vectorised ms':>14} {'PyTorch ms':>11}")
for size in sizes:
    x = torch.randn(4, 16, size, size, generator=gen)
    w = torch.randn(16, 8, 4, 4, generator=gen)
    t_loops = best_time(layers.conv_transpose2d_loops, x, w, stride=2, padding=1)
    t_vec = best_time(layers.conv_transpose2d, x, w, stride=2, padding=1)
    t_torch = best_time(F.conv_transpose2d, x, w, stride=2, padding=1)
    print(f"{size:>6} {t_loops:>10.2f} {t_vec:>14.2f} {t_torch:>11.2f}")

# %% tags=["tests:transpose_conv:4"]
gen = torch.Generator().manual_seed(5)
x = torch.randn(2, 3, 4, 5, generator=gen)
w = torch.randn(3, 2, 3, 3, generator=gen)
b = torch.randn(2, generator=gen)
for stride, padding in ((1, 0), (2, 1), ((2, 3), (1, 0))):
    expected = F.conv_transpose2d(x, w, b, stride=stride, padding=padding)
    torch.testing.assert_close(layers.conv_transpose2d_loops(x, w, b, stride=stride, padding=padding), expected)
    torch.testing.assert_close(layers.conv_transpose2d(x, w, b, stride=stride, padding=padding), expected)
expected = F.conv_transpose2d(x, w, None, stride=2, padding=1, output_padding=1)
torch.testing.assert_close(layers.conv_transpose2d(x, w, None, stride=2, padding=1, output_padding=1), expected)
assert layers.transpose_output_size(7, kernel=4, stride=2, padding=1) == 14
### BEGIN HIDDEN TESTS
for kwargs in (
    dict(stride=1, padding=2, dilation=2),
    dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2)),
    dict(stride=2, padding=1, output_padding=1, groups=3),
):
    groups = kwargs.get("groups", 1)
    wg = torch.randn(3, 6 // groups, 3, 3, generator=gen)
    torch.testing.assert_close(
        layers.conv_transpose2d(x, wg, None, **kwargs), F.conv_transpose2d(x, wg, None, **kwargs)
    )
xg = x.double().requires_grad_()
wd = w.double().requires_grad_()
assert torch.autograd.gradcheck(lambda a, k: layers.conv_transpose2d(a, k, stride=2, padding=1), (xg, wd))
### END HIDDEN TESTS

# %% [markdown]
# **Exercise 4 (in this notebook).** A decoder block should map a `16 x 16` feature map to exactly
# `32 x 32` with one transpose convolution, and every output pixel should receive the same number
# of kernel copies (no checkerboard, see Part 4). Choose `kernel_size`, `stride` and `padding`.
# Use the output-size formula; `output_padding` stays 0.

# %% tags=["solution:choose_upsampler"]
### BEGIN SOLUTION
UP_KERNEL, UP_STRIDE, UP_PADDING = 4, 2, 1
### END SOLUTION
print(f"kernel {UP_KERNEL}, stride {UP_STRIDE}, padding {UP_PADDING}")

# %% tags=["tests:upsampler:1"]
assert layers.transpose_output_size(16, UP_KERNEL, UP_STRIDE, UP_PADDING) == 32
assert UP_KERNEL % UP_STRIDE == 0, "kernel size not divisible by the stride: uneven overlap"
up = torch.nn.ConvTranspose2d(8, 8, UP_KERNEL, UP_STRIDE, UP_PADDING)
assert up(torch.zeros(1, 8, 16, 16)).shape == (1, 8, 32, 32)

# %% [markdown]
# ## Part 4: The checkerboard artefact
#
# With stride `s`, neighbouring kernel stamps start `s` pixels apart. If the kernel size `k` is
# not a multiple of `s`, some output pixels are covered by more stamps than their neighbours:
# with `k = 3, s = 2` the coverage alternates 1, 2, 1, 2, ... in each direction, so even a
# *constant* input gives a grid-patterned output. A trained network can learn to compensate, but
# in practice the pattern shows up as the familiar checkerboard in generated images
# (Odena, Dumoulin and Olah, "Deconvolution and Checkerboard Artifacts", Distill 2016).
# With `k = 4, s = 2` every interior pixel gets exactly two stamps.
#
# The coverage is itself a transpose convolution: feed an all-ones input through an all-ones
# kernel and each output pixel counts the stamps that land on it.
#
# The same pattern has a second reading. Group the output rows by their position modulo the
# stride `s`, their *phase*: with `s = 2`, the even rows form one phase and the odd rows the other.
# Output row `q * s + r` collects kernel taps `r, r + s, r + 2s, ...` from input rows `q, q - 1,
# q - 2, ...`, so each phase is an ordinary (stride-1) convolution of the input with its own
# sub-kernel, and the `s * s` phase images are interleaved into the output. With `k = 3, s = 2`
# the even phase gets taps 0 and 2 and the odd phase only tap 1: two sub-kernels of different
# sizes, hence the checkerboard. With `k = 4` both phases get two taps.


# %%
def overlap_counts(size, kernel_size, stride, padding):
    """Number of kernel stamps that cover each output pixel of a transpose convolution (2-D)."""
    ones = torch.ones(1, 1, size, size)
    return layers.conv_transpose2d(ones, torch.ones(1, 1, kernel_size, kernel_size), stride=stride, padding=padding)[0, 0]


fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), layout="constrained")
for ax, k in zip(axes, (3, 4), strict=True):
    counts = overlap_counts(5, k, 2, 1)
    show_grid(ax, counts, f"kernel {k}, stride 2, padding 1: {tuple(counts.shape)}", cmap="Oranges")
fig.suptitle("How many kernel stamps cover each output pixel (constant input, constant kernel)")
plt.show()

# %% [markdown]
# Explore it yourself: the sliders set kernel size, stride and padding of a transpose convolution
# on a 6x6 input; the figure shows the output size (from the formula) and the coverage. Which
# settings give an even coverage away from the border? (When the notebook runs without a live
# kernel, only the static figure below the sliders shows.)


# %%
def draw_overlap(kernel_size=3, stride=2, padding=0, size=6):
    """Draw the coverage map of a transpose convolution with these settings."""
    H_out = layers.transpose_output_size(size, kernel_size, stride, padding)
    fig, ax = plt.subplots(figsize=(5, 4.6), layout="constrained")
    if H_out < 1:
        ax.set_axis_off()
        ax.set_title(f"padding {padding} crops the whole output")
    else:
        counts = overlap_counts(size, kernel_size, stride, padding)
        inner = counts[kernel_size:-kernel_size, kernel_size:-kernel_size]
        even = inner.numel() > 0 and bool((inner == inner.flatten()[0]).all())
        show_grid(ax, counts, f"k={kernel_size}, s={stride}, p={padding}: {size}x{size} -> {H_out}x{H_out}", cmap="Oranges")
        ax.set_xlabel("even interior coverage" if even else "UNEVEN coverage: checkerboard")
    plt.show()


explorer = widgets.interactive(
    draw_overlap,
    kernel_size=widgets.IntSlider(value=3, min=1, max=7, description="kernel"),
    stride=widgets.IntSlider(value=2, min=1, max=4, description="stride"),
    padding=widgets.IntSlider(value=0, min=0, max=3, description="padding"),
    size=widgets.fixed(6),
)
display(explorer)
draw_overlap(4, 2, 1)  # the static figure (shows without a live kernel, e.g. in the HTML feedback)

# %% [markdown]
# The phase view is also a faster way to compute a transpose convolution than zero insertion
# (Exercise 3): zero insertion multiplies every inserted zero, `s * s` times the work needed, while
# the phases convolve the original input with sub-kernels of about `k / s` taps per side. That
# matters for FCN's x8 and x32 upsampling, which is why notebook 3's FCN upsamples with
# `torch.nn.ConvTranspose2d` (it skips the zeros too). Your `conv_transpose2d` need not do this.
#
# *Optional.* The phase view in code, for `k = 3, s = 2` and no padding: phase `(r, c)`, the output
# rows `r::2` and columns `c::2`, is an ordinary convolution of the input with the sub-kernel
# `w[..., r::2, c::2]` (flipped, for the reason you found in Exercise 3), the input padded so that
# the partial stamps at the border count.

# %%
x_small = torch.randn(1, 1, 4, 5, generator=gen)
w_small = torch.randn(1, 1, 3, 3, generator=gen)
full = F.conv_transpose2d(x_small, w_small, stride=2)  # (1, 1, 9, 11)
for r in range(2):
    for c in range(2):
        sub = w_small[:, :, r::2, c::2]  # taps r, r + 2, ... along each axis
        mh, mw = sub.shape[-2:]
        phase = F.conv2d(F.pad(x_small, (mw - 1, mw - 1, mh - 1, mh - 1)), sub.flip(-2, -1))
        torch.testing.assert_close(phase, full[:, :, r::2, c::2])
        print(f"phase {(r, c)}: a {mh}x{mw} sub-kernel gives {tuple(phase.shape[-2:])} output pixels")

# %% [markdown]
# ### Bilinear initialisation
#
# A transpose convolution can also *be* a fixed interpolation. With stride `s`, kernel `2s` and
# padding `s / 2`, the separable "tent" kernel reproduces bilinear upsampling. FCN (Part 3 of the
# course, notebook 3) starts its learnable upsampling layers from exactly this kernel, so training
# begins from a sensible upsampler and only learns corrections.
#
# **Exercise 5.** Implement `bilinear_kernel` in `exercise_code/layers/bilinear.py`.

# %%
factor = 2
kernel = layers.bilinear_kernel(1, 1, 2 * factor)
img = torch.rand(1, 1, 6, 6, generator=gen)
up_tc = F.conv_transpose2d(img, kernel, stride=factor, padding=factor // 2)
up_bi = F.interpolate(img, scale_factor=factor, mode="bilinear", align_corners=False)
inner = (slice(None), slice(None), slice(factor, -factor), slice(factor, -factor))
print(f"interior relative error vs F.interpolate: {rel_error(up_tc[inner], up_bi[inner]):.2e}")
fig, axes = plt.subplots(1, 4, figsize=(14, 3.4), layout="constrained")
show_grid(axes[0], kernel[0, 0], "bilinear kernel 4x4", fmt="{:.4f}", cmap="Greens")
for ax, image, title in zip(
    axes[1:], (img, up_tc, up_bi), ("input 6x6", "transpose conv, bilinear init", "F.interpolate bilinear"), strict=True
):
    ax.imshow(image[0, 0], cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()
fig.suptitle("A transpose convolution initialised as bilinear interpolation (borders differ)")
plt.show()

# %% tags=["tests:bilinear:2"]
k = layers.bilinear_kernel(2, 2, 4)
assert k.shape == (2, 2, 4, 4)
taps = torch.tensor([0.25, 0.75, 0.75, 0.25])
torch.testing.assert_close(k[0, 0], taps[:, None] * taps[None, :])
torch.testing.assert_close(k[0, 1], torch.zeros(4, 4))
### BEGIN HIDDEN TESTS
taps3 = torch.tensor([0.5, 1.0, 0.5])
torch.testing.assert_close(layers.bilinear_kernel(1, 1, 3)[0, 0], taps3[:, None] * taps3[None, :])
img = torch.rand(1, 3, 7, 7, generator=torch.Generator().manual_seed(9))
for s in (2, 4):
    up = F.conv_transpose2d(img, layers.bilinear_kernel(3, 3, 2 * s), stride=s, padding=s // 2)
    ref = F.interpolate(img, scale_factor=s, mode="bilinear", align_corners=False)
    torch.testing.assert_close(up[..., 2 * s : -2 * s, 2 * s : -2 * s], ref[..., 2 * s : -2 * s, 2 * s : -2 * s])
### END HIDDEN TESTS

# %% [markdown]
# ## All public checks of this notebook
#
# The cell below runs the public `layers` checks (the same as `python -m exercise_code.checks
# layers`), including the `ConvTranspose2d` and `MaxUnpool2d` modules built on your functions.

# %% tags=["tests:public_layer_checks:2"]
report = run_checks("layers")
report.show()
assert report.ok, "some public layer checks do not pass yet (see above)"

# %% [markdown]
# ## Questions (graded by hand)
#
# **Question 1.** Papers often call transpose convolution "deconvolution". In three to five
# sentences: what does a transpose convolution compute in terms of the matrix `X` of the matching
# convolution, why is it not the inverse of that convolution, and where does it appear in the
# backward pass of a network?

# %% [markdown] tags=["answer:q_transpose_vs_inverse:2"]
# ### BEGIN SOLUTION
# A convolution with a fixed kernel is a linear map `y = X a`. The transpose convolution multiplies
# by `X^T`: each input value scales a copy of the kernel, the copies are placed `stride` apart and
# overlaps are summed, so it maps the small shape back to the large one. It is not the inverse
# because `X^T X` is not the identity (and for stride > 1 `X` has fewer rows than columns, so no
# inverse exists): it restores the shape, not the values. In backpropagation the gradient with
# respect to a convolution's input is `X^T` times the output gradient, so the backward pass of every
# convolution is a transpose convolution with the same kernel.
# ### END SOLUTION

# %% [markdown]
# **Question 2.** Explain the checkerboard artefact of a transpose convolution with kernel 3 and
# stride 2, and give two different ways to avoid it in a decoder.

# %% [markdown] tags=["answer:q_checkerboard:2"]
# ### BEGIN SOLUTION
# With stride 2 the kernel stamps start two pixels apart, and a kernel of size 3 overlaps its
# neighbour by one pixel: every other output pixel is covered by two stamps, the rest by one. Even
# a constant input then gives an output that alternates in both directions, a checkerboard, and a
# network has to learn weights that cancel it exactly. Avoid it with a kernel size divisible by the
# stride (kernel 4, stride 2: even coverage), or by upsampling with a fixed rule (nearest or
# bilinear interpolation, unpooling) followed by an ordinary stride-1 convolution; initialising
# the transpose convolution as bilinear interpolation also starts it free of the pattern.
# ### END SOLUTION

# %% [markdown]
# ## Summary
#
# * Unpooling chooses where to put values; max unpooling reuses the encoder's switches.
# * A convolution is `y = X a` with a sparse, weight-shared `X`; a transpose convolution multiplies
#   by `X^T`. It restores the shape, not the values, and it is the backward pass of a convolution.
# * Output size: `(H - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1`.
# * Kernels not divisible by the stride cover pixels unevenly: checkerboards. Kernel `2s` with
#   bilinear initialisation is the FCN recipe you will use in notebook 3.
