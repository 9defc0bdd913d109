"""Public checks of patch-based segmentation: `extract_patches`, the `PatchClassifier`, `segment_by_patches`
and the fully convolutional twin, on tiny images (`settings.PATCHES`).

The per-patch reference is built here by indexing, straight from the docstring's definition, so each check
depends on one student function only.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from exercise_code import models

from .inputs import calling, expect_tensor, randn, seeded
from .runner import CheckFailed, check, compare
from .settings import PATCHES


def _counting(N: int, C: int, H: int, W: int) -> Tensor:
    """Images whose pixel values 1, 2, 3, ... say where they come from (none is 0, like zero padding)."""
    return torch.arange(1, N * C * H * W + 1, dtype=torch.float32).view(N, C, H, W)


def _reflect(k: int, size: int) -> int:
    """Index k of a row (or column) of length `size`, continued by reflection: ..., 2, 1, [0, 1, 2], 1, ..."""
    if k < 0:
        return -k
    return 2 * (size - 1) - k if k >= size else k


def _reference_patches(images: Tensor, P: int) -> Tensor:
    """Tensor[N * H * W, C, P, P]: patch n * H * W + i * W + j is centred on pixel (i, j) of image n."""
    N, C, H, W = images.shape
    r = P // 2
    patches = []
    for n in range(N):
        for i in range(H):
            rows = [_reflect(i + d, H) for d in range(-r, r + 1)]
            for j in range(W):
                cols = [_reflect(j + d, W) for d in range(-r, r + 1)]
                patches.append(images[n][:, rows][:, :, cols])  # (C, P, P)
    return torch.stack(patches)


def _call_extract(images: Tensor, P: int) -> tuple[Tensor, str]:
    N, C, H, W = images.shape
    what = f"extract_patches(images of shape {(N, C, H, W)}, patch_size={P})"
    with calling(what):
        got = expect_tensor(models.extract_patches(images, P), what)
    if tuple(got.shape) != (N * H * W, C, P, P):
        raise CheckFailed(
            f"{what}: expected shape (N * H * W, C, P, P) = {(N * H * W, C, P, P)}, got {tuple(got.shape)}"
        )
    return got, what


@check("patches", "extract_patches shapes")
def _shapes() -> None:
    for N, C, H, W, P in PATCHES.extract:
        _call_extract(randn(N, C, H, W, seed=0), P)


@check("patches", "extract_patches order (row-major per image)")
def _order() -> None:
    for N, C, H, W, P in PATCHES.extract:
        images = _counting(N, C, H, W)
        got, what = _call_extract(images, P)
        centres = got[:, 0, P // 2, P // 2]  # channel 0 at the centre of every patch
        expected = images[:, 0].reshape(-1)  # pixel (i, j) of image n at n * H * W + i * W + j
        wrong = (centres != expected).nonzero()
        if len(wrong):
            k = int(wrong[0])
            n, i, j = k // (H * W), k % (H * W) // W, k % W
            v = int(centres[k]) - 1  # which pixel the patch is centred on, from the value it holds
            found = (
                f"pixel ({v % (H * W) // W}, {v % W}) of image {v // (C * H * W)}"
                if 0 <= v < N * C * H * W and v % (C * H * W) < H * W
                else f"a value ({float(centres[k]):g}) that is no channel-0 pixel"
            )
            raise CheckFailed(
                f"{what}: {len(wrong)} of {len(centres)} patches are centred on the wrong pixel; patch {k} "
                f"should be centred on pixel ({i}, {j}) of image {n} (row-major: n * H * W + i * W + j), "
                f"but its centre is {found}"
            )


@check("patches", "extract_patches values (reflect padding at the border)")
def _values() -> None:
    for N, C, H, W, P in PATCHES.extract:
        images = _counting(N, C, H, W)
        got, what = _call_extract(images, P)
        expected = _reference_patches(images, P)
        wrong = (got != expected).flatten(1).any(1).nonzero()
        if len(wrong):
            k = int(wrong[0])
            n, i, j = k // (H * W), k % (H * W) // W, k % W
            bad = got[k] != expected[k]
            zeros = bool((got[k][bad] == 0).all())
            hint = " (zeros where the image should be continued by reflection)" if zeros else ""
            raise CheckFailed(
                f"{what}: {len(wrong)} of {len(got)} patches hold wrong values; patch {k} (centred on "
                f"pixel ({i}, {j}) of image {n}) differs from the reflect-padded window in "
                f"{int(bad.sum())} of {bad.numel()} values{hint}"
            )


def _per_patch_logits(net: nn.Module, images: Tensor) -> Tensor:
    """The classifier's logits of every pixel's patch, arranged as an image: Tensor[N, K, H, W]."""
    N, _, H, W = images.shape
    patches = _reference_patches(images, PATCHES.classifier[2])
    what = f"{_describe_classifier()} on the {len(patches)} patches of images of shape {tuple(images.shape)}"
    with torch.no_grad(), calling(what):
        logits = expect_tensor(net(patches), what)  # (N * H * W, K)
    if logits.dim() != 2 or len(logits) != len(patches):
        raise CheckFailed(f"{what}: expected logits of shape ({len(patches)}, K), got {tuple(logits.shape)}")
    return logits.view(N, H, W, -1).permute(0, 3, 1, 2)


def _classifier(images: Tensor) -> nn.Module:
    """A small PatchClassifier with He-scaled random weights (in `images`' dtype), its last bias set so that
    its labels vary over `images` (an untrained network tends to give one label everywhere)."""
    c_in, k, p, width, hidden = PATCHES.classifier
    with seeded(0):
        net = models.PatchClassifier(c_in, k, p, width=width, hidden=hidden).to(images.dtype).eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        params = list(net.parameters())
        for value in params:
            scale = (2.0 / value[0].numel()) ** 0.5 if value.dim() >= 2 else 0.0
            value.copy_(torch.randn(value.shape, generator=gen) * scale)
        if params and params[-1].shape == (k,):  # the output bias: centre each class's logits
            try:
                logits = _per_patch_logits(net, images).movedim(1, -1).reshape(-1, k)  # (N * H * W, K)
            except (CheckFailed, RuntimeError):
                return net  # a broken forward: the check's own call says what is wrong
            params[-1].sub_(logits.median(dim=0).values)
    return net


def _describe_classifier() -> str:
    c_in, k, p, width, hidden = PATCHES.classifier
    return f"PatchClassifier({c_in}, {k}, patch_size={p}, width={width}, hidden={hidden})"


@check("patches", "PatchClassifier logits")
def _classifier_logits() -> None:
    c_in, k, p, _, _ = PATCHES.classifier
    x = randn(5, c_in, p, p, seed=2)
    net = _classifier(randn(*PATCHES.image, seed=3))
    what = f"{_describe_classifier()} on patches of shape {tuple(x.shape)}"
    with torch.no_grad(), calling(what):
        logits = expect_tensor(net(x), what)
        if tuple(logits.shape) != (5, k):
            raise CheckFailed(f"{what}: expected logits of shape (5, {k}), got {tuple(logits.shape)}")
        compare(net(x[2:3]), logits[2:3], what, "patch 2 alone versus inside the batch")


@check("patches", "segment_by_patches vs the classifier patch by patch")
def _segment() -> None:
    images = randn(*PATCHES.image, seed=3, dtype=torch.float64)
    net = _classifier(images)
    N, _, H, W = images.shape
    logits = _per_patch_logits(net, images)
    top2 = logits.topk(2, dim=1).values
    clear = top2[:, 0] - top2[:, 1] > 1e-6  # (N, H, W): pixels without a near-tie
    expected = logits.argmax(1)
    batch = 17  # does not divide H * W: the last batch is a short one
    what = (
        f"segment_by_patches({_describe_classifier()}, images of shape {tuple(images.shape)}, "
        f"batch_size={batch})"
    )
    with calling(what):
        got = expect_tensor(models.segment_by_patches(net, images, batch_size=batch), what)
    if tuple(got.shape) != (N, H, W):
        raise CheckFailed(f"{what}: expected labels of shape {(N, H, W)}, got {tuple(got.shape)}")
    if got.is_floating_point():
        raise CheckFailed(f"{what}: expected integer labels (the argmax of the logits), got {got.dtype}")
    wrong = ((got.long() != expected) & clear).nonzero()
    if len(wrong):
        n, i, j = (int(v) for v in wrong[0])
        raise CheckFailed(
            f"{what}: {len(wrong)} of {got.numel()} pixel labels are wrong; at pixel ({i}, {j}) of image {n} "
            f"the classifier's argmax for the patch centred there is {int(expected[n, i, j])}, "
            f"got {int(got[n, i, j])}"
        )


@check("patches", "fully_convolutional vs the classifier patch by patch")
def _fully_convolutional() -> None:
    images = randn(*PATCHES.image, seed=4)  # float32, as the models are trained
    net = _classifier(images)
    expected = _per_patch_logits(net, images)
    what = f"fully_convolutional({_describe_classifier()})(images of shape {tuple(images.shape)})"
    with torch.no_grad(), calling(what):
        got = models.fully_convolutional(net)(images)
    compare(got, expected, what, "versus the classifier's logits of each pixel's patch, Tensor[N, K, H, W]")
