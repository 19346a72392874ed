"""TF "SAME" padding inside the convolution vs timm's padded copy, on the folded backbone.

Two folded copies of the backbone, identical except that one keeps timm's ``Conv2dSame``
(pads a copy of each strided layer's input) and the other uses featx's ``SamePadConv2d``
(one zero tap more, padding inside ``conv2d``). Forward passes on the same uint8 batch
(channels-last, glibc heap reuse, as extraction runs them), interleaved over ``--repeats``
rounds; reports the median images/s of each and whether the outputs are bit-identical.

    python benchmarks/same_padding.py [--batch-size 32] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from featx.backbones import create_backbone
from featx.runtime import reuse_large_allocations


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "same_padding.json"))
    args = p.parse_args(argv)

    inlined = create_backbone(args.backbone).folded()
    with mock.patch("featx.backbones._same_pad.replace_same_padding", return_value=0):
        copied = create_backbone(args.backbone).folded()
    models = {"timm Conv2dSame (padded copy)": copied, "featx SamePadConv2d": inlined}
    models = {k: m.eval().to(memory_format=torch.channels_last) for k, m in models.items()}
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (args.batch_size, 3, *inlined.preprocessing.input_size), dtype=torch.uint8,
                      generator=g).contiguous(memory_format=torch.channels_last)
    rates = {k: [] for k in models}
    with torch.inference_mode(), reuse_large_allocations(True):
        outputs = {k: m(x) for k, m in models.items()}
        for _ in range(args.repeats):
            for k, m in models.items():
                m(x)
                start = time.perf_counter()
                for _ in range(4):
                    m(x)
                rates[k].append(4 * args.batch_size / (time.perf_counter() - start))
    a, b = outputs.values()
    same = bool(torch.equal(a, b))
    rows = [{"variant": k, "img_per_s": float(np.median(r)), "all": r} for k, r in rates.items()]
    base = rows[0]["img_per_s"]
    print(f"{args.backbone}, batch {args.batch_size}, float32 CPU, {torch.get_num_threads()} threads, "
          f"median of {args.repeats} interleaved rounds; {inlined.info.get('same_padding_inlined', 0)} convs")
    print("| variant | img/s | vs padded copy |\n|---|---:|---:|")
    for r in rows:
        print(f"| {r['variant']} | {r['img_per_s']:.1f} | {r['img_per_s'] / base:.2f}x |")
    print(f"outputs bit-identical: {same} (max abs difference {float((a - b).abs().max()):.3g})")
    out = {"meta": {"backbone": args.backbone, "batch_size": args.batch_size, "repeats": args.repeats,
                    "threads": torch.get_num_threads(), "torch": torch.__version__,
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S")},
           "rows": rows, "bit_identical": same}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
