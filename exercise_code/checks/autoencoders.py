"""Public checks of the autoencoders: shapes of codes and reconstructions (latent size `CONFIG.latent_dim`),
a linear autoencoder that is exactly affine, and a classifier that deep-copies its pretrained encoder.

Settings in `settings.AUTOENCODERS`; digits are random 1x28x28 images in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from exercise_code import models
from exercise_code.config import CONFIG

from .inputs import calling, expect_tensor, randn, seeded
from .runner import CheckFailed, check, compare
from .settings import AUTOENCODERS as AE
from .shortcuts import shortcut_check


def _digits(n: int, seed: int) -> Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def _shape(fn: Callable[[Tensor], object], x: Tensor, expected: tuple[int, ...], what: str) -> Tensor:
    """`fn(x)` if it is a tensor of shape `expected`; CheckFailed (or a crash) naming `what` otherwise."""
    with calling(what):
        value = expect_tensor(fn(x), what)
    if tuple(value.shape) != expected:
        raise CheckFailed(f"{what}: expected shape {expected}, got {tuple(value.shape)}")
    return value


def _in_unit_range(value: Tensor, what: str) -> None:
    low, high = float(value.min()), float(value.max())
    if not (0.0 <= low and high <= 1.0):
        raise CheckFailed(
            f"{what}: values must lie in [0, 1] like the images (a sigmoid at the end), "
            f"got [{low:.3g}, {high:.3g}]"
        )


def _batch_kept(fn: Callable[[Tensor], object], x: Tensor, out: Tensor, what: str) -> None:
    """The batch dimension is kept: item 1 alone gives what it gives inside the batch."""
    with calling(f"{what}, on item 1 alone"):
        alone = fn(x[1:2])
    compare(alone, out[1:2], what, "item 1 alone versus inside the batch")


@check("autoencoders", "Encoder and Decoder shapes")
def _encoder_decoder() -> None:
    N, L, hidden = AE.batch, CONFIG.latent_dim, list(AE.hidden)
    with seeded(0):
        encoder = models.Encoder(784, hidden, L).eval()
    with torch.no_grad():
        for x in (_digits(N, 0), _digits(N, 0).flatten(1)):
            what = f"Encoder(784, hidden={hidden}, latent_dim={L}) on x of shape {tuple(x.shape)}"
            z = _shape(encoder, x, (N, L), what)
            _batch_kept(encoder, x, z, what)
        for shape in AE.decoder_shapes:
            with seeded(1):
                decoder = models.Decoder(L, hidden, list(shape)).eval()
            z = randn(N, L, seed=2)
            what = f"Decoder({L}, hidden={hidden}, out_shape={list(shape)}) on codes of shape {(N, L)}"
            out = _shape(decoder, z, (N, *shape), what)
            _in_unit_range(out, what)
            _batch_kept(decoder, z, out, what)


def _autoencoder_shapes(model: nn.Module, what: str) -> None:
    N, L = AE.batch, CONFIG.latent_dim
    x = _digits(N, 3)
    with torch.no_grad():
        out = _shape(model, x, tuple(x.shape), f"{what} on digits of shape {tuple(x.shape)}")
        _in_unit_range(out, f"{what}: reconstructions")
        z = _shape(model.encode, x, (N, L), f"{what}.encode on digits of shape {tuple(x.shape)}")
        back = _shape(model.decode, z, tuple(x.shape), f"{what}.decode on codes of shape {(N, L)}")
        compare(back, out, f"{what}: decode(encode(x)) versus forward(x)")
        _batch_kept(model, x, out, what)


@check("autoencoders", "Autoencoder shapes")
def _autoencoder() -> None:
    L, hidden = CONFIG.latent_dim, list(AE.hidden)
    with seeded(0):
        model = models.Autoencoder(L, hidden).eval()
    _autoencoder_shapes(model, f"Autoencoder(latent_dim={L}, hidden={hidden})")


@check("autoencoders", "ConvAutoencoder shapes")
def _conv_autoencoder() -> None:
    L, width = CONFIG.latent_dim, AE.conv_width
    with seeded(0):
        model = models.ConvAutoencoder(L, width).eval()
    _autoencoder_shapes(model, f"ConvAutoencoder(latent_dim={L}, width={width})")


@check("autoencoders", "LinearAutoencoder is affine (no non-linearity)")
def _linear() -> None:
    L, D = AE.linear
    with seeded(0):
        model = models.LinearAutoencoder(L, D).eval()
    what = f"LinearAutoencoder(latent_dim={L}, in_features={D})"
    x, y = randn(4, D, seed=4), randn(4, D, seed=5)
    with torch.no_grad():
        fx = _shape(model, x, (4, D), f"{what} on x of shape {(4, D)}")
        fy = model(y)
        _shape(model.encode, x, (4, L), f"{what}.encode on x of shape {(4, D)}")
        for a, b in AE.affine_weights:
            compare(
                model(a * x + b * y),
                a * fx + b * fy,
                f"{what} must be affine (x_hat = W_d (W_e x + b_e) + b_d, no non-linearity)",
                f"f({a:g} x + {b:g} y) versus {a:g} f(x) + {b:g} f(y)",
            )


def _pretrained_encoder() -> nn.Module:
    """An Encoder with "pretrained" weights: ones no fresh initialisation reproduces."""
    with seeded(0):
        encoder = models.Encoder(784, list(AE.hidden), CONFIG.latent_dim)
    gen = torch.Generator().manual_seed(6)
    with torch.no_grad():
        for value in encoder.parameters():
            value.add_(0.05 * torch.randn(value.shape, generator=gen))
    return encoder.eval()


@check("autoencoders", "Classifier copies the pretrained encoder")
def _classifier() -> None:
    encoder = _pretrained_encoder()
    x = _digits(AE.batch, 7)
    with torch.no_grad(), calling(f"Encoder(784, hidden={list(AE.hidden)}, latent_dim={CONFIG.latent_dim})"):
        codes = encoder(x)
    what = f"Classifier(encoder, num_classes={AE.classes})"
    with seeded(1), calling(what):
        classifier = models.Classifier(encoder, num_classes=AE.classes).eval()
    parts = {name: getattr(classifier, name, None) for name in ("encoder", "head")}
    missing = [name for name, part in parts.items() if not isinstance(part, nn.Module)]
    if missing:
        raise CheckFailed(
            f"{what}: keep the submodules named `encoder` and `head` (the grader calls them one after the "
            f"other); missing: {missing}"
        )
    if parts["encoder"] is encoder:
        raise CheckFailed(
            f"{what}: classifier.encoder is the pretrained encoder itself; deep-copy it (copy.deepcopy), "
            "or fine-tuning the classifier changes the pretrained autoencoder too"
        )
    with torch.no_grad():
        logits = _shape(classifier, x, (AE.batch, AE.classes), f"{what} on digits of shape {tuple(x.shape)}")
        compare(
            parts["encoder"](x),
            codes,
            f"{what}: classifier.encoder(x) versus the pretrained encoder(x)",
            "the classifier must start from the pretrained weights",
        )
        with calling(f"{what}.head(classifier.encoder(x))"):
            composed = parts["head"](parts["encoder"](x))
        compare(composed, logits, f"{what}: head(encoder(x)) versus forward(x)")
        for value in classifier.parameters():  # "fine-tuning"
            value.add_(1.0)
        compare(
            encoder(x),
            codes,
            f"{what}: the pretrained encoder after changing the classifier's weights",
            "the classifier must hold a copy, so the pretrained encoder never changes",
        )


@check("autoencoders", "pca on data that lies in a plane")
def _pca() -> None:
    gen = torch.Generator().manual_seed(3)
    plane = torch.linalg.qr(torch.randn(6, 2, generator=gen, dtype=torch.float64))[0]  # (6, 2) basis
    coords = torch.randn(40, 2, generator=gen, dtype=torch.float64) * torch.tensor([3.0, 1.0]).double()
    offset = torch.randn(6, generator=gen, dtype=torch.float64)
    x = coords @ plane.T + offset  # 40 points of a tilted plane, away from the origin
    what = "pca(x, 2) for 40 points of a plane in 6-D"
    with calling(what):
        fitted = models.pca(x, 2)
    compare(fitted.mean, x.mean(0), what, "the mean")
    components = expect_tensor(fitted.components, f"{what}.components")
    if tuple(components.shape) != (2, 6):
        raise CheckFailed(f"{what}: components must be Tensor[k, D] = (2, 6), got {tuple(components.shape)}")
    compare(components @ components.T, torch.eye(2, dtype=x.dtype), what, "components are orthonormal rows")
    compare(fitted.reconstruct(x), x, what, "reconstruct(x) of data that lies in the plane")
    variance = fitted.explained_variance
    if not float(variance[0]) >= float(variance[1]):
        raise CheckFailed(f"{what}: the components must come largest variance first, got {variance}")


@check("autoencoders", "principal_angles of two planes")
def _principal_angles() -> None:
    e = torch.eye(4, dtype=torch.float64)
    a = torch.stack([2 * e[0], e[0] + e[1]], 1)  # spans e0, e1 with columns that are not orthonormal
    b = torch.stack([e[0], e[1] + e[2]], 1)  # shares e0; its other direction is 45 degrees from e1
    what = "principal_angles(a, b) of span(e0, e1) and span(e0, e1 + e2)"
    with calling(what):
        angles = models.principal_angles(a, b)
    compare(angles, torch.tensor([0.0, 45.0], dtype=angles.dtype), what, "angles in degrees, ascending")


shortcut_check("autoencoders", "exercise_code.models.autoencoders", "exercise_code.models.pca")
