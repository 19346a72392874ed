"""EasyTL on DeCAF-width (4096-d) features: featx against the straightforward implementation.

The reference Python port re-colours the source with ``scipy.linalg.fractional_matrix_power``
on two 4096 x 4096 covariances and solves the programming step as a generic LP. featx takes
both covariance powers from thin SVDs of the rows (exact: rank <= n < d), maps only the class
centroids (CORAL is linear), and solves the programming step as an assignment problem.
The data are generated with Office-Caltech's amazon -> caltech shape (958 -> 1,123 rows,
10 classes, non-negative like fc7 activations after ReLU); no DeCAF features ship here.

    python benchmarks/easytl_decaf.py [--d 4096] [--reference]

``--reference`` also times the straightforward path (dense fractional powers + scipy's HiGHS LP),
which takes minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import scipy.linalg
from scipy.optimize import linprog
from scipy.sparse import csr_matrix, identity, kron

from featx.adapt import EasyTL


def make_task(d: int, n_source=958, n_target=1123, n_classes=10, seed=0):
    """Non-negative class-structured features; the target is re-scaled (x 1.2)."""
    rng = np.random.default_rng(seed)
    centres = rng.gamma(0.5, 0.2, size=(n_classes, d))
    mixing = rng.normal(size=(d, 64)) / 8  # low-rank correlated noise, as in CNN features
    def domain(n, gain, shift):
        y = rng.integers(0, n_classes, n)
        X = centres[y] + rng.normal(size=(n, 64)) @ mixing.T + 0.3 * rng.normal(size=(n, d))
        return np.maximum(gain * X + shift, 0.0), y
    (Xs, ys), (Xt, yt) = domain(n_source, 1.0, 0.0), domain(n_target, 1.2, 0.0)
    return Xs, ys, Xt, yt


def reference_easytl(Xs, ys, Xt):
    """The straightforward path: dense CORAL with fractional matrix powers, centroids,
    Euclidean distances, and the programming step as a generic sparse LP (HiGHS)."""
    d = Xs.shape[1]
    cs, ct = np.cov(Xs.T) + np.eye(d), np.cov(Xt.T) + np.eye(d)
    A = np.real(scipy.linalg.fractional_matrix_power(cs, -0.5) @ scipy.linalg.fractional_matrix_power(ct, 0.5))
    Xs = Xs @ A
    classes = np.unique(ys)
    centroids = np.stack([Xs[ys == c].mean(0) for c in classes])
    D = np.sqrt(((Xt[:, None, :] - centroids[None]) ** 2).sum(-1))
    n, C = D.shape
    rows = kron(identity(n), np.ones((1, C)))  # sum_c M_jc = 1
    cols = -kron(np.ones((1, n)), identity(C))  # sum_j M_jc >= 1
    res = linprog(D.ravel(), A_ub=csr_matrix(cols), b_ub=-np.ones(C), A_eq=csr_matrix(rows), b_eq=np.ones(n),
                  bounds=(0, 1), method="highs")
    return classes[res.x.reshape(n, C).argmax(1)]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--d", type=int, default=4096)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--reference", action="store_true")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "easytl_decaf.json")
    args = p.parse_args(argv)
    Xs, ys, Xt, yt = make_task(args.d)
    X, y = np.vstack([Xs, Xt]), np.r_[ys, -np.ones(len(Xt), int)]
    sd = np.r_[np.ones(len(Xs), int), -2 * np.ones(len(Xt), int)]
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        pred = EasyTL().fit(X, y, sample_domain=sd).predict(Xt)
        times.append(time.perf_counter() - start)
    result = {"d": args.d, "n_source": len(Xs), "n_target": len(Xt), "featx_seconds": min(times),
              "featx_accuracy": float(np.mean(pred == yt))}
    if args.reference:
        start = time.perf_counter()
        ref = reference_easytl(Xs, ys, Xt)
        result |= {"reference_seconds": time.perf_counter() - start, "reference_accuracy": float(np.mean(ref == yt)),
                   "same_labels": float(np.mean(ref == pred))}
    print("| implementation | seconds per task | target accuracy |")
    print("|---|---:|---:|")
    print(f"| featx EasyTL | {result['featx_seconds']:.2f} | {100 * result['featx_accuracy']:.1f} |")
    if args.reference:
        print(f"| dense fractional powers + HiGHS LP | {result['reference_seconds']:.1f} | "
              f"{100 * result['reference_accuracy']:.1f} |")
        print(f"speed-up {result['reference_seconds'] / result['featx_seconds']:.0f}x, "
              f"same label on {100 * result['same_labels']:.1f}% of target rows")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
