# %% [markdown]
# # 4. Autoencoders: compression, PCA, and learning from unlabelled data
#
# An autoencoder is trained to reproduce its input through a narrow **bottleneck**: an encoder
# maps a 28 x 28 digit (784 numbers) to a short code `z` of a few dozen numbers, and a decoder maps
# `z` back to an image. The loss is the reconstruction error; no labels are needed. To reconstruct
# well through so few numbers, the network has to discover what varies between digits: stroke
# shape, slant, thickness. The decoder uses the upsampling layers of notebook 1.
#
# This notebook asks four questions:
#
# 1. How does a (nonlinear, convolutional) autoencoder compare with **PCA**, the classic linear
#    compression, at the same code size?
# 2. What does a **linear** autoencoder learn? (Answer: PCA's subspace, but not PCA's axes.)
# 3. What does the code space look like? A 2-D code can be drawn, and walked through with sliders.
# 4. Can unlabelled data help a classifier that has only a few labels? **Pretrain** the encoder as
#    an autoencoder on all digits, then **fine-tune** it with a handful of labels per class.
#
# **Your code** lives in `exercise_code/models/autoencoders.py` (encoder, decoder, the autoencoders,
# the classifier on a pretrained encoder) and `exercise_code/models/pca.py` (`pca`, `principal_angles`).

# %% tags=["readonly:setup_04"]
import math
import tempfile
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import display
from matplotlib_inline.backend_inline import set_matplotlib_formats
from torch.utils.data import TensorDataset
from tqdm.auto import tqdm

from exercise_code.config import CONFIG, fast_mode
from exercise_code.data import Digits
from exercise_code.metrics import accuracy, reconstruction_mse
from exercise_code.models import (
    PCA,
    Autoencoder,
    Classifier,
    ConvAutoencoder,
    Encoder,
    LinearAutoencoder,
    model_spec,
    pca,
    principal_angles,
)
from exercise_code.training import (
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
# ## Settings and data
#
# The digits are real MNIST digits in three disjoint pools (train, val, test). The rules of the
# assignment (code size, number of labels, limits, points scales) come from the assignment config.
#
# Every training run below does a fixed amount of work: a number of epochs (or, for the linear
# autoencoder, of optimizer steps), from a fixed seed. A busy machine takes longer but ends with the
# same model as an idle one, so the figures do not depend on what else your computer is doing.
# `guard_s` is only a safety net: a run that takes longer than that many seconds, far more than it
# needs, stops early and says so, and its numbers are then not the ones this notebook is about.

# %%
if FAST:
    RUN = dict(train=512, epochs=1, linear_steps=300, guard_s=60, pca_sizes=(2, 20), ae_sizes=(20,), batch=128)
elif device.type == "cuda":
    RUN = dict(train=None, epochs=60, linear_steps=1200, guard_s=1800, pca_sizes=(2, 5, 10, 20, 50), ae_sizes=(2, 5, 10, 20, 50), batch=128)
else:
    RUN = dict(train=None, epochs=25, linear_steps=1200, guard_s=1800, pca_sizes=(2, 5, 10, 20, 50), ae_sizes=(5, 20), batch=128)
print("run settings:", RUN)
print(f"code size of the submitted autoencoder: {CONFIG.latent_dim}; "
      f"labelled digits per class in Part 5: {CONFIG.labels_per_class}")

x_train, y_train = Digits("train").tensors()
x_val, y_val = Digits("val").tensors()
if RUN["train"]:
    x_train, y_train = x_train[: RUN["train"]], y_train[: RUN["train"]]
print(f"{len(x_train)} training digits, {len(x_val)} validation digits, each {tuple(x_train.shape[1:])}")
train_loader = make_loader(TensorDataset(x_train, y_train), batch_size=RUN["batch"], shuffle=True)
val_loader = make_loader(TensorDataset(x_val, y_val), batch_size=512)


def train(model, task=Task.RECONSTRUCTION, loader=train_loader, val=val_loader, lr=2e-3, epochs=None, steps=None,
          schedule=Schedule.NONE, progress=True):
    """Train `model` for `epochs` (default: the notebook's) or exactly `steps` optimizer steps; returns the
    History (the model ends on the CPU). Says so when the safety net, not the budget, ended the run."""
    epochs = math.ceil(steps / len(loader)) if steps is not None else epochs or RUN["epochs"]
    config = TrainConfig(task=task, epochs=epochs, max_steps=steps, lr=lr, scheduler=schedule,
                         max_seconds=RUN["guard_s"], progress=progress)
    history = fit(model, loader, val, config)
    if history.out_of_time:
        print(f"WARNING: the {RUN['guard_s']} s safety net stopped this run after {history.steps} of "
              f"{planned_steps(config, len(loader))} steps. This machine is very busy or slow, so the "
              "numbers below are not the ones this notebook is about; run it again when the machine is quieter.")
    model.to("cpu").eval()
    return history


def show_digits(rows, title, n=8):
    """One row of `n` digits per entry of `rows` ({label: Tensor[N, 1, 28, 28]})."""
    fig, axes = plt.subplots(len(rows), n, figsize=(1.3 * n, 1.45 * len(rows)), layout="constrained", squeeze=False)
    for r, (label, images) in enumerate(rows.items()):
        for c in range(n):
            axes[r, c].imshow(images[c, 0].detach(), cmap="gray", vmin=0, vmax=1)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title)
    plt.show()


