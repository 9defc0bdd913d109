"""Benchmark: the kit's layers against PyTorch's built-ins, and routes to a transpose convolution, timed
side by side in the same run.

Prints, per realistic shape, the median time of each route and of the matching PyTorch op, and their
ratio (route / torch). Routes of `conv_transpose2d`:

- "kit": the kit's reference, the textbook route: zero insertion, padding, one `F.conv2d` with the
  flipped kernel. It multiplies every inserted zero, so it does stride**2 times the work it needs;
- "phase" (optional, not the reference): the sub-pixel route below, one `F.conv2d` for all stride
  phases and an interleave; it skips the zeros;
- "fold": one matrix product for all stamps, then `F.fold` adds the overlaps.

Run `.venv/bin/python bench/layers.py [--threads N] [--repeats R] [--quick]`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from exercise_code.layers import conv_transpose2d, conv_transpose2d_loops, max_unpool2d
from exercise_code.utils import as_pair


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def phase_route(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> torch.Tensor:
    """Optional route (not the kit's reference): transposed convolution as s * s interleaved convolutions.

    Output row q * s + r (its phase r) gathers kernel taps r, r + s, r + 2s, ... from input rows q, q - 1,
    q - 2, ...: each of the s * s phases is an ordinary stride-1 convolution of the *original* input with its
    own sub-kernel of about k / s taps per side, and the phases interleave. No zero is inserted, so this
    does stride**2 times fewer multiplications than zero insertion. (With k = 3, s = 2 one phase has two
    taps and the other one: the checkerboard of notebook 1, Part 4.)
    x (Tensor[N, C_in, H, W]), weight (Tensor[C_in, C_out / groups, kH, kW]) -> Tensor[N, C_out, H_out, W_out]
    as `F.conv_transpose2d` (arguments are not validated here).
    """
    (sH, sW), (pH, pW) = as_pair(stride, "stride"), as_pair(padding, "padding")
    (oH, oW), (dH, dW) = as_pair(output_padding, "output_padding"), as_pair(dilation, "dilation")
    N, C_in, H, W = x.shape
    _, C_out_g, kH, kW = weight.shape
    g = groups
    H_out = (H - 1) * sH - 2 * pH + dH * (kH - 1) + oH + 1
    W_out = (W - 1) * sW - 2 * pW + dW * (kW - 1) + oW + 1
    if (dH, dW) != (1, 1):  # a dilated kernel is an ordinary kernel with zeros between its taps
        dilated = weight.new_zeros(C_in, C_out_g, dH * (kH - 1) + 1, dW * (kW - 1) + 1)
        dilated[:, :, ::dH, ::dW] = weight
        weight, kH, kW = dilated, dilated.shape[2], dilated.shape[3]
    mH, mW = -(-kH // sH), -(-kW // sW)  # taps per phase
    w = F.pad(weight, (0, mW * sW - kW, 0, mH * sH - kH))  # (C_in, C_out/g, mH*sH, mW*sW), zero taps added
    w = w.reshape(g, C_in // g, C_out_g, mH, sH, mW, sW).flip(3, 5)  # rows q - m: a flipped kernel
    w = w.permute(0, 2, 4, 6, 1, 3, 5).reshape(g * C_out_g * sH * sW, C_in // g, mH, mW)
    x = F.pad(x, (mW - 1, mW - 1, mH - 1, mH - 1))  # every stamp that reaches the output, also at borders
    phases = F.conv2d(x, w, groups=g)  # (N, C_out * sH * sW, Hq, Wq), Hq = H + mH - 1
    Hq, Wq = phases.shape[-2:]
    phases = phases.reshape(N, g * C_out_g, sH, sW, Hq, Wq)
    full = phases.permute(0, 1, 4, 2, 5, 3).reshape(N, g * C_out_g, Hq * sH, Wq * sW)  # interleave
    # crop `padding` on top/left; bottom/right rows past the last stamp (output_padding) are zeros
    out = F.pad(full, (-pW, W_out + pW - Wq * sW, -pH, H_out + pH - Hq * sH))
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def fold_route(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, stride: int = 1, padding: int = 0
) -> torch.Tensor:
    """Transposed convolution as one matrix product for all stamps, then `F.fold` adds the overlaps."""
    N, C_in, H, W = x.shape
    _, C_out, k, _ = weight.shape
    cols = weight.reshape(C_in, -1).t() @ x.reshape(N, C_in, H * W)  # (N, C_out * k * k, H * W)
    full = F.fold(cols, ((H - 1) * stride + k, (W - 1) * stride + k), k, stride=stride)
    out = full[:, :, padding : full.shape[2] - padding, padding : full.shape[3] - padding]
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def forward_backward(op: Callable[..., torch.Tensor], *args, **kwargs) -> Callable[[], None]:
    leaves = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]

    def run() -> None:
        out = op(*args, **kwargs)
        torch.autograd.grad(out.sum(), leaves)

    return run


ROUTES: dict[str, Callable[..., torch.Tensor]] = {
    "kit": conv_transpose2d,
    "phase": phase_route,
    "fold": fold_route,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per route; the median is kept")
    parser.add_argument("--quick", action="store_true", help="3 repeats, 1 warm-up: a smoke test (seconds)")
    args = parser.parse_args()
    repeats, warmup = (3, 1) if args.quick else (args.repeats, 2)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows: list[tuple[str, str, str, float, float]] = []

    def timed(op: Callable[..., torch.Tensor], x: torch.Tensor, w: torch.Tensor, stride: int, padding: int):
        """Median ms of op(x, w, None, stride, padding): forward+backward if x requires grad, else forward."""
        if x.requires_grad:
            return median_ms(forward_backward(op, x, w, None, stride, padding), repeats, warmup)
        return median_ms(lambda: op(x, w, None, stride, padding), repeats, warmup)

    def compare(op: str, shape: str, routes: tuple[str, ...], x, w, stride: int, padding: int) -> None:
        """Check each route against F.conv_transpose2d, then time it next to it."""
        want = F.conv_transpose2d(x, w, None, stride, padding)
        for route in routes:
            got = ROUTES[route](x, w, None, stride, padding)
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * float(want.detach().abs().max()))
        ref = timed(F.conv_transpose2d, x, w, stride, padding)
        op += " fwd+bwd" if x.requires_grad else ""
        rows.extend((op, shape, route, timed(ROUTES[route], x, w, stride, padding), ref) for route in routes)

    # FCN-style 2x upsampling (and the convolutional autoencoder's decoder): kernel 4, stride 2, padding 1
    x = torch.randn(8, 64, 32, 32)
    w = torch.randn(64, 64, 4, 4)
    shape = "N8 C64 32x32 k4 s2 p1"
    compare("conv_transpose2d", shape, ("kit", "phase"), x, w, 2, 1)
    xg, wg = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
    compare("conv_transpose2d", shape, ("kit", "phase", "fold"), xg, wg, 2, 1)
    small = x[:1, :16, :16, :16].contiguous()
    ws = w[:16, :16].contiguous()
    kit = median_ms(lambda: conv_transpose2d_loops(small, ws, None, 2, 1), 3, warmup=1)
    ref = median_ms(lambda: F.conv_transpose2d(small, ws, None, 2, 1), repeats, warmup)
    rows.append(("conv_transpose2d_loops", "N1 C16 16x16 k4 s2 p1", "loops", kit, ref))

    # FCN-8s on digit scenes, training: 11-class stride-8 scores of 16 scenes upsampled 8x (kernel 16)
    s8 = torch.randn(16, 11, 8, 8, requires_grad=True)
    w8 = torch.randn(11, 11, 16, 16, requires_grad=True)
    compare("conv_transpose2d", "N16 C11 8x8 -> 64x64 k16 s8 p4", ("kit", "phase", "fold"), s8, w8, 8, 4)

    # FCN-32s head on one digit scene: 11-class 2x2 score map upsampled 32x (kernel 64, stride 32, padding 16)
    scores = torch.randn(1, 11, 2, 2)
    w32 = torch.randn(11, 11, 64, 64)
    compare("conv_transpose2d", "N1 C11 2x2 -> 64x64 k64 s32 p16", ("kit", "phase"), scores, w32, 32, 16)

    # SegNet-style max unpooling of a 2x2 pool
    feats = torch.randn(8, 64, 32, 32)
    pooled, idx = F.max_pool2d(feats, 2, return_indices=True)
    kit = median_ms(lambda: max_unpool2d(pooled, idx, 2), repeats, warmup)
    ref = median_ms(lambda: F.max_unpool2d(pooled, idx, 2), repeats, warmup)
    rows.append(("max_unpool2d", "N8 C64 16x16 -> 32x32", "kit", kit, ref))

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {repeats} runs")
    print(f"{'op':<32} {'shape':<34} {'route':<6} {'ms':>9} {'torch ms':>9} {'/torch':>8}")
    for op, shape, route, ms, ref in rows:
        print(f"{op:<32} {shape:<34} {route:<6} {ms:9.2f} {ref:9.2f} {ms / ref:7.2f}x")


if __name__ == "__main__":
    main()
