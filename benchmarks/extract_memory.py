"""Extraction memory and speed against the number of images: peak RSS at 1k and 20k images.

Generates ``max(--sizes)`` JPEG images (500 x 375 px, like the hymenoptera photos; smooth
random colour fields, 10 classes), then for each size runs ``featx extract`` on a manifest of
the first N images in a fresh process from an empty cache, sampling that process's resident
set size every 0.2 s. Reported per size: peak RSS, RSS when the backbone is ready and the
growth after it, images/s end to end, and the output file size. Streaming to disk means the
peak should not grow with N (the features of 20k images are 100 MB; a pipeline that holds
them in memory would show it).

    python benchmarks/extract_memory.py [--sizes 1000,20000] [--backbone efficientnet_lite0]
                                        [--images /tmp/featx-generated] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = r"""
import json, os, resource, sys, threading, time
from pathlib import Path

samples, stop = [], threading.Event()
def sample():
    page = os.sysconf("SC_PAGE_SIZE")
    while not stop.is_set():
        rss = int(Path("/proc/self/statm").read_text().split()[1]) * page
        samples.append((time.perf_counter(), rss))
        time.sleep(0.2)
threading.Thread(target=sample, daemon=True).start()

from featx.backbones import create_backbone
from featx.extract import extract_features
manifest, cache, backbone, batch = sys.argv[1:5]
bb = create_backbone(backbone)
ready = time.perf_counter()
fs = extract_features(manifest, bb, cache_dir=cache, batch_size=int(batch), progress=False)
done = time.perf_counter()
stop.set()
ready_rss = max([r for t, r in samples if t <= ready] or [0])
print(json.dumps({"n": len(fs), "seconds": done - ready,
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "rss_backbone_ready": ready_rss, "sampled_peak_after_ready": max(r for t, r in samples if t > ready),
                  "file_bytes": os.path.getsize(fs.metadata["path"]), "computed": fs.metadata["n_computed"]}))
"""


def make_images(root: Path, n: int, seed: int = 0) -> Path:
    """``n`` JPEGs of 500 x 375 px in 10 class folders (kept when already there)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for i in range(n):
        path = root / f"class_{i % 10}" / f"img_{i:06d}.jpg"
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        coarse = rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)
        img = Image.fromarray(coarse).resize((500, 375), Image.Resampling.BICUBIC)
        noise = rng.integers(-12, 13, (375, 500, 3))
        img = Image.fromarray(np.clip(np.asarray(img, dtype=np.int16) + noise, 0, 255).astype(np.uint8))
        img.save(path, quality=90)
    return root


def manifest(root: Path, n: int, out: Path) -> Path:
    lines = ["path,label"] + [f"class_{i % 10}/img_{i:06d}.jpg,class_{i % 10}" for i in range(n)]
    out.write_text("\n".join(lines) + "\n")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1000,20000")
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--images", type=Path, default=Path(tempfile.gettempdir()) / "featx-generated")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "extract_memory.json")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    start = time.perf_counter()
    make_images(args.images, max(sizes))
    print(f"{max(sizes)} images ready under {args.images} ({time.perf_counter() - start:.0f} s)", flush=True)
    rows = []
    for n in sizes:
        cache = Path(tempfile.mkdtemp(prefix="featx-mem-"))
        try:
            m = manifest(args.images, n, args.images / f"first_{n}.csv")
            out = subprocess.run([sys.executable, "-c", CHILD, str(m), str(cache), args.backbone, str(args.batch_size)],
                                 check=True, capture_output=True, text=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        row["images_per_s"] = row["n"] / row["seconds"]
        row["growth_after_ready"] = row["peak_rss"] - row["rss_backbone_ready"]
        rows.append(row)
        print(f"{n} images: peak RSS {row['peak_rss'] / 2**20:.0f} MiB, {row['images_per_s']:.1f} img/s", flush=True)
    print(f"\n{args.backbone}, batch {args.batch_size}, generated 500 x 375 JPEGs, one process each")
    print("| images | peak RSS MiB | RSS with backbone ready MiB | growth during extraction MiB | img/s | file MB |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['n']} | {r['peak_rss'] / 2**20:.0f} | {r['rss_backbone_ready'] / 2**20:.0f} "
              f"| {r['growth_after_ready'] / 2**20:.0f} | {r['images_per_s']:.1f} | {r['file_bytes'] / 1e6:.1f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"backbone": args.backbone, "batch_size": args.batch_size, "cores": os.cpu_count(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
