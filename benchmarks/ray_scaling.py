"""Ray engine scaling on this machine: the local path vs Ray with 1 and 2 workers.

Embeds the first N generated JPEGs (see ``extract_memory.py``; made if missing) with the
default backbone from an empty cache each time: (1) ``engine="local"``; (2) Ray with one
actor holding all CPUs; (3) Ray with two actors of half the CPUs each. Ray runs include the
actors' start-up (each imports torch and unpickles the backbone) but not ``ray.init``.
Reports images/s, the ratio to the local path, and checks the features are bit-identical.

    python benchmarks/ray_scaling.py [--n 1024] [--images /tmp/featx-generated]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv=None):
    import ray

    from featx.backbones import create_backbone
    from featx.extract import extract_features

    from extract_memory import make_images, manifest  # noqa: I001  (benchmarks/ sibling)

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1024)
    p.add_argument("--images", type=Path, default=Path(tempfile.gettempdir()) / "featx-generated")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ray_scaling.json")
    args = p.parse_args(argv)
    make_images(args.images, args.n)
    data = manifest(args.images, args.n, args.images / f"first_{args.n}.csv")
    bb = create_backbone("efficientnet_lite0")
    bb.folded()
    cpus = os.cpu_count()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    runs = [("local", "local", {}), ("ray, 1 worker", "ray", {"workers": 1}),
            ("ray, 2 workers", "ray", {"workers": 2})]
    rows, reference = [], None
    for name, engine, options in runs:
        cache = Path(tempfile.mkdtemp(prefix="featx-ray-"))
        try:
            start = time.perf_counter()
            fs = extract_features(data, bb, cache_dir=cache, progress=False, engine=engine, engine_options=options)
            seconds = time.perf_counter() - start
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        reference = fs.X if reference is None else reference
        rows.append({"run": name, "seconds": seconds, "images_per_s": len(fs) / seconds,
                     "identical_to_local": bool(np.array_equal(fs.X, reference))})
        print(f"{name}: {seconds:.1f} s", flush=True)
    local = rows[0]["images_per_s"]
    print(f"\n{args.n} generated 500 x 375 JPEGs, efficientnet_lite0 float32, {cpus} CPUs, one machine")
    print("| run | s | img/s | vs local | features identical to local |")
    print("|---|---:|---:|---:|---|")
    for r in rows:
        r["vs_local"] = r["images_per_s"] / local
        print(f"| {r['run']} | {r['seconds']:.1f} | {r['images_per_s']:.1f} | {r['vs_local']:.2f} "
              f"| {r['identical_to_local']} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"n": args.n, "cpus": cpus, "ray": ray.__version__, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {args.out}")
    ray.shutdown()


if __name__ == "__main__":
    main()