# %% [markdown]
# ## Part 1: PCA, the linear baseline
#
# PCA finds the `k` orthogonal directions of largest variance of the (centred) data; projecting onto
# them and back is the best **linear** rank-`k` reconstruction in squared error (Eckart and Young).
#
# **Exercise 1.** Implement `pca(x, k)` in `exercise_code/models/pca.py`: the mean, the top-`k`
# principal directions (orthonormal rows) and their variances, from an SVD of the centred data.

#
# The principal directions are nested: the top `k` are the first `k` of the top 50. So one
# decomposition serves every `k` below (`first_k` keeps the first `k` directions).

# %%
full = pca(x_train, max(*RUN["pca_sizes"], CONFIG.latent_dim, 8))
total_variance = float(x_train.flatten(1).var(0).sum())


def first_k(k):
    """The PCA with the top-k directions, cut from the full decomposition."""
    return PCA(full.mean, full.components[:k], full.explained_variance[:k])


pca_mse = {}
for k in RUN["pca_sizes"]:
    fitted = first_k(k)
    pca_mse[k] = reconstruction_mse(fitted.reconstruct(x_val), x_val)
    share = float(fitted.explained_variance.sum()) / total_variance
    print(f"PCA with k = {k:>2}: validation MSE {pca_mse[k]:.4f}, explains {100 * share:.0f} % of the training variance")

top = first_k(8)
fig, axes = plt.subplots(1, 9, figsize=(12, 1.9), layout="constrained")
axes[0].imshow(top.mean.view(28, 28), cmap="gray")
axes[0].set_title("mean", fontsize=9)
scale = float(top.components.abs().max())
for i, ax in enumerate(axes[1:]):
    ax.imshow(top.components[i].view(28, 28), cmap="RdBu", vmin=-scale, vmax=scale)
    ax.set_title(f"direction {i + 1}", fontsize=9)
for ax in axes:
    ax.set_axis_off()
fig.suptitle("The mean digit and the first 8 principal directions (red < 0 < blue)")
plt.show()

