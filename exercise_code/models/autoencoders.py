"""Autoencoders on 28x28 digits: MLP, convolutional and linear; a classifier on a pretrained encoder.

Hinton and Salakhutdinov (Science 2006) for deep autoencoders; Baldi and Hornik (1989) for the linear
autoencoder, whose optimum spans the top principal subspace (see `pca.py`).
"""

from __future__ import annotations

import copy
import math

from torch import Tensor, nn

from exercise_code.layers import ConvTranspose2d

from .registry import model_spec, register


def _mlp(sizes: list[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return layers


@register
class Encoder(nn.Module):
    """Tensor[N, 1, 28, 28] (or [N, D]) -> latent code Tensor[N, latent_dim]."""

    def __init__(
        self, in_features: int = 784, hidden: tuple[int, ...] | list[int] = (256,), latent_dim: int = 20
    ):
        super().__init__()
        self.spec_kwargs = dict(in_features=in_features, hidden=list(hidden), latent_dim=latent_dim)
        self.latent_dim = latent_dim
        # BEGIN SOLUTION
        self.net = nn.Sequential(*_mlp([in_features, *hidden, latent_dim]))
        # END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION
        return self.net(x.flatten(1))  # (N, D): keep the batch dimension
        # END SOLUTION


@register
class Decoder(nn.Module):
    """Latent code Tensor[N, latent_dim] -> image Tensor[N, *out_shape] in [0, 1] (sigmoid output)."""

    def __init__(
        self,
        latent_dim: int = 20,
        hidden: tuple[int, ...] | list[int] = (256,),
        out_shape: tuple[int, ...] | list[int] = (1, 28, 28),
    ):
        super().__init__()
        self.spec_kwargs = dict(latent_dim=latent_dim, hidden=list(hidden), out_shape=list(out_shape))
        self.out_shape = tuple(out_shape)
        # BEGIN SOLUTION
        self.net = nn.Sequential(*_mlp([latent_dim, *hidden, math.prod(out_shape)]), nn.Sigmoid())
        # END SOLUTION

    def forward(self, z: Tensor) -> Tensor:
        # BEGIN SOLUTION
        return self.net(z).view(len(z), *self.out_shape)
        # END SOLUTION


@register
class Autoencoder(nn.Module):
    """MLP autoencoder: x -> encoder -> z (latent_dim) -> decoder -> x_hat, same shape as x."""

    def __init__(
        self, latent_dim: int = 20, hidden: tuple[int, ...] | list[int] = (256,), in_shape=(1, 28, 28)
    ):
        super().__init__()
        self.spec_kwargs = dict(latent_dim=latent_dim, hidden=list(hidden), in_shape=list(in_shape))
        # BEGIN SOLUTION
        self.encoder = Encoder(math.prod(in_shape), hidden, latent_dim)
        self.decoder = Decoder(latent_dim, tuple(reversed(hidden)), in_shape)
        # END SOLUTION

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


@register
class ConvAutoencoder(nn.Module):
    """Convolutional autoencoder for 1x28x28 digits; the decoder upsamples with this kit's ConvTranspose2d.

    encoder: 28 -> 14 -> 7 (stride-2 convolutions) -> latent; decoder: latent -> 7 -> 14 -> 28.
    """

    def __init__(self, latent_dim: int = 20, width: int = 16):
        super().__init__()
        self.spec_kwargs = dict(latent_dim=latent_dim, width=width)
        w = width
        # BEGIN SOLUTION
        self.encoder = nn.Sequential(
            nn.Conv2d(1, w, 3, stride=2, padding=1),
            nn.ReLU(),  # (N, w, 14, 14)
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1),
            nn.ReLU(),  # (N, 2w, 7, 7)
            nn.Flatten(),
            nn.Linear(2 * w * 49, latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, 2 * w * 49),
            nn.ReLU(),
            nn.Unflatten(1, (2 * w, 7, 7)),
            ConvTranspose2d(2 * w, w, 4, stride=2, padding=1),
            nn.ReLU(),  # (N, w, 14, 14)
            ConvTranspose2d(w, 1, 4, stride=2, padding=1),
            nn.Sigmoid(),  # (N, 1, 28, 28)
        )
        # END SOLUTION

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


@register
class LinearAutoencoder(nn.Module):
    """No non-linearity: x_hat = W_d (W_e x + b_e) + b_d. Trained with MSE it spans PCA's top subspace."""

    def __init__(self, latent_dim: int = 8, in_features: int = 784):
        super().__init__()
        self.spec_kwargs = dict(latent_dim=latent_dim, in_features=in_features)
        # BEGIN SOLUTION
        self.encoder = nn.Linear(in_features, latent_dim)
        self.decoder = nn.Linear(latent_dim, in_features)
        # END SOLUTION

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x.flatten(1))

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x)).view_as(x)


@register
class Classifier(nn.Module):
    """A classifier on a (pretrained) encoder: logits = head(encoder(x)). The encoder is deep-copied, so the
    pretrained model is never changed; `freeze_encoder=True` trains the head only.

    Keep the two submodules named `encoder` (the autoencoder's encoder: same tensors) and `head` (codes
    Tensor[N, latent_dim] -> logits Tensor[N, num_classes]): the grader calls them one after the other."""

    def __init__(
        self, encoder: nn.Module, num_classes: int = 10, freeze_encoder: bool = False, hidden: int = 64
    ):
        super().__init__()
        self.spec_kwargs = dict(
            encoder=model_spec(encoder), num_classes=num_classes, freeze_encoder=freeze_encoder, hidden=hidden
        )
        latent_dim = getattr(encoder, "latent_dim", None) or encoder.spec_kwargs["latent_dim"]
        # BEGIN SOLUTION
        self.encoder = copy.deepcopy(encoder)
        for p in self.encoder.parameters():
            p.requires_grad_(not freeze_encoder)
        self.head = nn.Sequential(
            nn.ReLU(), nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
        )
        # END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION
        return self.head(self.encoder(x))
        # END SOLUTION
