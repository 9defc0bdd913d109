"""The one place for the public checks' settings: check groups, points and argument combinations.

The tolerance is `exercise_code.testing.TOLERANCE`, shared with the grader; it is re-exported here."""

from __future__ import annotations

from dataclasses import dataclass, fields

from exercise_code.testing import TOLERANCE as TOLERANCE
from exercise_code.testing import Tolerance as Tolerance

Pair = int | tuple[int, int]

GROUP_MODULES: dict[str, str] = {
    "layers": "exercise_code.checks.layers",
    "patches": "exercise_code.checks.patches",
    "fcn": "exercise_code.checks.fcn",
    "autoencoders": "exercise_code.checks.autoencoders",
    "models": "exercise_code.checks.models",
}
"""Check group -> the module whose `@check(group, name)` functions define it; a new group is one line.
`run_checks()` with no group runs them all, in this order."""


@dataclass(frozen=True)
class PublicPoints:
    """Points of the public checks, per group, split evenly over the group's checks.

    This is the public checks' own scale, so that a student sees a score before submitting. The graded
    rubric is not part of the kit: the grader runs more tests, on hidden cases, with its own points.
    """

    layers: float = 10
    patches: float = 10
    fcn: float = 10
    autoencoders: float = 10
    models: float = 10

    def for_group(self, group: str) -> float | None:
        """The points of `group`, or None for a group without points (a group added in a test)."""
        return float(getattr(self, group)) if group in {f.name for f in fields(self)} else None


POINTS = PublicPoints()
"""The points every score line shows (labelled as the visible checks only)."""


@dataclass(frozen=True)
class TransposeCase:
    """Keyword arguments of one `conv_transpose2d` call beyond x, weight and bias."""

    stride: Pair = 1
    padding: Pair = 0
    output_padding: Pair = 0
    dilation: Pair = 1
    groups: int = 1

    def kwargs(self) -> dict[str, Pair]:
        return dict(
            stride=self.stride,
            padding=self.padding,
            output_padding=self.output_padding,
            dilation=self.dilation,
            groups=self.groups,
        )

    def __str__(self) -> str:
        defaults = TransposeCase()
        changed = [f"{k}={v}" for k, v in self.kwargs().items() if v != getattr(defaults, k)]
        return ", ".join(changed) or "defaults"


@dataclass(frozen=True)
class LayerChecks:
    """Argument combinations the `layers` checks try (small, so every check runs in milliseconds)."""

    nearest_scales: tuple[Pair, ...] = (2, (2, 3), (1, 4))
    bed_of_nails_scales: tuple[Pair, ...] = ((2, 2), (3, 2))
    max_unpool: tuple[tuple[Pair, Pair, Pair], ...] = ((2, 2, 0), (3, 2, 1), ((2, 3), (2, 1), 0))
    """(kernel_size, stride, padding) of the max-pooling whose indices are unpooled."""
    conv1d: tuple[tuple[int, int], ...] = ((1, 0), (2, 1), (3, 2))
    """(stride, padding) for a length-9 input and a size-3 kernel."""
    conv2d: tuple[tuple[Pair, Pair], ...] = ((1, 0), (2, 1), ((2, 1), (0, 1)))
    """(stride, padding) for a 5 x 6 input and a 3 x 2 kernel."""
    transpose_loops: tuple[TransposeCase, ...] = (
        TransposeCase(),
        TransposeCase(stride=2, padding=1),
        TransposeCase(stride=(3, 2), padding=(1, 0)),
    )
    transpose: tuple[TransposeCase, ...] = (
        TransposeCase(stride=2, padding=1),
        TransposeCase(stride=(2, 3), padding=(1, 0), output_padding=(1, 2)),
        TransposeCase(stride=1, padding=2, dilation=2),
        TransposeCase(stride=2, padding=1, output_padding=1, groups=2),
    )
    bilinear_strides: tuple[int, ...] = (2, 4)
    """Upsampling factors s: kernel 2s, padding s / 2, compared with F.interpolate away from the border."""


LAYERS = LayerChecks()


@dataclass(frozen=True)
class PatchChecks:
    """Inputs of the `patches` checks: tiny images whose height and width differ (so that a column-major
    order shows) and a small patch classifier."""

    extract: tuple[tuple[int, int, int, int, int], ...] = ((2, 3, 5, 6, 3), (1, 1, 7, 4, 5), (1, 2, 3, 4, 1))
    """(N, C, H, W, patch_size) of the `extract_patches` calls."""
    classifier: tuple[int, int, int, int, int] = (3, 4, 11, 4, 16)
    """PatchClassifier(in_channels, num_classes, patch_size, width, hidden)."""
    image: tuple[int, int, int, int] = (2, 3, 9, 7)
    """(N, C, H, W) of the images segmented patch by patch and in one pass."""


@dataclass(frozen=True)
class FCNChecks:
    """Models and inputs of the `fcn` checks (a narrow backbone: every check runs in milliseconds)."""

    variants: tuple[str, ...] = ("32s", "16s", "8s")
    num_classes: int = 5
    """No channel count of the backbone (4 -> 16, 32, 32) or the head (24): no layer matches by accident."""
    width: int = 4
    head_channels: int = 24
    sizes: tuple[tuple[int, int], ...] = ((37, 53), (64, 32))
    """(H, W) of the inputs: any size, not only multiples of 32."""
    upsamplers: tuple[tuple[str, int], ...] = (("32s", 1), ("16s", 2), ("8s", 3))
    """Transposed convolutions each variant needs: x32; x2, x16; x2, x2, x8."""


@dataclass(frozen=True)
class AutoencoderChecks:
    """Models and inputs of the `autoencoders` checks; latent sizes come from `CONFIG.latent_dim`."""

    batch: int = 3
    hidden: tuple[int, ...] = (32,)
    """Hidden layer sizes of the MLP encoder, decoder and autoencoder."""
    decoder_shapes: tuple[tuple[int, ...], ...] = ((1, 28, 28), (2, 6, 5))
    """`out_shape` of the decoders."""
    conv_width: int = 4
    linear: tuple[int, int] = (3, 12)
    """LinearAutoencoder(latent_dim, in_features)."""
    affine_weights: tuple[tuple[float, float], ...] = ((0.5, 0.5), (0.25, 0.75), (2.0, -1.0))
    """(a, b) with a + b = 1: an affine map f has f(a x + b y) = a f(x) + b f(y)."""
    classes: int = 10


@dataclass(frozen=True)
class ModelChecks:
    """The `models` checks: one per `CONFIG.model_names` name, under `<root>/models/`."""

    folder: str = "models"
    notebooks: tuple[tuple[str, str], ...] = (
        ("segmentation", "03_fcn"),
        ("autoencoder", "04_autoencoders"),
        ("classifier", "04_autoencoders"),
    )
    """Model name -> the notebook that trains and saves it (named in "not trained yet")."""

    def notebook(self, name: str) -> str:
        return dict(self.notebooks).get(name, "the notebooks")


PATCHES = PatchChecks()
FCN = FCNChecks()
AUTOENCODERS = AutoencoderChecks()
MODELS = ModelChecks()
