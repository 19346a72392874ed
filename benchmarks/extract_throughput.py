"""Extraction throughput: forward-only vs featx end to end vs the common tutorial loop.

(a) forward-only: featx's backbone as extraction runs it (BatchNorm folded, channels-last,
    large allocations kept in the heap) on pre-made uint8 tensors, batch 32;
(b) featx end to end: JPEG files -> decode/resize in DataLoader workers -> forward -> HDF5,
    from an empty cache (``extract_features``; backbone construction excluded);
(c) the common tutorial loop: PIL ``Resize((224, 224))`` + ``ToTensor`` + ``Normalize``,
    ``DataLoader(batch_size=32, num_workers=0)``, float32 NCHW, features in a Python list,
    in a fresh interpreter each time;
(d) decode-only: featx's loader alone (the same decoders, workers and allocator settings as (b),
    no network).

All use the same backbone and process the same number of images in one run; the ratios
(b)/(a) and (b)/(c) are printed for each precision and written to JSON, with the bound on
(b)/(a) when decoding and the network take turns on the same cores and nothing else costs
anything: (d) / ((a) + (d)).

    python benchmarks/extract_throughput.py [--data DIR | --generated N] [--precisions float32,bfloat16]
                                            [--device auto] [--repeats 3] [--workers auto|N] [--compile] [--onnx]

``--onnx`` also exports the backbone to ONNX (``featx.backbones.export_onnx``) and times (a) and
(b) for it run by onnxruntime (float32, CPU execution provider unless a GPU is seen), beside
torch's float32 numbers.

``--generated N`` makes (once) N generated 500 x 375 JPEGs with ``extract_memory.py``'s
generator under ``$TMPDIR/featx-generated`` and runs on a folder of links to the first N.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from featx.backbones import create_backbone
from featx.data import ImageFolder
from featx.extract import extract_features
from featx.runtime import resolve_device
from featx.runtime import autocast
from featx.runtime import aligned_batches, default_num_workers, make_loader
from featx.runtime import reuse_large_allocations

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hymenoptera_data"


def forward_only(bb, n, device, precision, batch_size=32, compiled=False, heap=True):
    h, w = bb.preprocessing.input_size
    x = torch.randint(0, 256, (batch_size, 3, h, w), dtype=torch.uint8).to(device)
    x = x.contiguous(memory_format=torch.channels_last)
    model = bb.folded().to(device).to(memory_format=torch.channels_last)  # what extract_features runs
    if compiled:  # inductor with weight freezing (constant folding, prepacked weights for oneDNN)
        from torch._inductor import config as inductor_config

        inductor_config.freezing = True
        model = torch.compile(model)
    with torch.inference_mode(), autocast(device, precision), reuse_large_allocations(heap and device.type == "cpu"):
        model(x)  # warm-up (and the compile)
        _sync(device)
        start, done = time.perf_counter(), 0
        while done < n:
            model(x)
            done += batch_size
        _sync(device)
    return done / (time.perf_counter() - start)


def featx_end_to_end(bb, data, device, precision, num_workers="auto", compile=False):
    n = len(ImageFolder(data))
    with tempfile.TemporaryDirectory() as cache:
        _sync(device)
        start = time.perf_counter()
        fs = extract_features(data, bb, cache_dir=cache, device=device, precision=precision, progress=False,
                              num_workers=num_workers, compile=compile)
        _sync(device)
        elapsed = time.perf_counter() - start
    assert fs.metadata["n_computed"] == n
    return n / elapsed


def decode_only(bb, data, device, num_workers="auto", batch_size=32):
    src = ImageFolder(data)
    n = len(src)
    workers = default_num_workers(device) if num_workers == "auto" else int(num_workers)
    batches = aligned_batches(np.arange(n), n, batch_size)
    start = time.perf_counter()
    with reuse_large_allocations(device.type == "cpu"):  # as extract_features decodes
        for _ in make_loader(src, bb.preprocessing, batches, num_workers=workers, pin_memory=False,
                             nice=device.type == "cpu", on_error="skip"):
            pass
    return n / (time.perf_counter() - start)


def tutorial_loop(bb, data, device):
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms

    pre = bb.preprocessing
    tf = transforms.Compose(
        [transforms.Resize(pre.input_size), transforms.ToTensor(), transforms.Normalize(pre.mean, pre.std)]
    )
    paths = ImageFolder(data).paths

    class Files(Dataset):
        def __len__(self):
            return len(paths)

        def __getitem__(self, i):
            return tf(Image.open(paths[i]).convert("RGB"))

    model = bb.model.to(device).to(memory_format=torch.contiguous_format)
    feats = []
    _sync(device)
    start = time.perf_counter()
    with torch.no_grad():
        for x in DataLoader(Files(), batch_size=32, num_workers=0):
            x = x.to(device)
            feats.append(model.forward_head(model.forward_features(x), pre_logits=True).cpu())
    _sync(device)
    return len(paths) / (time.perf_counter() - start)


def generated_folder(n: int) -> Path:
    """An image folder of links to the first ``n`` generated JPEGs (generated when missing)."""
    from extract_memory import make_images  # noqa: I001  (benchmarks/ sibling)

    root = make_images(Path(tempfile.gettempdir()) / "featx-generated", n)
    folder = Path(tempfile.gettempdir()) / f"featx-gen{n}"
    for i in range(n):
        link = folder / f"class_{i % 10}" / f"img_{i:06d}.jpg"
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(root / link.relative_to(folder))
    return folder


def in_fresh_process(args, what: str, *extra: str) -> float:
    """Run ``--tutorial-only`` or ``--plain-forward-only`` in a new interpreter, so that no
    allocator setting of featx's runs can help or hurt it; return its images/s."""
    out = subprocess.run([sys.executable, __file__, what, *extra, "--data", str(args.data), "--backbone",
                          args.backbone, "--device", args.device], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def _cpu_description() -> str:
    """CPU model and whether it has native bfloat16 (AVX512-BF16 or AMX) instructions."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "")
    flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []))
    simd = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{model} ({', '.join(simd) or 'no AVX2'})"


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="image folder (default: ../shared hymenoptera)")
    p.add_argument("--generated", type=int, help="run on N generated JPEGs instead of --data")
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument("--precisions", default="float32,bfloat16")
    p.add_argument("--device", default="auto")
    p.add_argument("--repeats", type=int, default=3, help="interleaved repeats; the median is reported")
    p.add_argument("--workers", default="auto", help="featx num_workers for (b) (default: auto)")
    p.add_argument("--compile", action="store_true",
                   help="also time (a) with torch.compile (inductor, freezing; compile time excluded) and (b) with "
                        "compile=True (compile time included)")
    p.add_argument("--onnx", action="store_true", help="also time the backbone exported to ONNX (onnxruntime)")
    p.add_argument("--skip-tutorial", action="store_true", help="do not time (c) (it takes longest)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "extract_throughput.json")
    p.add_argument("--ablate-heap", action="store_true",
                   help="also time (a) without keeping large allocations in the heap (glibc's defaults)")
    p.add_argument("--tutorial-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--plain-forward-only", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.generated:
        args.data = generated_folder(args.generated)
    if args.tutorial_only:
        print(tutorial_loop(create_backbone(args.backbone), args.data, resolve_device(args.device)))
        return
    if args.plain_forward_only:
        device = resolve_device(args.device)
        print(forward_only(create_backbone(args.backbone), args.plain_forward_only, device, "float32", heap=False))
        return
    if not args.data.is_dir():
        raise SystemExit(f"no image folder at {args.data}; pass --data")
    device = resolve_device(args.device)
    bb = create_backbone(args.backbone)
    n = len(ImageFolder(args.data))
    runs = {"tutorial": [], "decode": []}
    onnx_dir = tempfile.TemporaryDirectory()
    if args.onnx:
        from featx.backbones import export_onnx

        onnx_bb = create_backbone(f"onnx:{export_onnx(bb, Path(onnx_dir.name) / (args.backbone + '.onnx'))}")
    precisions = args.precisions.split(",")
    for _ in range(args.repeats):  # interleaved, so drifts in machine speed hit all alike
        runs["tutorial"].append(float("nan") if args.skip_tutorial else in_fresh_process(args, "--tutorial-only"))
        runs["decode"].append(decode_only(bb, args.data, device, args.workers))
        if args.ablate_heap:
            runs.setdefault("plain", []).append(in_fresh_process(args, "--plain-forward-only", str(n)))
        if args.onnx:
            runs.setdefault("onnx_a", []).append(forward_only(onnx_bb, n, device, "float32"))
            runs.setdefault("onnx_b", []).append(featx_end_to_end(onnx_bb, args.data, device, "float32", args.workers
                                                                  if args.workers == "auto" else int(args.workers)))
        for precision in precisions:
            runs.setdefault(("a", precision), []).append(forward_only(bb, n, device, precision))
            if args.compile:
                runs.setdefault(("compiled", precision), []).append(forward_only(bb, n, device, precision,
                                                                                 compiled=True))
            workers = args.workers if args.workers == "auto" else int(args.workers)
            runs.setdefault(("b", precision), []).append(featx_end_to_end(bb, args.data, device, precision, workers))
            if args.compile:
                runs.setdefault(("b_compiled", precision), []).append(
                    featx_end_to_end(bb, args.data, device, precision, workers, compile=True))
    tutorial, decode = float(np.median(runs["tutorial"])), float(np.median(runs["decode"]))
    rows = []
    for precision in precisions:
        a, b = float(np.median(runs[("a", precision)])), float(np.median(runs[("b", precision)]))
        rows.append({"precision": precision, "forward_only": a, "featx": b, "tutorial_float32": tutorial,
                     "featx_over_forward": b / a, "featx_over_tutorial": b / tutorial,
                     "all_forward_only": runs[("a", precision)], "all_featx": runs[("b", precision)],
                     "all_tutorial": runs["tutorial"], "decode_only": decode, "all_decode_only": runs["decode"],
                     "turn_taking_bound": decode / (a + decode)})
        if args.compile:
            rows[-1]["forward_only_compiled"] = float(np.median(runs[("compiled", precision)]))
            rows[-1]["featx_compiled"] = float(np.median(runs[("b_compiled", precision)]))
        if args.onnx and precision == "float32":
            oa, ob = float(np.median(runs["onnx_a"])), float(np.median(runs["onnx_b"]))
            rows[-1].update(onnx_forward_only=oa, onnx_featx=ob, all_onnx_forward_only=runs["onnx_a"],
                            all_onnx_featx=runs["onnx_b"], onnx_provider=onnx_bb.runtime["execution_provider"],
                            onnxruntime=onnx_bb.runtime["onnxruntime_version"])
        if args.ablate_heap and precision == "float32":
            rows[-1]["forward_only_glibc_default"] = float(np.median(runs["plain"]))
            rows[-1]["all_forward_only_glibc_default"] = runs["plain"]
    print(f"\n{args.backbone} on {n} images of {args.data.name}, device {device}, {torch.get_num_threads()} threads, "
          f"median of {args.repeats} interleaved runs")
    print("| precision | (a) forward-only img/s | (b) featx files->HDF5 img/s | (c) tutorial loop fp32 img/s "
          "| (b)/(a) | (b)/(c) |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['precision']} | {r['forward_only']:.1f} | {r['featx']:.1f} | {r['tutorial_float32']:.1f} "
              f"| {r['featx_over_forward']:.2f} | {r['featx_over_tutorial']:.2f} |")
    for r in rows:
        print(f"{r['precision']}: (d) decode-only {r['decode_only']:.1f} img/s; if decoding and the network take "
              f"turns and nothing else costs, (b)/(a) <= (d)/((a)+(d)) = {r['turn_taking_bound']:.2f}")
        if "forward_only_glibc_default" in r:
            print(f"{r['precision']}: (a) with glibc's allocator defaults {r['forward_only_glibc_default']:.1f} img/s; "
                  f"featx keeping large allocations in the heap: {r['forward_only']:.1f} "
                  f"({r['forward_only'] / r['forward_only_glibc_default']:.2f}x)")
        if "onnx_forward_only" in r:
            print(f"{r['precision']}: onnxruntime {r['onnxruntime']} ({r['onnx_provider']}): (a) forward-only "
                  f"{r['onnx_forward_only']:.1f} img/s ({r['onnx_forward_only'] / r['forward_only']:.2f}x torch's), "
                  f"(b) featx files->HDF5 {r['onnx_featx']:.1f} img/s ({r['onnx_featx'] / r['featx']:.2f}x)")
        if "forward_only_compiled" in r:
            print(f"{r['precision']}: (a) with torch.compile {r['forward_only_compiled']:.1f} img/s "
                  f"({r['forward_only_compiled'] / r['forward_only']:.2f}x eager); (b) with compile=True "
                  f"{r['featx_compiled']:.1f} img/s ({r['featx_compiled'] / r['featx']:.2f}x); upper bound of (b)/(c) "
                  f"with eager (a): {r['forward_only'] / r['tutorial_float32']:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    onnx_dir.cleanup()
    meta = {"repeats": args.repeats, "workers": args.workers, "backbone": args.backbone, "data": str(args.data),
            "n_images": n, "device": str(device),
            "cpu": _cpu_description(), "cores": os.cpu_count(),
            "torch": str(torch.__version__), "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None}
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