# %% tags=["tests:pca:2"]
gen = torch.Generator().manual_seed(0)
data = torch.randn(400, 3, generator=gen) * torch.tensor([5.0, 2.0, 0.5])  # variances along the axes
fitted = pca(data, 2)
assert fitted.components.shape == (2, 3) and fitted.mean.shape == (3,)
torch.testing.assert_close(fitted.components @ fitted.components.T, torch.eye(2), atol=1e-5, rtol=0)
torch.testing.assert_close(fitted.components.abs(), torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]), atol=0.05, rtol=0)
assert fitted.explained_variance[0] > fitted.explained_variance[1]
### BEGIN HIDDEN TESTS
x = torch.randn(50, 6, generator=gen) @ torch.randn(6, 6, generator=gen)
p4 = pca(x, 4)
torch.testing.assert_close(p4.mean, x.mean(0))
_, s, vh = torch.linalg.svd(x - x.mean(0), full_matrices=False)
torch.testing.assert_close((p4.components @ vh[:4].T).abs(), torch.eye(4), atol=1e-4, rtol=0)
torch.testing.assert_close(p4.explained_variance, s[:4] ** 2 / 49, rtol=1e-4, atol=1e-6)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2: A convolutional autoencoder
#
# **Exercise 2.** Complete `ConvAutoencoder(latent_dim)` in `exercise_code/models/autoencoders.py`:
# an encoder of two stride-2 convolutions (28 -> 14 -> 7) and a linear layer to `latent_dim`
# numbers, and a decoder that mirrors it with **your** `ConvTranspose2d` from notebook 1 (kernel
# 4, stride 2, padding 1: the checkerboard-free choice), ending in a sigmoid so outputs lie in
# `[0, 1]`. It exposes `encode(x) -> z` and `decode(z) -> x_hat`.
#
# We train one autoencoder per code size and compare its reconstruction error with PCA's.

# %% tags=["tests:autoencoder_shapes:2"]
seed_everything(0)
ae = ConvAutoencoder(latent_dim=7).eval()
x = torch.rand(5, 1, 28, 28)
with torch.no_grad():
    z = ae.encode(x)
    out = ae(x)
    assert z.shape == (5, 7), z.shape
    assert out.shape == x.shape and float(out.min()) >= 0 and float(out.max()) <= 1
    torch.testing.assert_close(ae.decode(z), out)
assert any(type(m).__name__ == "ConvTranspose2d" for m in ae.modules()), "the decoder upsamples with ConvTranspose2d"
### BEGIN HIDDEN TESTS
with torch.no_grad():
    assert ConvAutoencoder(latent_dim=2).eval().encode(torch.rand(1, 1, 28, 28)).shape == (1, 2)
    mlp = Autoencoder(latent_dim=3).eval()
    assert mlp.encode(x).shape == (5, 3) and mlp(x).shape == x.shape
### END HIDDEN TESTS

# %%
ae_models, ae_mse = {}, {}
for k in tqdm(RUN["ae_sizes"], desc="code sizes"):
    seed_everything(0)
    ae_models[k] = ConvAutoencoder(latent_dim=k)
    history = train(ae_models[k], progress=False)  # the outer bar counts the code sizes
    ae_mse[k] = reconstruction_mse(predict(ae_models[k], x_val), x_val)
    print(f"autoencoder with k = {k:>2}: validation MSE {ae_mse[k]:.4f} ({history.epochs_run} epochs, {history.seconds:.0f} s)")

fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
ax.plot(list(pca_mse), list(pca_mse.values()), "o-", label="PCA")
ax.plot(list(ae_mse), list(ae_mse.values()), "s-", label="convolutional autoencoder")
ax.set_xscale("log")
ax.set_xlabel("code size k")
ax.set_ylabel("validation MSE per pixel")
ax.set_title("Reconstruction error against code size")
ax.legend()
plt.show()

# %%
k_show = max(ae_models)
with torch.no_grad():
    show_digits({"original": x_val, f"PCA k={k_show}": first_k(k_show).reconstruct(x_val[:8]),
                 f"autoenc. k={k_show}": ae_models[k_show](x_val[:8])},
                "Validation digits and their reconstructions: both blurry, in different ways")

