"""Training-step time per freezing policy: a frozen prefix builds no autograd graph, so its
backward pass (and its weight gradients) are skipped.

One step = forward + backward + optimizer step on a batch of pre-made uint8 images at the
backbone's input size (no decoding), median over timed steps after warm-up steps.

With ``--data DIR`` (an image folder, e.g. hymenoptera's train split) it also runs one real
training epoch per policy (``FineTuneClassifier``: JPEG decoding and augmentation in the
loader, no validation split) and reports the epoch's images/s, the share of it spent
waiting for decoded images (``history_[-1]["data_wait_fraction"]``: whether data loading
is the bottleneck) and the process's CPU utilisation (``cpu_utilisation``: CPU seconds per
second per core).

    python benchmarks/finetune_step.py [--backbone efficientnet_lite0] [--batch-size 32] [--steps 5]
                                       [--data ../shared/data/hymenoptera_data/train]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from featx.backbones import create_backbone
from featx.runtime import reuse_large_allocations
from featx.finetune import parse_freeze, stage_groups
from featx.finetune._freeze import apply_freeze, freeze_batchnorm_statistics
from featx.finetune._net import FineTuneNet
from featx.finetune._optim import TrainableOptimizer


def step_seconds(backbone, freeze: str, batch_size: int, steps: int, warmup: int = 2) -> tuple[float, int]:
    torch.manual_seed(0)
    net = FineTuneNet(backbone, 2).to(memory_format=torch.channels_last)
    groups = stage_groups(net.body)
    apply_freeze(net.body, parse_freeze(freeze).frozen(0, groups))
    opt = TrainableOptimizer(net, groups, kind="adamw", lr=1e-3, backbone_lr_factor=0.1, layer_decay=None,
                             weight_decay=0.01, momentum=0.9)
    opt.sync()
    net.train()
    freeze_batchnorm_statistics(net.body)
    x = torch.randint(0, 256, (batch_size, 3, *backbone.preprocessing.input_size), dtype=torch.uint8)
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.arange(batch_size) % 2
    times = []
    with reuse_large_allocations():  # as FineTuneClassifier trains on the CPU
        for i in range(warmup + steps):
            start = time.perf_counter()
            loss = F.cross_entropy(net(x), y)
            opt.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            opt.optimizer.step()
            if i >= warmup:
                times.append(time.perf_counter() - start)
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    return statistics.median(times), trainable


def epoch_rates(backbone, freeze: str, data: Path, batch_size: int) -> tuple[float, float, float]:
    """images/s, data-wait share and CPU utilisation of one real training epoch on ``data``."""
    from featx.finetune import FineTuneClassifier

    clf = FineTuneClassifier(backbone, freeze, epochs=1, batch_size=batch_size, validation_fraction=0.0,
                             progress=False).fit(str(data))
    last = clf.history_[-1]
    return last["images_per_s"], last["data_wait_fraction"], last["cpu_utilisation"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--data", type=Path, help="also time one real epoch per policy on this image folder")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "finetune_step.json")
    args = p.parse_args(argv)
    backbone = create_backbone(args.backbone)
    n = len(stage_groups(FineTuneNet(backbone, 2).body))
    policies = ["none", f"first:{n // 2}", "last:2", "all"]
    rows = []
    for freeze in policies:
        secs, trainable = step_seconds(backbone, freeze, args.batch_size, args.steps)
        rows.append({"freeze": freeze, "step_seconds": secs, "images_per_s": args.batch_size / secs,
                     "trainable_parameters": trainable})
        if args.data:
            rate, wait, cpu = epoch_rates(backbone, freeze, args.data, args.batch_size)
            rows[-1].update(epoch_images_per_s=rate, data_wait_fraction=wait, cpu_utilisation=cpu)
    full = rows[0]["step_seconds"]
    print(f"{args.backbone}, batch {args.batch_size}, float32, {torch.get_num_threads()} threads")
    real = " real epoch img/s | waiting for data | CPU utilisation |" if args.data else ""
    print(f"| freeze | trainable parameters | step s | images/s | vs full fine-tune |{real}")
    print("|---|---:|---:|---:|---:|" + ("---:|---:|---:|" if args.data else ""))
    for r in rows:
        r["speedup_vs_full"] = full / r["step_seconds"]
        extra = (f" {r['epoch_images_per_s']:.1f} | {100 * r['data_wait_fraction']:.0f}% "
                 f"| {100 * r['cpu_utilisation']:.0f}% |") if args.data else ""
        print(f"| {r['freeze']} | {r['trainable_parameters']:,} | {r['step_seconds']:.2f} | {r['images_per_s']:.1f} "
              f"| {r['speedup_vs_full']:.2f}x |{extra}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"backbone": args.backbone, "batch_size": args.batch_size,
                                    "data": str(args.data) if args.data else None, "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
