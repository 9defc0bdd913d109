"""The GPU paths, on a real CUDA device: the layers on CUDA tensors against PyTorch's own ops there, every
model's forward pass on CUDA against the same weights on the CPU, and `fit` with mixed precision,
channels_last and a pinned, two-worker loader.

Skipped where no CUDA device is visible (CI has none); run on a GPU machine with
`pytest tests/test_cuda.py`. Each check fails on a wrong implementation: the layers and models compare
numbers, and training must lower the loss, on CUDA, in the memory format it says it used."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import Subset, TensorDataset

from exercise_code import layers
from exercise_code.data import Digits
from exercise_code.models import FCN, ConvAutoencoder, PatchClassifier, fully_convolutional
from exercise_code.training import Task, TrainConfig, fit, make_loader, predict, use_amp, use_channels_last

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CUDA = torch.device("cuda")


def _close(actual: torch.Tensor, expected: torch.Tensor, tol: float = 1e-4) -> None:
    assert actual.device == expected.device, (actual.device, expected.device)
    torch.testing.assert_close(actual, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("stride", [1, 2, 3, (2, 1)])
@pytest.mark.parametrize("padding", [0, 1, (1, 2)])
def test_conv_transpose2d_on_cuda_matches_pytorch(stride, padding) -> None:
    gen = torch.Generator(device=CUDA).manual_seed(0)
    x = torch.randn(2, 4, 7, 6, device=CUDA, generator=gen)
    w = torch.randn(4, 3, 3, 4, device=CUDA, generator=gen)
    b = torch.randn(3, device=CUDA, generator=gen)
    expected = F.conv_transpose2d(x, w, b, stride=stride, padding=padding)
    _close(layers.conv_transpose2d(x, w, b, stride=stride, padding=padding), expected)
    _close(layers.conv_transpose2d_loops(x, w, b, stride=stride, padding=padding), expected)


def test_unpooling_on_cuda_matches_pytorch() -> None:
    x = torch.randn(2, 3, 8, 10, device=CUDA)
    pooled, indices = F.max_pool2d(x, 2, return_indices=True)
    _close(layers.max_unpool2d(pooled, indices, 2), F.max_unpool2d(pooled, indices, 2))
    _close(layers.nearest_unpool2d(pooled, 2), F.interpolate(pooled, scale_factor=2, mode="nearest"))
    nails = layers.bed_of_nails_unpool2d(pooled, 2)
    _close(nails[..., ::2, ::2], pooled)
    assert float(nails.abs().sum()) == pytest.approx(float(pooled.abs().sum()), rel=1e-5)


def test_convolution_as_a_matrix_on_cuda() -> None:
    w = torch.randn(3, 3, device=CUDA)
    x = torch.randn(6, 5, device=CUDA)
    m = layers.conv2d_as_matrix(w, (6, 5), stride=2, padding=1)
    assert m.device == w.device
    expected = F.conv2d(x[None, None], w[None, None], stride=2, padding=1)
    _close((m @ x.flatten()).view_as(expected), expected)


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: FCN(5, variant="32s", width=8), (2, 3, 64, 64)),
        (lambda: FCN(5, variant="16s", width=8), (2, 3, 64, 64)),
        (lambda: FCN(5, variant="8s", width=8), (2, 3, 64, 64)),
        (lambda: ConvAutoencoder(latent_dim=8), (4, 1, 28, 28)),
        (lambda: PatchClassifier(in_channels=3, num_classes=5, patch_size=11), (4, 3, 11, 11)),
        (
            lambda: fully_convolutional(PatchClassifier(in_channels=3, num_classes=5, patch_size=11)),
            (1, 3, 24, 20),
        ),
    ],
)
def test_models_on_cuda_match_the_cpu(make, shape) -> None:
    torch.manual_seed(0)
    model = make().eval()
    x = torch.rand(shape)
    with torch.no_grad():
        on_cpu = model(x)
        on_cuda = model.to(CUDA)(x.to(CUDA))
    assert on_cuda.device.type == CUDA.type and on_cuda.shape == on_cpu.shape
    torch.testing.assert_close(on_cuda.cpu(), on_cpu, rtol=1e-3, atol=1e-3)


def _squares(n: int = 256, side: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Dim noise with one bright 16x16 square each; the mask is the square (learnable at stride 8)."""
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(n, 3, side, side, generator=gen) * 0.3
    masks = torch.zeros(n, side, side, dtype=torch.long)
    for i in range(n):
        r, c = torch.randint(0, side - 16, (2,), generator=gen).tolist()
        images[i, :, r : r + 16, c : c + 16] += 0.6
        masks[i, r : r + 16, c : c + 16] = 1
    return images, masks


def test_fit_on_cuda_uses_amp_and_channels_last_and_learns() -> None:
    torch.manual_seed(0)
    images, masks = _squares()
    loader = make_loader(TensorDataset(images, masks), batch_size=32, shuffle=True, num_workers=2)
    assert loader.pin_memory and loader.num_workers == 2
    model = FCN(2, variant="8s", width=8)
    config = TrainConfig(task=Task.SEGMENTATION, epochs=6, lr=3e-3, progress=False)
    assert use_amp(CUDA, config) and use_channels_last(CUDA, config)
    first_conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    seen: list[tuple[bool, torch.dtype]] = []
    hook = first_conv.register_forward_hook(
        lambda _m, args, out: seen.append(
            (args[0].is_contiguous(memory_format=torch.channels_last), out.dtype)
        )
    )
    history = fit(model, loader, None, config)
    hook.remove()
    assert history.device.startswith("cuda") and history.steps == 6 * len(loader)
    assert seen and set(seen) == {(True, torch.float16)}, set(seen)  # channels_last batches, autocast to fp16
    weight = next(p for p in model.parameters() if p.dim() == 4)
    assert weight.is_cuda and weight.is_contiguous()  # the usual format again once training ends
    assert all(math.isfinite(v) for v in history.train_loss)
    assert history.train_loss[-1] < 0.6 * history.train_loss[0], history.train_loss
    predicted = predict(model, images[:16]).argmax(1)
    assert (predicted == masks[:16]).float().mean() > 0.85


def test_autoencoder_fit_on_cuda_lowers_the_reconstruction_error() -> None:
    torch.manual_seed(0)
    loader = make_loader(Subset(Digits("train"), range(512)), batch_size=32, shuffle=True)
    config = TrainConfig(task=Task.RECONSTRUCTION, epochs=15, lr=1e-3, progress=False)
    history = fit(ConvAutoencoder(latent_dim=8), loader, None, config)
    assert history.device.startswith("cuda")
    assert history.train_loss[-1] < 0.4 * history.train_loss[0], history.train_loss  # CPU: 0.202 -> 0.046