# %% [markdown]
# ## Part 3: A linear autoencoder finds PCA's subspace
#
# Remove the nonlinearities: encoder `z = W_e x + b_e`, decoder `x_hat = W_d z + b_d`, trained with
# MSE. Baldi and Hornik (1989) showed that at the optimum the decoder's columns **span the same
# subspace** as the top-`k` principal directions. But nothing in the loss prefers orthogonal
# columns or PCA's order: any invertible mix `W_d A`, `A^{-1} W_e` reconstructs equally well. So we
# compare **subspaces**, not weights, with the principal angles between them: all angles are zero
# when two subspaces coincide, and 90 degrees when they are orthogonal.
#
# **Exercise 3.** Implement `principal_angles(a, b)` in `exercise_code/models/pca.py`: orthonormalise
# the columns of `a` and `b` (QR decomposition); the singular values of `Q_a^T Q_b` are the cosines
# of the angles.
#
# Two choices make the comparison sharp within a short run. We train on **centred** digits (the
# mean digit subtracted, as PCA does): the biases could learn the mean, but with it left in, the
# mean dominates the gradient and training takes many times longer. And we pick `k = 6`, where the
# 6th and 7th principal variances differ clearly. Where two variances are almost equal (the 8th
# and 9th here), any mix of the two directions is almost as good, so "the top-k subspace" is barely
# determined, and gradient descent needs very long to find it.

# %%
k_lin = 6
MAX_LINEAR_ANGLE = 10.0  # degrees; a random 6-D subspace of the 784 pixels is 80 degrees or more away
variances = first_k(k_lin + 1).explained_variance
print(f"principal variances {k_lin} and {k_lin + 1}: {float(variances[k_lin - 1]):.2f} and {float(variances[k_lin]):.2f}")
centred = TensorDataset(x_train - full.mean.view(1, 1, 28, 28))
seed_everything(0)
linear_ae = LinearAutoencoder(latent_dim=k_lin, in_features=28 * 28)
linear_history = train(linear_ae, loader=make_loader(centred, batch_size=RUN["batch"], shuffle=True), val=None,
                       lr=3e-2, steps=RUN["linear_steps"], schedule=Schedule.ONECYCLE, progress=False)
with torch.no_grad():  # the decoder is affine, x_hat = W_d z + b_d: its columns are decode(e_i) - decode(0)
    decoder_columns = (linear_ae.decode(torch.eye(k_lin)) - linear_ae.decode(torch.zeros(1, k_lin))).T  # (784, k)
pca_basis = first_k(k_lin).components.T  # Tensor[784, k]
angles = principal_angles(decoder_columns, pca_basis)
random_angles = principal_angles(torch.randn(28 * 28, k_lin, generator=torch.Generator().manual_seed(0)), pca_basis)
print(f"principal angles to the top-{k_lin} PCA subspace after {linear_history.steps} steps, in degrees")
print("  linear autoencoder:", [round(float(a), 2) for a in angles])
print("  a random subspace :", [round(float(a), 1) for a in random_angles])
largest_angle = float(angles.max())
print(f"largest angle between the linear autoencoder's subspace and PCA's: {largest_angle:.2f} degrees")
gram = decoder_columns.T @ decoder_columns
print(f"yet the decoder's columns are not orthonormal: max |W_d^T W_d - I| = {float((gram - torch.eye(k_lin)).abs().max()):.2f}")
if not linear_history.out_of_time:  # a run cut short by the safety net has said so above
    assert largest_angle < MAX_LINEAR_ANGLE, f"the subspaces differ by {largest_angle:.1f} degrees"

