"""Forward-pass throughput against batch size, and what ``batch_size="auto"`` picks.

For each batch size (CPU: 8-128; GPU: 32-1024) the folded backbone runs on a random uint8
batch exactly as extraction runs it (channels-last, autocast in the given precision,
glibc heap reuse on the CPU); the sizes are interleaved over ``--repeats`` rounds and the
median images/s is reported, with the peak GPU memory. Then ``auto_batch_size`` is run
and its choice and probing time are recorded. Prints a table, writes JSON.

    python benchmarks/batch_size.py [--device auto] [--precision auto] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from featx.backbones import create_backbone
from featx.runtime import resolve_device
from featx.extract._batch import auto_batch_size, forward_rate
from featx.runtime import check_precision, inference_model
from featx.runtime import reuse_large_allocations


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="float32", help="float32, bfloat16, float16 or auto")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "batch_size.json"))
    args = p.parse_args(argv)

    device = resolve_device(args.device)
    precision = check_precision(args.precision, device)
    backbone = create_backbone(args.backbone)
    model = inference_model(backbone.folded(), device)
    sizes = [8, 16, 32, 64, 128] if device.type == "cpu" else [32, 64, 128, 256, 512, 1024]
    size = backbone.preprocessing.input_size
    rates, peaks = {b: [] for b in sizes}, {}
    with reuse_large_allocations(device.type == "cpu"):
        for _ in range(args.repeats):
            for b in sizes:
                rates[b].append(forward_rate(model, device, precision, size, b, repeats=max(2, 256 // b),
                                             memory_fraction=1.0))
                if device.type == "cuda":
                    peaks[b] = torch.cuda.max_memory_reserved(device) / 2**20
        start = time.perf_counter()
        chosen = auto_batch_size(model, device, precision, size)
        probe_s = time.perf_counter() - start

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    rows = [{"batch_size": b, "img_per_s": None if None in r else float(np.median(r)),
             "all": r, "peak_mib": peaks.get(b)} for b, r in rates.items()]
    print(f"{args.backbone}, {precision}, {device} ({name}), median of {args.repeats} interleaved rounds")
    print("| batch | img/s | peak GPU MiB |\n|---:|---:|---:|")
    for r in rows:
        rate = "did not fit" if r["img_per_s"] is None else f"{r['img_per_s']:.1f}"
        peak = "" if r["peak_mib"] is None else f"{r['peak_mib']:,.0f}"
        print(f"| {r['batch_size']} | {rate} | {peak} |")
    print(f"batch_size='auto' chose {chosen} in {probe_s:.1f} s")
    out = {"meta": {"backbone": args.backbone, "device": str(device), "device_name": name, "precision": precision,
                    "repeats": args.repeats, "torch": torch.__version__, "time": time.strftime("%Y-%m-%dT%H:%M:%S")},
           "rows": rows, "auto": {"batch_size": chosen, "probe_s": probe_s}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
