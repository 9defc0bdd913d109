"""Benchmark: autoencoders on the digits against PCA, and autoencoder pretraining for few-label accuracy.

    .venv/bin/python bench/autoencoders.py            # full run (a few CPU-minutes)
    .venv/bin/python bench/autoencoders.py --quick    # smoke test (seconds)

(a) MLP `Autoencoder` (latent 8) trained on the train pool (3,000 digits, no labels) with `fit`; its test
    reconstruction MSE against PCA's (k = 8, fit on the same pool). Target: ratio <= 0.7.
(b) `LinearAutoencoder` (latent 8) trained on the centred train pool (full-batch Adam with a cosine
    decay); the largest principal angle between its decoder's column space (and its encoder's row
    space) and PCA's top-8 subspace. Target: <= 10 degrees.
(c) `Classifier(encoder, 10)` fine-tuned with 10 labels per class, on the encoder of (a) (pretrained on the
    whole unlabelled pool) vs the same classifier on a freshly initialised encoder; 5 label draws / seeds,
    test accuracy mean +- std and the difference in points. Target: >= 5 points.

Every figure is measured in this run on `Digits("test")`; times are process CPU seconds.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

# Idle OpenMP threads sleep instead of spinning, so CPU times stay comparable on a busy machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when torch loads libgomp, so before `import torch`

import torch
from torch import Tensor
from torch.utils.data import TensorDataset

from exercise_code.data import Digits
from exercise_code.metrics import reconstruction_mse
from exercise_code.models import (
    Autoencoder,
    Classifier,
    Encoder,
    LinearAutoencoder,
    pca,
    principal_angles,
)
from exercise_code.training import (
    Optimizer,
    Schedule,
    Task,
    TrainConfig,
    evaluate,
    fit,
    make_loader,
)
from exercise_code.utils import seed_everything


def train_autoencoder(
    x_train: Tensor, x_val: Tensor, latent: int, hidden: tuple[int, ...], epochs: int, lr: float, seed: int
) -> Autoencoder:
    """MLP autoencoder trained by `fit` (AdamW, one-cycle) on images only; best validation weights kept."""
    seed_everything(seed)
    model = Autoencoder(latent_dim=latent, hidden=hidden)
    config = TrainConfig(
        task=Task.RECONSTRUCTION,
        epochs=epochs,
        lr=lr,
        optimizer=Optimizer.ADAMW,
        weight_decay=1e-5,
        scheduler=Schedule.ONECYCLE,
        seed=seed,
        device="cpu",
        progress=False,
    )
    train = make_loader(TensorDataset(x_train), 64, shuffle=True, seed=seed)
    fit(model, train, make_loader(TensorDataset(x_val), 500), config)
    return model.eval()


def train_linear_autoencoder(x: Tensor, latent: int, steps: int, lr: float, seed: int) -> LinearAutoencoder:
    """Linear autoencoder fitted full-batch on `x` (centred by the caller), MSE loss, Adam with cosine decay.

    The 8th and 9th principal variances of the digits differ by only 5 %, so the last direction of the
    subspace is the slow one; full batches and a large starting learning rate settle it in ~1,500 steps.
    """
    seed_everything(seed)
    model = LinearAutoencoder(latent_dim=latent, in_features=x[0].numel())
    flat = x.flatten(1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr * 1e-3)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(flat) - flat) ** 2).mean()
        loss.backward()
        opt.step()
        sched.step()
    return model.eval()


def few_label_accuracy(
    encoder: Encoder | None, latent: int, hidden: tuple[int, ...], seed: int, epochs: int, lr: float
) -> float:
    """Test accuracy of `Classifier(encoder, 10)` fine-tuned on 10 labels per class (label draw `seed`).

    encoder=None: the same architecture, freshly initialised (from scratch)."""
    seed_everything(seed)
    if encoder is None:
        encoder = Encoder(784, hidden, latent)
    model = Classifier(encoder, 10)
    few = Digits("train", labels_per_class=10, seed=seed)
    config = TrainConfig(
        task=Task.CLASSIFICATION,
        epochs=epochs,
        lr=lr,
        optimizer=Optimizer.ADAMW,
        weight_decay=1e-4,
        scheduler=Schedule.COSINE,
        seed=seed,
        device="cpu",
        progress=False,
    )
    fit(model, make_loader(few, 20, shuffle=True, seed=seed), None, config)
    x_test, y_test = Digits("test").tensors()
    return evaluate(model, make_loader(TensorDataset(x_test, y_test), 500), Task.CLASSIFICATION)["accuracy"]


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latent", type=int, default=8)
    parser.add_argument("--hidden", default="512,256", help="MLP hidden sizes, comma-separated")
    parser.add_argument("--ae-epochs", type=int, default=40)
    parser.add_argument("--ae-lr", type=float, default=3e-3)
    parser.add_argument("--linear-steps", type=int, default=2000, help="full-batch Adam steps")
    parser.add_argument("--linear-lr", type=float, default=1e-2)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cls-epochs", type=int, default=100)
    parser.add_argument("--cls-lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke test: few epochs and steps, 2 seeds")
    args = parser.parse_args()
    if args.quick:
        args.ae_epochs, args.linear_steps, args.seeds, args.cls_epochs = 2, 50, 2, 3
    torch.set_num_threads(args.threads)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    k = args.latent
    x_train = Digits("train").tensors()[0]
    x_val = Digits("val").tensors()[0]
    x_test = Digits("test").tensors()[0]
    print(
        f"digits: {len(x_train)} train (pool) / {len(x_val)} val / {len(x_test)} test; latent {k}, "
        f"{torch.get_num_threads()} threads",
        flush=True,
    )
    rows: list[tuple[str, str, str, str]] = []

    # (a) MLP autoencoder vs PCA ------------------------------------------------------------------------
    t0 = time.process_time()
    basis = pca(x_train, k)
    pca_mse = reconstruction_mse(basis.reconstruct(x_test), x_test)
    ae = train_autoencoder(x_train, x_val, k, hidden, args.ae_epochs, args.ae_lr, seed=0)
    with torch.no_grad():
        ae_mse = reconstruction_mse(ae(x_test), x_test)
    ratio = ae_mse / pca_mse
    t_a = time.process_time() - t0
    print(
        f"(a) test MSE: PCA-{k} {pca_mse:.4f}, MLP autoencoder {hidden} {ae_mse:.4f}; ratio {ratio:.3f} "
        f"({args.ae_epochs} epochs, {t_a:.0f} CPU-s)",
        flush=True,
    )
    rows.append(("(a) AE MSE / PCA MSE", f"{ratio:.3f}", "<= 0.7", "met" if ratio <= 0.7 else "missed"))

    # (b) linear autoencoder vs PCA's subspace ---------------------------------------------------------
    t0 = time.process_time()
    centred = x_train - basis.mean.view(1, *x_train.shape[1:])
    lae = train_linear_autoencoder(centred, k, args.linear_steps, args.linear_lr, seed=0)
    top = basis.components.T  # [784, k]
    dec_angle = float(principal_angles(lae.decoder.weight.detach(), top).max())
    enc_weight = lae.encoder.weight.detach().T.clone()  # [784, k]
    enc_angle = float(principal_angles(enc_weight, top).max())
    # Pixels that (almost) never vary send (almost) no gradient to the encoder, whose weights there keep
    # their random init: its row space only matches PCA's on the pixels that vary.
    varying = centred.flatten(1).var(0) > 1e-3
    enc_weight[~varying] = 0
    enc_angle_varying = float(principal_angles(enc_weight, top).max())
    test_centred = x_test - basis.mean.view(1, *x_test.shape[1:])
    with torch.no_grad():
        lae_mse = reconstruction_mse(lae(test_centred), test_centred)
    t_b = time.process_time() - t0
    print(
        f"(b) linear autoencoder (Adam, {args.linear_steps} full-batch steps, {t_b:.0f} CPU-s): largest "
        f"principal angle to PCA's top-{k} subspace: decoder columns {dec_angle:.2f} deg; encoder rows "
        f"{enc_angle:.2f} deg, {enc_angle_varying:.2f} deg on the {int(varying.sum())} pixels whose "
        f"variance exceeds 1e-3; test MSE {lae_mse:.4f} vs PCA {pca_mse:.4f}",
        flush=True,
    )
    rows.append(
        (
            "(b) largest angle, decoder (deg)",
            f"{dec_angle:.2f}",
            "<= 10",
            "met" if dec_angle <= 10 else "missed",
        )
    )

    # (c) pretrained encoder vs from scratch, 10 labels per class -------------------------------------
    t0 = time.process_time()
    pre, scratch = [], []
    for seed in range(args.seeds):
        pre.append(few_label_accuracy(ae.encoder, k, hidden, seed, args.cls_epochs, args.cls_lr))
        scratch.append(few_label_accuracy(None, k, hidden, seed, args.cls_epochs, args.cls_lr))
        print(f"    seed {seed}: pretrained {pre[-1]:.3f}, scratch {scratch[-1]:.3f}", flush=True)
    (pm, ps), (sm, ss) = mean_std(pre), mean_std(scratch)
    gain = 100 * (pm - sm)
    _, paired_std = mean_std([100 * (p - s) for p, s in zip(pre, scratch, strict=True)])
    t_c = time.process_time() - t0
    print(
        f"(c) 10 labels/class, {args.seeds} seeds, {t_c:.0f} CPU-s: pretrained {100 * pm:.1f} +- "
        f"{100 * ps:.1f} %, scratch {100 * sm:.1f} +- {100 * ss:.1f} %; gain {gain:+.1f} points "
        f"(per-seed differences: std {paired_std:.1f} points)",
        flush=True,
    )
    rows.append(("(c) pretrained acc (%)", f"{100 * pm:.1f} ± {100 * ps:.1f}", "", ""))
    rows.append(("(c) scratch acc (%)", f"{100 * sm:.1f} ± {100 * ss:.1f}", "", ""))
    rows.append(
        ("(c) gain (points)", f"{gain:+.1f} ± {paired_std:.1f}", ">= +5", "met" if gain >= 5 else "missed")
    )

    print()
    print("| measure | value | target | |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"CPU-s: (a) {t_a:.0f}, (b) {t_b:.0f}, (c) {t_c:.0f}; total {t_a + t_b + t_c:.0f}")
    if not math.isfinite(ratio):
        raise SystemExit("autoencoder MSE is not finite")


if __name__ == "__main__":
    main()
