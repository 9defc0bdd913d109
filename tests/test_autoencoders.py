"""Autoencoders: shapes, batch handling, the encoder copy in Classifier, and a win over PCA."""

from __future__ import annotations

import torch

from exercise_code.models import (
    Autoencoder,
    Classifier,
    ConvAutoencoder,
    LinearAutoencoder,
    build_model,
    model_spec,
    pca,
    principal_angles,
)
from exercise_code.training import Task, TrainConfig, fit, make_loader


def test_shapes_and_batch_independence():
    x = torch.rand(5, 1, 28, 28)
    for model in (Autoencoder(8), ConvAutoencoder(8), LinearAutoencoder(8)):
        model.eval()
        out = model(x)
        assert out.shape == x.shape
        # reshaping across the batch (x.view(-1) or view(784, -1)) would mix samples: check independence
        torch.testing.assert_close(model(x[2:3]), out[2:3], atol=1e-5, rtol=1e-4)
    assert Autoencoder(8).encode(x).shape == (5, 8)


def test_classifier_copies_and_can_freeze_the_encoder():
    ae = Autoencoder(8)
    before = {k: v.clone() for k, v in ae.encoder.state_dict().items()}
    clf = Classifier(ae.encoder, 10)
    torch.nn.functional.cross_entropy(clf(torch.rand(4, 1, 28, 28)), torch.tensor([0, 1, 2, 3])).backward()
    with torch.no_grad():
        for p in clf.parameters():
            p.sub_(p.grad if p.grad is not None else 0)
    for k, v in ae.encoder.state_dict().items():
        torch.testing.assert_close(v, before[k])  # the pretrained encoder is untouched
    frozen = Classifier(ae.encoder, 10, freeze_encoder=True)
    assert not any(p.requires_grad for p in frozen.encoder.parameters())
    assert all(p.requires_grad for p in frozen.head.parameters())


def test_nested_spec_round_trip():
    clf = Classifier(Autoencoder(6, hidden=(32,)).encoder, 10)
    rebuilt = build_model(model_spec(clf))
    rebuilt.load_state_dict(clf.state_dict())
    x = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(rebuilt(x), clf(x))


def test_linear_autoencoder_spans_pca_subspace():
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(784, 4, generator=g))
    codes = torch.randn(512, 4, generator=g) * torch.tensor([2.0, 1.8, 1.6, 1.4])
    x = (codes @ q.T * 5 + 0.01 * torch.randn(512, 784, generator=g)).view(512, 1, 28, 28)
    torch.manual_seed(0)
    model = LinearAutoencoder(4)
    config = TrainConfig(Task.RECONSTRUCTION, epochs=100, lr=3e-3, progress=False)
    fit(model, make_loader(x, 64, shuffle=True), None, config)
    angles = principal_angles(model.decoder.weight.detach(), pca(x, 4).components.T)
    assert angles.max() < 5.0
    # the weights themselves are not PCA's orthonormal components: compare subspaces, not weights
    assert not torch.allclose(model.decoder.weight.detach().T, pca(x, 4).components.float(), atol=1e-2)


def test_mlp_autoencoder_beats_pca_on_digits():
    from exercise_code.data import digit_pools, mnist_subset

    images, _ = mnist_subset()
    pools = digit_pools()
    train = images[pools.train[:1500]].float().div(255).unsqueeze(1)
    test = images[pools.test[:500]].float().div(255).unsqueeze(1)
    torch.manual_seed(0)
    model = Autoencoder(2, hidden=(256,))
    fit(
        model,
        make_loader(train, 64, shuffle=True),
        None,
        TrainConfig(Task.RECONSTRUCTION, epochs=10, lr=2e-3, progress=False),
    )
    with torch.no_grad():
        ae_mse = float(((model(test) - test) ** 2).mean())
    pca_mse = float(((pca(train, 2).reconstruct(test) - test) ** 2).mean())
    assert ae_mse < 0.95 * pca_mse
