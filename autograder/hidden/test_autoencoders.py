"""Hidden tests: encoder/decoder shapes and batch handling, MLP/conv/linear autoencoders, the classifier
on a pretrained encoder, PCA and principal angles (references: torch.linalg in this process)."""

from __future__ import annotations

import math

import pytest
import torch

from autograder.hidden.references import assert_matches, principal_angles_reference

MODELS = "exercise_code.models"


def _digits(gen: torch.Generator, n: int) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=gen)


def _batch_consistent(model, x: torch.Tensor, out: torch.Tensor, what: str, method: str = "forward") -> None:
    """The batch dimension is kept: an item alone gives what it gives inside the batch."""
    i = x.shape[0] // 2
    single = model(x[i : i + 1], method=method)
    assert_matches(single, out[i : i + 1], what=f"{what}: item {i} alone versus inside a batch", atol=1e-5)


@pytest.mark.parametrize("case", range(4))
def test_encoder_decoder(submission, rng, gen, case):
    latent, hidden = rng.randint(2, 24), [rng.randint(16, 64) for _ in range(rng.randint(1, 2))]
    N = rng.randint(3, 6)
    if case % 2 == 0:
        encoder = submission.build_model(
            {"name": "Encoder", "kwargs": {"in_features": 784, "hidden": hidden, "latent_dim": latent}}
        )
        x = _digits(gen, N) if case == 0 else _digits(gen, N).flatten(1)
        z = encoder(x)
        what = f"Encoder(784, hidden={hidden}, latent_dim={latent}) on x of shape {tuple(x.shape)}"
        assert isinstance(z, torch.Tensor) and tuple(z.shape) == (N, latent), (
            f"{what}: expected codes of shape {(N, latent)}, got {getattr(z, 'shape', type(z).__name__)}"
        )
        _batch_consistent(encoder, x, z, what)
    else:
        shape = [1, 28, 28] if case == 1 else [2, 6, 5]
        decoder = submission.build_model(
            {"name": "Decoder", "kwargs": {"latent_dim": latent, "hidden": hidden, "out_shape": shape}}
        )
        z = torch.randn(N, latent, generator=gen)
        out = decoder(z)
        what = (
            f"Decoder(latent_dim={latent}, hidden={hidden}, out_shape={shape}) "
            f"on codes of shape {(N, latent)}"
        )
        assert isinstance(out, torch.Tensor) and tuple(out.shape) == (N, *shape), (
            f"{what}: expected {(N, *shape)}, got {getattr(out, 'shape', type(out).__name__)}"
        )
        assert float(out.min()) >= 0 and float(out.max()) <= 1, f"{what}: outputs must lie in [0, 1]"
        _batch_consistent(decoder, z, out, what)


@pytest.mark.parametrize("case", range(3))
def test_autoencoder(submission, rng, gen, case):
    latent, hidden = rng.randint(2, 24), [rng.randint(16, 64) for _ in range(case % 2 + 1)]
    model = submission.build_model(
        {"name": "Autoencoder", "kwargs": {"latent_dim": latent, "hidden": hidden, "in_shape": [1, 28, 28]}}
    )
    N = rng.randint(3, 6)
    x = _digits(gen, N)
    what = f"Autoencoder(latent_dim={latent}, hidden={hidden})"
    out = model(x)
    assert isinstance(out, torch.Tensor) and tuple(out.shape) == tuple(x.shape), (
        f"{what}: reconstructions must have the input's shape {tuple(x.shape)}, "
        f"got {getattr(out, 'shape', out)}"
    )
    assert float(out.min()) >= 0 and float(out.max()) <= 1, f"{what}: reconstructions must lie in [0, 1]"
    z = model(x, method="encode")
    assert tuple(z.shape) == (N, latent), f"{what}.encode: expected codes {(N, latent)}, got {tuple(z.shape)}"
    assert_matches(model(z, method="decode"), out, what=f"{what}: decode(encode(x)) versus forward(x)")
    _batch_consistent(model, x, out, what)


