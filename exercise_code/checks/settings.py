"""The one place for the public checks' settings: check groups, tolerances and argument combinations."""

from __future__ import annotations

from dataclasses import dataclass

Pair = int | tuple[int, int]

GROUP_MODULES: dict[str, str] = {
    "layers": "exercise_code.checks.layers",
}
"""Check group -> the module whose `@check(group, name)` functions define it; a new group is one line."""


@dataclass(frozen=True)
class Tolerance:
    """A result passes where |got - expected| <= atol + rtol * |expected| (float32 inputs)."""

    atol: float = 1e-5
    rtol: float = 1e-4


TOLERANCE = Tolerance()
"""The tolerance of every public numeric comparison."""


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