# %% tags=["tests:principal_angles:2"]
a = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
b = torch.tensor([[2.0, 1.0], [1.0, 1.0], [0.0, 0.0]])  # the same plane in another basis
torch.testing.assert_close(principal_angles(a, b).double(), torch.zeros(2, dtype=torch.float64), atol=1e-3, rtol=0)
c = torch.tensor([[0.0], [0.0], [1.0]])
right = torch.tensor([90.0], dtype=torch.float64)
torch.testing.assert_close(principal_angles(a[:, :1], c).double(), right, atol=1e-4, rtol=0)
### BEGIN HIDDEN TESTS
d = torch.tensor([[1.0], [1.0], [0.0]])
half = torch.tensor([45.0], dtype=torch.float64)
torch.testing.assert_close(principal_angles(a[:, :1], d).double(), half, atol=1e-4, rtol=0)
rad = principal_angles(a[:, :1], d, degrees=False).double()
torch.testing.assert_close(rad, torch.tensor([torch.pi / 4], dtype=torch.float64), atol=1e-6, rtol=0)
assert principal_angles(torch.randn(10, 3), torch.randn(10, 5)).shape == (3,)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 4: A two-dimensional code
#
# With `k = 2` the code space can be drawn. Each validation digit becomes a point, coloured by its
# label, which the autoencoder never saw. Digits that look alike land close together: the
# autoencoder organises the data by appearance, and classes emerge without labels.

# %%
seed_everything(0)
ae2 = ConvAutoencoder(latent_dim=2)
train(ae2, val=None)
with torch.no_grad():
    z_val = ae2.encode(x_val)
fig, ax = plt.subplots(figsize=(6.5, 5.5), layout="constrained")
points = ax.scatter(z_val[:, 0], z_val[:, 1], c=y_val, cmap="tab10", s=6, alpha=0.7)
fig.colorbar(points, ax=ax, ticks=range(10), label="digit (not used in training)")
ax.set_xlabel("$z_1$")
ax.set_ylabel("$z_2$")
ax.set_title("Validation digits in the 2-D code of an autoencoder")
plt.show()

# %% [markdown]
# Move through the code space with the sliders: the decoder turns any point into an image, also
# points between the clusters. (Without a live kernel only the static figure below shows.)

# %%
z_low, z_high = z_val.min(0).values, z_val.max(0).values


def decode_point(z1=0.0, z2=0.0):
    """Draw the digit that the 2-D decoder makes of the code (z1, z2)."""
    with torch.no_grad():
        image = ae2.decode(torch.tensor([[z1, z2]], dtype=torch.float32))[0, 0]
    fig, ax = plt.subplots(figsize=(2.6, 2.6), layout="constrained")
    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"decode({z1:.2f}, {z2:.2f})", fontsize=9)
    ax.set_axis_off()
    plt.show()


sliders = {
    f"z{i + 1}": widgets.FloatSlider(
        value=float(z_val[:, i].median()),
        min=float(z_low[i]),
        max=float(z_high[i]),
        step=max(float(z_high[i] - z_low[i]) / 100, 1e-3),
        description=f"z{i + 1}",
    )
    for i in range(2)
}
display(widgets.interactive(decode_point, **sliders))
decode_point(float(z_val[:, 0].median()), float(z_val[:, 1].median()))  # static figure

# %% [markdown]
# ## Part 5: Pretraining with unlabelled digits, then few labels
#
# Labels are expensive, images are cheap. Here only a few digits per class are labelled (the
# number comes from the assignment config). A classifier trained from scratch on so few examples
# overfits. Instead:
#
# 1. **Pretrain** an autoencoder on *all* training digits, labels unused.
# 2. Keep its encoder, put a small classification head on the code, and **fine-tune** everything
#    on the few labelled digits.
#
# The encoder already maps similar-looking digits to nearby codes (Part 4), so the classifier only
# has to draw boundaries in a space where the classes are already grouped.
#
# **Exercise 4.** Complete the MLP `Encoder`, `Decoder`, `Autoencoder` and the `Classifier` (a head
# on a copy of a given encoder) in `exercise_code/models/autoencoders.py`. We use the MLP autoencoder
# here: a `Classifier` stores its encoder's spec, so the encoder must be a registered model.

# %%
few = Digits("train", labels_per_class=CONFIG.labels_per_class, seed=0)
unlabelled = few.unlabelled(include_labelled=True)
if RUN["train"]:
    unlabelled = torch.utils.data.Subset(unlabelled, range(RUN["train"]))