@pytest.mark.parametrize("case", range(2))
def test_conv_autoencoder(submission, rng, gen, case):
    latent, width = rng.randint(2, 24), rng.randint(2, 8)
    model = submission.build_model(
        {"name": "ConvAutoencoder", "kwargs": {"latent_dim": latent, "width": width}}
    )
    N = rng.randint(2, 5)
    x = _digits(gen, N)
    what = f"ConvAutoencoder(latent_dim={latent}, width={width})"
    out = model(x)
    assert isinstance(out, torch.Tensor) and tuple(out.shape) == tuple(x.shape), (
        f"{what}: reconstructions must have the input's shape {tuple(x.shape)}, "
        f"got {getattr(out, 'shape', out)}"
    )
    assert float(out.min()) >= 0 and float(out.max()) <= 1, f"{what}: reconstructions must lie in [0, 1]"
    z = model(x, method="encode")
    assert tuple(z.shape) == (N, latent), f"{what}.encode: expected codes {(N, latent)}, got {tuple(z.shape)}"
    _batch_consistent(model, x, out, what)


@pytest.mark.parametrize("case", range(3))
def test_linear_autoencoder(submission, rng, gen, case):
    D, latent = rng.randint(6, 30), rng.randint(1, 5)
    model = submission.build_model(
        {"name": "LinearAutoencoder", "kwargs": {"latent_dim": latent, "in_features": D}}
    )
    what = f"LinearAutoencoder(latent_dim={latent}, in_features={D})"
    expected_params = 2 * latent * D + latent + D  # W_e, b_e, W_d, b_d
    assert model.param_count() == expected_params, (
        f"{what}: x_hat = W_d (W_e x + b_e) + b_d has {expected_params} parameters, got {model.param_count()}"
    )
    a, b = torch.randn(4, D, generator=gen), torch.randn(4, D, generator=gen)
    fa, fb, fmid = model(a), model(b), model((a + b) / 2)
    assert tuple(fa.shape) == (4, D), f"{what}: expected output (4, {D}), got {tuple(fa.shape)}"
    assert_matches(
        fmid, (fa + fb) / 2, what=f"{what} must be affine: f((a + b) / 2) versus (f(a) + f(b)) / 2"
    )


def _encoder_spec(rng) -> dict:
    return {
        "name": "Encoder",
        "kwargs": {"in_features": 784, "hidden": [rng.randint(16, 48)], "latent_dim": rng.randint(4, 16)},
    }


@pytest.mark.parametrize("case", range(2))
def test_classifier(submission, rng, gen, case):
    classes = rng.randint(2, 10)
    spec = {
        "name": "Classifier",
        "kwargs": {"encoder": _encoder_spec(rng), "num_classes": classes, "freeze_encoder": case == 1},
    }
    model = submission.build_model(spec)
    x = _digits(gen, 5)
    logits = model(x)
    what = f"Classifier(Encoder, num_classes={classes}, freeze_encoder={case == 1})"
    assert isinstance(logits, torch.Tensor) and tuple(logits.shape) == (5, classes), (
        f"{what}: expected logits (5, {classes}), got {getattr(logits, 'shape', logits)}"
    )
    _batch_consistent(model, x, logits, what)


