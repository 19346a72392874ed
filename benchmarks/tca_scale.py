"""TCA at scale: 50k rows of DeCAF-width features within a memory budget.

The exact kernel TCA needs several n x n matrices (about 80 GB at n = 50,000, which is where
users of other libraries report terabyte-size allocation requests once the eigensolver's
workspace is counted). featx estimates the bytes first and, over budget, switches to a
Nystrom map with as many landmarks as fit; linear TCA never forms an n x n matrix.

    python benchmarks/tca_scale.py [--n 50000] [--d 1280] [--max-memory-gib 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time
from pathlib import Path

import numpy as np

from featx.adapt import TCA
from featx.adapt._kernel import feature_map_bytes


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=50_000)
    p.add_argument("--d", type=int, default=1280)
    p.add_argument("--max-memory-gib", type=float, default=2.0)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "tca_scale.json")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    rng = np.random.default_rng(0)
    n, d = args.n, args.d
    X = rng.normal(size=(n, d)).astype(np.float32)
    X[n // 2 :] = X[n // 2 :] * 1.5 + 0.5  # a shifted target half
    sd = np.r_[np.ones(n // 2, int), -2 * np.ones(n - n // 2, int)]
    rows = []
    for kernel in ("linear", "rbf"):
        est = TCA(30, kernel=kernel, max_memory=args.max_memory_gib * 2**30, random_state=0)
        start = time.perf_counter()
        Z = est.fit_transform(X, sample_domain=sd)
        secs = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
        rows.append({"kernel": kernel, "n": n, "d": d, "seconds": secs, "peak_rss_gib_so_far": peak,
                     "landmarks": est.landmarks_used_, "out_shape": list(Z.shape),
                     "exact_kernel_matrix_gib": 8 * n * n / 2**30,
                     "planned_gib": feature_map_bytes(n, d, kernel, est.landmarks_used_ or 0) / 2**30})
    print("| kernel | rows | landmarks | fit+transform s | planned GiB | peak RSS GiB | one exact n x n matrix GiB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['kernel']} | {r['n']} | {r['landmarks'] or '-'} | {r['seconds']:.1f} | {r['planned_gib']:.2f} "
              f"| {r['peak_rss_gib_so_far']:.2f} | {r['exact_kernel_matrix_gib']:.1f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
