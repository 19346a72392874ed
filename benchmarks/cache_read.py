"""Cache read speed: 100k x 1280 float32 features (512 MB) from featx's HDF5 layout and alternatives.

Writes one featx cache file (``create_cache_file`` + ``CacheWriter``, the layout extraction
uses: contiguous, uncompressed) and, with plain h5py, the same matrix in other layouts:
HDF5 chunks of 256 KiB, 2 MiB and 8 MiB of whole rows, LZF and gzip-1 compression; a
``.npy`` file is the ceiling (one sequential read into one array). Each file is read back
whole, warm (from the page cache, the usual case right after extraction) and, when the
process may drop the page cache (root on Linux), cold (from disk). Reported: GB/s of
feature bytes (1 GB = 1e9 bytes), median of the repeats.

The features are non-negative with a float32 mantissa of random bits, like pooled
post-activation embeddings: compression finds little to remove in them.

    python benchmarks/cache_read.py [--n 100000] [--d 1280] [--repeats 3] [--dir /tmp/featx-cache-read]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np

from featx.extract import read_cache
from featx.extract._cache import CacheWriter, create_cache_file

LAYOUTS = {  # name: h5py create_dataset keywords (chunk rows for d = 1280; rescaled for other d below)
    "chunks 256 KiB": {"chunks": 64},
    "chunks 2 MiB": {"chunks": 256},
    "chunks 8 MiB": {"chunks": 1024},
    "chunks 2 MiB + lzf": {"chunks": 256, "compression": "lzf"},
    "chunks 2 MiB + gzip-1": {"chunks": 256, "compression": "gzip", "compression_opts": 1},
}


def drop_page_cache() -> bool:
    """Ask Linux to drop clean page-cache pages (root only); False when not allowed."""
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("1\n")
        return True
    except OSError:
        return False


def timed(read, repeats: int, cold: bool) -> float:
    """Median seconds of ``read()`` over ``repeats``, each after dropping the page cache if ``cold``."""
    times = []
    for _ in range(repeats):
        if cold:
            drop_page_cache()
        else:
            read()  # warm the page cache
        start = time.perf_counter()
        read()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--d", type=int, default=1280)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--dir", type=Path, default=Path("/tmp/featx-cache-read"))
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "cache_read.json")
    args = p.parse_args(argv)
    n, d = args.n, args.d
    shutil.rmtree(args.dir, ignore_errors=True)
    args.dir.mkdir(parents=True)
    rng = np.random.default_rng(0)
    X = rng.gamma(0.5, 1.0, size=(n, d)).astype(np.float32)
    nbytes = X.nbytes

    featx_path = args.dir / "featx.h5"
    ids = [f"class_{i % 10}/image_{i:07d}.jpg" for i in range(n)]
    start = time.perf_counter()
    create_cache_file(featx_path, key={"bench": 1}, key_hash="k", dim=d, ids=ids, labels=np.arange(n) % 10,
                      domains=["d"] * n, classes=[str(c) for c in range(10)], attrs={})
    with CacheWriter(featx_path, "k") as w:
        for lo in range(0, n, 4096):
            w.write(np.arange(lo, min(n, lo + 4096)), X[lo:lo + 4096])
    write_s = time.perf_counter() - start

    readers = {"featx read_cache (FeatureSet: features, ids, labels, domains)": lambda: read_cache(featx_path)}

    def features_only(path):
        def read():
            with h5py.File(path, "r", locking=False) as f:
                return f["features"][:]
        return read

    readers["featx layout, features only (contiguous)"] = features_only(featx_path)
    for name, kw in LAYOUTS.items():
        path = args.dir / f"{name.replace(' ', '_').replace('+', '')}.h5"
        kw = dict(kw)
        if "chunks" in kw:
            kw["chunks"] = (max(1, kw["chunks"] * 1280 // d), d)
        with h5py.File(path, "w") as f:
            f.create_dataset("features", data=X, **kw)
        readers[f"{name}, features only"] = features_only(path)
    npy = args.dir / "features.npy"
    np.save(npy, X)
    readers["numpy .npy (ceiling)"] = lambda: np.load(npy)

    assert np.array_equal(read_cache(featx_path).X, X)
    can_drop = drop_page_cache()
    rows = []
    for name, read in readers.items():
        row = {"layout": name, "warm_s": timed(read, args.repeats, cold=False)}
        row["warm_gb_s"] = nbytes / row["warm_s"] / 1e9
        if can_drop:
            row["cold_s"] = timed(read, args.repeats, cold=True)
            row["cold_gb_s"] = nbytes / row["cold_s"] / 1e9
        rows.append(row)
    sizes = {p.name: p.stat().st_size for p in args.dir.iterdir()}

    print(f"\n{n} x {d} float32 = {nbytes / 1e9:.3f} GB of features; median of {args.repeats}; "
          f"featx file written in {write_s:.1f} s ({nbytes / write_s / 1e9:.2f} GB/s)")
    cold = " cold s | cold GB/s |" if can_drop else ""
    print(f"| layout | warm s | warm GB/s |{cold}")
    print("|---|---:|---:|" + ("---:|---:|" if can_drop else ""))
    for r in rows:
        extra = f" {r['cold_s']:.2f} | {r['cold_gb_s']:.2f} |" if can_drop else ""
        print(f"| {r['layout']} | {r['warm_s']:.2f} | {r['warm_gb_s']:.2f} |{extra}")
    print("file sizes (MB):", {k: round(v / 1e6, 1) for k, v in sorted(sizes.items())})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"n": n, "d": d, "feature_bytes": nbytes, "repeats": args.repeats, "cold_measured": can_drop,
            "write_seconds": write_s, "file_bytes": sizes, "h5py": h5py.__version__,
            "hdf5": h5py.version.hdf5_version, "cores": os.cpu_count(), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {args.out}")
    shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