x_few, y_few = few.tensors()
print(f"{len(x_few)} labelled digits ({CONFIG.labels_per_class} per class), {len(unlabelled)} unlabelled digits")
first_of_class = [int(torch.nonzero(y_few == c)[0]) for c in range(10)]
show_digits({"labelled": x_few[first_of_class]}, "One of the labelled digits of each class", n=10)

# %% [markdown]
# **Exercise 5 (in this notebook).** Choose the fine-tuning settings. With so few labels, a small
# learning rate (the pretrained encoder should move, but not forget) and enough epochs for a tiny
# dataset are usually best.

# %% tags=["solution:finetune_settings"]
### BEGIN SOLUTION
FINETUNE_LR = 1e-3
FINETUNE_EPOCHS = 100
### END SOLUTION

# %% tags=["tests:check_finetune_settings:1"]
assert 1e-5 <= FINETUNE_LR <= 1e-1
assert isinstance(FINETUNE_EPOCHS, int) and FINETUNE_EPOCHS >= 1

# %%
seed_everything(0)
pretrained = Autoencoder(latent_dim=CONFIG.latent_dim)
history = train(pretrained, loader=make_loader(unlabelled, batch_size=RUN["batch"], shuffle=True), val=val_loader)
ae_val_mse = reconstruction_mse(predict(pretrained, x_val), x_val)
print(f"pretrained autoencoder: validation MSE {ae_val_mse:.4f} after {history.epochs_run} epochs")

few_loader = make_loader(TensorDataset(x_few, y_few), batch_size=32, shuffle=True)
starts = {"from scratch": Encoder(latent_dim=CONFIG.latent_dim), "pretrained": pretrained.encoder}
results = {}
for name, encoder in tqdm(starts.items(), desc="classifiers"):
    seed_everything(0)
    clf = Classifier(encoder=encoder, num_classes=10)
    train(clf, task=Task.CLASSIFICATION, loader=few_loader, val=None, lr=FINETUNE_LR,
          epochs=2 if FAST else FINETUNE_EPOCHS, progress=False)
    results[name] = (clf, accuracy(predict(clf, x_val).argmax(1), y_val))
    print(f"{name:>12}: validation accuracy {results[name][1]:.3f}")

fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
ax.bar(list(results), [acc for _, acc in results.values()], color=["tab:gray", "tab:green"])
ax.set_ylim(0, 1)
ax.set_ylabel("validation accuracy")
ax.set_title(f"{CONFIG.labels_per_class} labels per class: scratch vs pretrained")
plt.show()

# %% [markdown]
# ## Part 6: Save the models you submit
#
# The submission holds the pretrained autoencoder (with the code size from the config) and the
# fine-tuned classifier, each as `state_dict` + JSON spec. Limits and points scales:

# %%
limits = CONFIG.autoencoder_limits
mse_scale, acc_scale = CONFIG.reconstruction_mse, CONFIG.few_label_accuracy
print(f"limits for each model: at most {limits.max_parameters:,} parameters and {limits.max_file_mb:g} MiB")
print(f"reconstruction MSE on hidden digits: {mse_scale.floor} or more earns nothing, {mse_scale.target} or less earns all")
print(f"few-label accuracy on hidden digits: {acc_scale.floor:.2f} earns nothing, {acc_scale.target:.2f} or more earns all")
classifier, val_accuracy = results["pretrained"]
print(f"your validation numbers: MSE {ae_val_mse:.4f} (about {100 * mse_scale.fraction(ae_val_mse):.0f} % of those points), "
      f"accuracy {val_accuracy:.3f} (about {100 * acc_scale.fraction(val_accuracy):.0f} %)")


def models_dir() -> Path:
    """`models/` of the kit (run from the kit's `notebooks/` folder); a temporary folder in fast mode."""
    if FAST:
        return Path(tempfile.mkdtemp(prefix="models-"))
    for folder in (Path.cwd(), Path.cwd().parent):
        if (folder / "exercise_code").is_dir():
            return folder / "models"
    return Path.cwd() / "models"


