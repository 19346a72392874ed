"""What ``featx predict`` costs on new images, against embedding them alone.

A logistic head is fitted on the first 100 of N + 100 generated JPEG photos of two classes
(``featx fit FOLDER --save``); then, for each N, ``featx predict MODEL`` runs in a cold
process on N images that no cache holds, and so does ``featx extract`` on a copy of the same
images into an empty cache (the embedding alone, with the same imports and backbone). Also
measured, in one fresh process per N: the imports, loading the model (with its backbone
check), embedding, and the head's predict, so the overhead above embedding is seen part by
part. The second ``predict`` on the same images shows the cached cost (no forward pass). Each
N runs ``--repeats`` times on new images; the medians are reported (a cold start on a busy
2-core machine varies by a second or more).

    python benchmarks/predict_cost.py [--sizes 1,100,1000] [--repeats 3] [--out benchmarks/results/predict_cost.json]
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
from PIL import Image

FEATX = [str(Path(sys.executable).parent / "featx")]

SPLIT = r"""
import sys, time, json
t0 = time.perf_counter()
import featx.cli.main, featx.persist, featx.extract, sklearn.pipeline, skops.io, timm  # what predict imports
t1 = time.perf_counter()
model = featx.persist.load_model(sys.argv[1])
t2 = time.perf_counter()
X = model.steps[0][1].transform(sys.argv[3:])
t3 = time.perf_counter()
model.steps[1][1].predict_proba(X)
t4 = time.perf_counter()
print(json.dumps({"imports_s": t1 - t0, "load_model_s": t2 - t1, "embed_s": t3 - t2, "head_s": t4 - t3}))
"""


def make_images(folder: Path, n: int, seed: int, classes=("a", "b")) -> list[Path]:
    """``n`` 256 x 256 JPEGs split over ``classes`` (smooth colour fields, one tint per class)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        c = classes[i % len(classes)]
        (folder / c).mkdir(parents=True, exist_ok=True)
        base = np.array([200, 60, 60] if c == "a" else [60, 60, 200], dtype=np.float64)
        field = rng.normal(0, 40, size=(8, 8, 3)).repeat(32, 0).repeat(32, 1)
        img = np.clip(base + field + rng.normal(0, 10, size=(256, 256, 3)), 0, 255).astype(np.uint8)
        path = folder / c / f"{seed}_{i:05d}.jpg"
        Image.fromarray(img).save(path, quality=90)
        out.append(path)
    return out


def timed(cmd, env) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,100,1000")
    parser.add_argument("--repeats", type=int, default=3, help="runs per N, each on new images; medians reported")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/predict_cost.json"))
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="featx-predict-cost-"))
    try:
        env = {**os.environ, "FEATX_CACHE_DIR": str(work / "cache")}
        make_images(work / "train", 100, seed=0)
        model = work / "model.skops"
        subprocess.run(FEATX + ["fit", str(work / "train"), "--save", str(model), "--no-progress"], env=env,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rows = []
        for n in sizes:
            runs = []
            for r in range(args.repeats):  # new, uncached images every time
                seed = 1000 * n + r
                images = [str(p) for p in make_images(work / f"new{seed}", n, seed=seed)]
                copies = work / f"copy{seed}"
                shutil.copytree(work / f"new{seed}", copies)
                alone = {**env, "FEATX_CACHE_DIR": str(work / f"cache-extract{seed}")}
                extract_s = timed(FEATX + ["extract", str(copies), "--no-progress"], alone)
                predict_s = timed(FEATX + ["predict", str(model)] + images, env)
                cached_s = timed(FEATX + ["predict", str(model)] + images, env)
                split_images = [str(p) for p in make_images(work / f"split{seed}", n, seed=seed + 500)]
                out = subprocess.run([sys.executable, "-c", SPLIT, str(model), "--"] + split_images, env=env,
                                     check=True, capture_output=True, text=True).stdout
                runs.append({"extract_s": extract_s, "predict_s": predict_s, "predict_cached_s": cached_s,
                             "overhead_s": predict_s - extract_s, **json.loads(out.strip().splitlines()[-1])})
            row = {"n_images": n, **{k: float(np.median([run[k] for run in runs])) for k in runs[0]},
                   "overhead_s_each_run": [run["overhead_s"] for run in runs]}
            rows.append(row)
            print(f"N={n} (median of {args.repeats}): featx extract {row['extract_s']:.2f} s, featx predict "
                  f"{row['predict_s']:.2f} s (over extract, each run: "
                  f"{', '.join(f'{o:+.2f}' for o in row['overhead_s_each_run'])} s), cached "
                  f"{row['predict_cached_s']:.2f} s; "
                  f"in one process: imports {row['imports_s']:.2f} s, load model {row['load_model_s']:.2f} s, embed "
                  f"{row['embed_s']:.2f} s, head {row['head_s']:.3f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nmedians of {args.repeats} runs")
    print("| N | featx extract s | featx predict s | predict - extract s | predict again (cached) s | imports s "
          "| load model s | embed s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['n_images']} | {r['extract_s']:.2f} | {r['predict_s']:.2f} | {r['overhead_s']:+.2f} | "
              f"{r['predict_cached_s']:.2f} | {r['imports_s']:.2f} | {r['load_model_s']:.2f} | {r['embed_s']:.2f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": f"python benchmarks/predict_cost.py --sizes {args.sizes} --repeats "
                                               f"{args.repeats}",
                                    "cpu_count": os.cpu_count(), "rows": rows}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