@pytest.mark.parametrize("freeze", [False, True])
def test_classifier_keeps_encoder(submission, rng, gen, freeze):
    """The classifier starts from the pretrained weights and never changes the pretrained encoder."""
    spec = _encoder_spec(rng)
    encoder = submission.build_model(spec)
    pretrained = {  # "pretraining": weights that no fresh initialisation reproduces
        k: v + 0.05 * torch.randn(v.shape, generator=gen) if v.is_floating_point() else v
        for k, v in encoder.state_dict().items()
    }
    encoder.call("load_state_dict", pretrained)
    before = encoder.state_dict()
    x = _digits(gen, 4)
    codes = encoder(x)
    classifier = submission.call(f"{MODELS}.Classifier", encoder, num_classes=10, freeze_encoder=freeze)
    what = f"Classifier(encoder, num_classes=10, freeze_encoder={freeze})"
    state = classifier.state_dict()
    for name, value in before.items():
        assert any(v.shape == value.shape and torch.equal(v, value) for v in state.values()), (
            f"{what} must start from the pretrained encoder's weights (no copy of {name!r} found)"
        )
    changed = {k: v + 1 if v.is_floating_point() else v for k, v in state.items()}  # "training"
    classifier.call("load_state_dict", changed)
    after = encoder.state_dict()
    for name, value in before.items():
        assert torch.equal(after[name], value), (
            f"changing the weights of {what} changed the pretrained encoder"
        )
    assert_matches(encoder(x), codes, what="the pretrained encoder after building a classifier on it")


@pytest.mark.parametrize("case", range(4))
def test_pca(submission, rng, gen, case):
    N, D, k = rng.randint(30, 60), rng.randint(5, 12), rng.randint(1, 4)
    scales = torch.linspace(3.0, 0.3, D)  # distinct variances: a well-defined top-k subspace
    basis, _ = torch.linalg.qr(torch.randn(D, D, generator=gen, dtype=torch.float64))
    x = (torch.randn(N, D, generator=gen, dtype=torch.float64) * scales.double()) @ basis.T + torch.randn(
        D, generator=gen
    )
    x = x.float()
    centred = x.double() - x.double().mean(0)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    what = f"pca(x of shape {(N, D)}, k={k})"
    got = submission.call(f"{MODELS}.pca.pca", x, k)
    assert isinstance(got, dict) and {"mean", "components", "explained_variance"} <= set(got), (
        f"{what} must return a PCA with mean, components and explained_variance"
    )
    assert_matches(got["mean"], x.double().mean(0).float(), what=f"{what}.mean", atol=1e-5)
    comps = got["components"]
    assert isinstance(comps, torch.Tensor) and tuple(comps.shape) == (k, D), (
        f"{what}.components: expected shape {(k, D)}, got {getattr(comps, 'shape', comps)}"
    )
    projector = vh[:k].T @ vh[:k]  # signs of components are arbitrary: compare the projectors
    assert_matches(
        comps.double().T @ comps.double(), projector, what=f"{what}: projector of the components", atol=1e-4
    )
    unbiased, biased = (s[:k] ** 2 / (N - 1)).float(), (s[:k] ** 2 / N).float()  # either convention
    try:
        assert_matches(got["explained_variance"], biased, what=f"{what}.explained_variance", rtol=1e-3)
    except AssertionError:
        assert_matches(got["explained_variance"], unbiased, what=f"{what}.explained_variance", rtol=1e-3)


@pytest.mark.parametrize("case", range(5))
def test_principal_angles(submission, rng, gen, case):
    D = rng.randint(6, 14)
    p, q = rng.randint(1, 4), rng.randint(1, 4)
    a = torch.randn(D, p, generator=gen, dtype=torch.float64) * 3
    b = torch.randn(D, q, generator=gen, dtype=torch.float64)
    if case >= 3:  # share directions, with skewed non-orthonormal columns
        shared = min(p, q)
        b[:, :shared] = (
            a[:, :shared] @ torch.randn(shared, shared, generator=gen, dtype=torch.float64)
            + 0.05 * b[:, :shared]
        )
    degrees = case % 2 == 0
    expected = principal_angles_reference(a, b)
    expected = expected * (180 / math.pi) if degrees else expected
    got = submission.call(f"{MODELS}.principal_angles", a, b, degrees=degrees)
    what = f"principal_angles(a of shape {(D, p)}, b of shape {(D, q)}, degrees={degrees})"
    tolerance = 0.05 if degrees else 1e-3
    assert_matches(got, expected, what=what, rtol=0, atol=tolerance)