MODELS = models_dir()
assert model_spec(pretrained)["kwargs"]["latent_dim"] == CONFIG.latent_dim
for name, model in (("autoencoder", pretrained), ("classifier", classifier)):
    assert name in CONFIG.model_names
    weights, _ = save_checkpoint(model, MODELS / name)
    problems = check_limits(model, limits)
    size = model_size(model)
    verdict = "within the limits" if not problems else "OVER THE LIMITS: " + "; ".join(problems)
    print(f"saved {weights} and its .json: {size.parameters:,} parameters, {size.megabytes:.2f} MiB, {verdict}")
    with torch.no_grad():
        torch.testing.assert_close(load_checkpoint(MODELS / name).eval()(x_val[:4]), model.eval()(x_val[:4]))

# %%
# The public checks of this notebook, as `python -m exercise_code.checks autoencoders models` runs them
# (ungraded: the grader runs more, hidden, tests); `models` checks the files in the kit's models/ folder
# (fast mode saves to a temporary folder instead, so it is left out then).
from exercise_code.checks import run_checks

run_checks("autoencoders", *(() if FAST else ("models",)), root=MODELS.parent)

# %% [markdown]
# ## Questions (graded by hand)
#
# **Question 1.** Why are autoencoder (and PCA) reconstructions blurry? Relate your answer to the
# mean squared error loss and to what the bottleneck forces the model to do.

# %% [markdown] tags=["answer:q_blurry:2"]
# ### BEGIN SOLUTION
# The bottleneck keeps only the information that helps most on average, so details that vary from
# digit to digit (exact stroke ends, small wiggles) cannot all be stored. For what the code does not
# determine, MSE is minimised by the conditional *mean* of the possible images, and the mean of
# several sharp images shifted slightly against each other is a blurred image. MSE also punishes a
# sharp edge in the wrong place twice (once where it is, once where it should be) but a soft edge
# only moderately, so the optimum hedges with soft edges. PCA is the linear special case: it keeps
# the high-variance, low-frequency directions and drops the fine detail.
# ### END SOLUTION

# %% [markdown]
# **Question 2.** What does a linear autoencoder trained with MSE have to do with PCA? Why did we
# compare subspaces with principal angles instead of comparing the weights with PCA's components?

# %% [markdown] tags=["answer:q_linear_pca:2"]
# ### BEGIN SOLUTION
# At its optimum a linear autoencoder with a k-dimensional code reconstructs each input by a
# projection onto the span of the top-k principal directions, the same best rank-k approximation
# that PCA gives (Baldi and Hornik 1989). The loss only depends on the product of decoder and encoder,
# so any invertible k x k matrix A gives an equally good solution (W_d A, A^{-1} W_e): the learned
# columns are some basis of the PCA subspace, generally not orthogonal, not ordered by variance and
# not unit length. Comparing weights would wrongly report a mismatch; principal angles compare
# the spanned subspaces, which is what is actually unique.
# ### END SOLUTION

# %% [markdown]
# **Question 3.** Why does pretraining the encoder on unlabelled digits help when only a few labels
# are available? When would you expect it not to help?

# %% [markdown] tags=["answer:q_pretraining:2"]
# ### BEGIN SOLUTION
# With a few labels per class, a classifier trained from scratch has many more parameters than
# examples and overfits. The pretrained encoder has already learned, from thousands of unlabelled
# images, features that describe how digits vary and map similar digits to nearby codes, so the
# classes are nearly separable in the code space and a few labels suffice to place the boundaries.
# It helps less when labels are plentiful (the supervised model learns good features itself), or
# when what the reconstruction objective keeps is not what the task needs (e.g. the class depends on
# a small detail that reconstruction errors barely register, or on information that the code drops).
# ### END SOLUTION
