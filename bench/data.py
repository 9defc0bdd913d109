"""Digit-scene generation throughput on one core, class frequencies, and how much output stride costs.

    .venv/bin/python bench/data.py                      # 1,000 scenes of 64 x 64: scenes/s, class shares
    .venv/bin/python bench/data.py --bounds 100         # + best mIoU reachable from stride-s logits
    .venv/bin/python bench/data.py --preview build/scenes_preview.png

The bound fits free logits at 1/s resolution per image (Adam on the cross-entropy of their bilinear
upsampling): no network whose last step upsamples stride-s scores bilinearly can beat it. A second bound
fits one shared learned transposed convolution (kernel 2s, as FCN's) together with the logits.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from exercise_code.data import DigitScenes, mnist_subset, show_scenes
from exercise_code.data.scene_gen import SceneConfig, bold_digits
from exercise_code.layers import bilinear_kernel


def mean_iou(pred: torch.Tensor, target: torch.Tensor, num_classes: int = 11) -> float:
    ious = []
    for c in range(num_classes):
        union = ((pred == c) | (target == c)).sum()
        if union:
            ious.append(float(((pred == c) & (target == c)).sum() / union))
    return sum(ious) / len(ious)


def stride_bound(masks: torch.Tensor, stride: int, steps: int = 300, learned: bool = False) -> float:
    """mIoU of the best logits at 1/stride resolution, upsampled bilinearly (an upper bound for FCN heads).

    With `learned`, the upsampling is one transposed convolution shared by all scenes (11 -> 11 classes,
    kernel 2 * stride, as FCN's), fitted together with the logits: the bound for a learned FCN head.
    """
    N, H, W = masks.shape
    logits = torch.zeros(N, 11, H // stride, W // stride, requires_grad=True)
    kernel = bilinear_kernel(11, 11, 2 * stride).requires_grad_(learned)
    groups = [{"params": [logits], "lr": 0.3}] + ([{"params": [kernel], "lr": 0.01}] if learned else [])
    opt = torch.optim.Adam(groups)

    def upsample() -> torch.Tensor:
        if learned:
            return F.conv_transpose2d(logits, kernel, stride=stride, padding=stride // 2)
        return F.interpolate(logits, size=(H, W), mode="bilinear", align_corners=False)

    for _ in range(steps):
        loss = F.cross_entropy(upsample(), masks)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return mean_iou(upsample().argmax(1), masks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=1000, help="scenes to generate for the timing")
    parser.add_argument("--size", type=int, default=64, help="image size")
    parser.add_argument("--bounds", type=int, default=0, help="scenes for the output-stride bound (0: skip)")
    parser.add_argument("--preview", type=Path, default=None, help="save a figure of 8 scenes here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    t0 = time.perf_counter()
    mnist_subset()
    bold_digits(SceneConfig().boldness)
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    ds = DigitScenes("train", args.scenes, image_size=args.size, seed=0)
    seconds = time.perf_counter() - t0
    masks = ds.masks.long()
    share = torch.bincount(masks.flatten(), minlength=11).double() / masks.numel()
    print(
        json.dumps(
            {
                "scenes": args.scenes,
                "image_size": args.size,
                "threads": torch.get_num_threads(),
                "load_digits_s": round(warm, 3),
                "generate_s": round(seconds, 3),
                "scenes_per_s": round(args.scenes / seconds, 1),
                "background_share": round(float(share[0]), 4),
                "digit_class_shares": [round(float(v), 4) for v in share[1:]],
            }
        )
    )
    if args.bounds:
        bound_masks = DigitScenes("val", args.bounds, image_size=args.size).masks.long()
        for learned in (False, True):
            strides = (2, 4, 8, 16, 32)
            bounds = {f"stride_{s}": round(stride_bound(bound_masks, s, learned=learned), 3) for s in strides}
            key = "best_miou_from_stride_" + ("learned_upsampling" if learned else "bilinear")
            print(json.dumps({"bound_scenes": args.bounds, key: bounds}))
    if args.preview is not None:
        args.preview.parent.mkdir(parents=True, exist_ok=True)
        show_scenes(ds, 8).savefig(args.preview, dpi=120)
        print(json.dumps({"preview": str(args.preview)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
