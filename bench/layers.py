"""Benchmark: the kit's layers against PyTorch's built-ins, timed side by side in the same run.

Prints, per realistic shape, the median time of each kit function and of the matching PyTorch op,
and their ratio (kit / torch). The kit's `conv_transpose2d` runs one `F.conv2d` for all stride phases;
the rows marked "fold route" time the other vectorisation the notebook suggests (one matrix product
for all stamps, then `F.fold`), as a baseline for that choice. Run:
`.venv/bin/python bench/layers.py [--threads N]`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from exercise_code.layers import conv_transpose2d, conv_transpose2d_loops, max_unpool2d


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows: list[tuple[str, str, float, float]] = []

    # FCN-style 2x upsampling: N=8, C=64, 32x32, kernel 4, stride 2, padding 1
    x = torch.randn(8, 64, 32, 32)
    w = torch.randn(64, 64, 4, 4)
    b = torch.randn(64)
    shape = "N8 C64 32x32 k4 s2 p1"
    kit = median_ms(lambda: conv_transpose2d(x, w, b, 2, 1), args.repeats)
    ref = median_ms(lambda: F.conv_transpose2d(x, w, b, 2, 1), args.repeats)
    rows.append(("conv_transpose2d", shape, kit, ref))
    xg, wg = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
    kit = median_ms(forward_backward(conv_transpose2d, xg, wg, None, 2, 1), args.repeats)
    ref = median_ms(forward_backward(F.conv_transpose2d, xg, wg, None, 2, 1), args.repeats)
    rows.append(("conv_transpose2d fwd+bwd", shape, kit, ref))
    kit = median_ms(forward_backward(fold_route, xg, wg, None, 2, 1), args.repeats)
    rows.append(("  fold route fwd+bwd", shape, kit, ref))
    small = x[:1, :16, :16, :16].contiguous()
    ws = w[:16, :16].contiguous()
    kit = median_ms(lambda: conv_transpose2d_loops(small, ws, None, 2, 1), 3, warmup=1)
    ref = median_ms(lambda: F.conv_transpose2d(small, ws, None, 2, 1), args.repeats)
    rows.append(("conv_transpose2d_loops", "N1 C16 16x16 k4 s2 p1", kit, ref))

    # FCN-32s head: 21-class score map upsampled 32x (kernel 64, stride 32, padding 16)
    scores = torch.randn(1, 21, 8, 8)
    w32 = torch.randn(21, 21, 64, 64)
    shape = "N1 C21 8x8 -> 256x256 k64 s32 p16"
    kit = median_ms(lambda: conv_transpose2d(scores, w32, None, 32, 16), args.repeats)
    ref = median_ms(lambda: F.conv_transpose2d(scores, w32, None, 32, 16), args.repeats)
    rows.append(("conv_transpose2d", shape, kit, ref))

    # FCN-8s on digit scenes, training: 11-class stride-8 scores of 16 scenes upsampled 8x (kernel 16)
    s8 = torch.randn(16, 11, 8, 8, requires_grad=True)
    w8 = torch.randn(11, 11, 16, 16, requires_grad=True)
    shape = "N16 C11 8x8 -> 64x64 k16 s8 p4"
    ref = median_ms(forward_backward(F.conv_transpose2d, s8, w8, None, 8, 4), args.repeats)
    kit = median_ms(forward_backward(conv_transpose2d, s8, w8, None, 8, 4), args.repeats)
    rows.append(("conv_transpose2d fwd+bwd", shape, kit, ref))
    kit = median_ms(forward_backward(fold_route, s8, w8, None, 8, 4), args.repeats)
    rows.append(("  fold route fwd+bwd", shape, kit, ref))

    # SegNet-style max unpooling of a 2x2 pool
    feats = torch.randn(8, 64, 32, 32)
    pooled, idx = F.max_pool2d(feats, 2, return_indices=True)
    kit = median_ms(lambda: max_unpool2d(pooled, idx, 2), args.repeats)
    ref = median_ms(lambda: F.max_unpool2d(pooled, idx, 2), args.repeats)
    rows.append(("max_unpool2d", "N8 C64 16x16 -> 32x32", kit, ref))

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats} runs")
    print(f"{'op':<26} {'shape':<36} {'kit ms':>9} {'torch ms':>9} {'kit/torch':>9}")
    for op, shape, kit, ref in rows:
        print(f"{op:<26} {shape:<36} {kit:9.2f} {ref:9.2f} {kit / ref:9.2f}x")


if __name__ == "__main__":
    main()
