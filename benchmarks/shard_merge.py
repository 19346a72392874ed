"""The Ray engine's final join: merging shard files into the key's cache file, in GB/s.

Writes ``n`` rows of ``d`` float32 features as shard files of ``--shard-rows`` rows (what
the actors leave behind), then times :func:`featx.extract._ray.merge_shards` into a new
cache file (read every shard, write through the crash-safe writer with its checksums).
This is the one step of a Ray run that runs on the driver alone.

    python benchmarks/shard_merge.py [--n 100000] [--d 1280] [--shard-rows 8192]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from featx.extract._cache import CacheWriter, create_cache_file
from featx.extract._ray import merge_shards, shard_dir


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--d", type=int, default=1280)
    p.add_argument("--shard-rows", type=int, default=8192)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "shard_merge.json")
    args = p.parse_args(argv)
    n, d, rows = args.n, args.d, args.shard_rows
    root = Path(tempfile.mkdtemp(prefix="featx-merge-"))
    try:
        path = root / "main.h5"
        ids = [f"img_{i:07d}.jpg" for i in range(n)]
        meta = dict(dim=d, labels=np.zeros(n, int), classes=["a"], attrs={})
        rng = np.random.default_rng(0)
        for lo in range(0, n, rows):
            hi = min(n, lo + rows)
            shard = shard_dir(path) / f"{lo}-{hi}.h5"
            create_cache_file(shard, key={"shard": [lo, hi]}, key_hash=f"k:{lo}-{hi}", ids=ids[lo:hi],
                              domains=["x"] * (hi - lo), **{**meta, "labels": np.zeros(hi - lo, int)})
            with CacheWriter(shard, f"k:{lo}-{hi}") as w:
                w.write(np.arange(hi - lo), rng.gamma(0.5, 1.0, (hi - lo, d)).astype(np.float32))
        create_cache_file(path, key={}, key_hash="k", ids=ids, domains=["x"] * n, **meta)
        start = time.perf_counter()
        with CacheWriter(path, "k") as writer:
            copied = merge_shards(writer, path, "k")
            assert copied == n and not len(writer.pending)
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(root, ignore_errors=True)
    gb = n * d * 4 / 1e9
    row = {"n": n, "d": d, "shard_rows": rows, "shards": -(-n // rows), "seconds": seconds, "gb": gb,
           "gb_per_s": gb / seconds, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    print(f"merged {row['shards']} shards, {n} x {d} float32 ({gb:.2f} GB) in {seconds:.2f} s: "
          f"{row['gb_per_s']:.2f} GB/s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(row, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
