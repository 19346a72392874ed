"""Solver scaling in n (1k, 5k, 20k, 50k rows): featx against the straightforward implementations.

* EasyTL's intra-domain programming step on an n x 10 cost matrix: featx's exact
  assignment-problem solution vs the LP as written in the paper, solved by a generic LP
  solver (scipy's HiGHS on the sparse n*C-variable program). Same objective checked.
* Linear TCA (30 components, mu = 1) on n rows (half source, half target): featx solves in
  the d-dimensional input space; the textbook formulation builds the n x n kernel, MMD and
  centring matrices and solves the n x n generalised eigenproblem
  ``(K L K + mu I) w = lambda K H K w`` (Pan et al. 2011). The relative MMD after each is recorded.
* CORAL, subspace alignment (SA, 30 components) and TCA against skada's adapters on the
  same data (skada's TCA is its kernel formulation; skada is a test extra).

Features are 1280-d (EfficientNet-Lite0 width), two domains with different scales and a
shift, 10 classes. The n x n methods are run while their matrices stay under
``--max-dense-gib`` and n <= ``--max-dense-n``; beyond, the row says "not run" and why.
Writes a JSON file and a log-log plot (seconds against n).

    python benchmarks/solver_scaling.py [--sizes 1000,5000,20000,50000] [--max-dense-n 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import scipy.linalg
from scipy.optimize import linprog
from scipy.sparse import csr_matrix, identity, kron

from featx.adapt import CORAL, TCA, SubspaceAlignment, intra_domain_programming


def make_data(n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    ns = n // 2
    y = rng.integers(0, 10, n)
    centres = rng.normal(size=(10, d))
    X = centres[y] + rng.normal(size=(n, 64)) @ rng.normal(size=(64, d)) / 8 + 0.5 * rng.normal(size=(n, d))
    X[ns:] = 1.5 * X[ns:] + 0.3
    sd = np.r_[np.ones(ns, int), -np.ones(n - ns, int)]
    return X, y, sd


def lp_programming(D: np.ndarray) -> tuple[np.ndarray, float]:
    """EasyTL's programming step as the generic LP (HiGHS): assignment and objective."""
    n, C = D.shape
    rows = kron(identity(n), np.ones((1, C)))  # sum_c M_jc = 1
    cols = -kron(np.ones((1, n)), identity(C))  # sum_j M_jc >= 1
    res = linprog(D.ravel(), A_ub=csr_matrix(cols), b_ub=-np.ones(C), A_eq=csr_matrix(rows), b_eq=np.ones(n),
                  bounds=(0, 1), method="highs")
    return res.x.reshape(n, C).argmax(1), float(res.fun)


def dense_tca(X: np.ndarray, ns: int, k: int = 30, mu: float = 1.0) -> np.ndarray:
    """Textbook linear TCA: n x n kernel, MMD and centring matrices, generalised eigenproblem."""
    n = len(X)
    K = X @ X.T
    e = np.r_[np.full(ns, 1.0 / ns), np.full(n - ns, -1.0 / (n - ns))]
    L = np.outer(e, e)
    H = np.eye(n) - 1.0 / n
    A, B = K @ L @ K + mu * np.eye(n), K @ H @ K
    # largest eigenvalues of A^-1 B, i.e. smallest of B^-1 A: take the top k of (B, A)
    vals, W = scipy.linalg.eigh(B, A, subset_by_index=[n - k, n - 1])
    return K @ W


def mmd(Z: np.ndarray, ns: int) -> float:
    """Distance between the domain means relative to the mean feature spread (lower: better aligned)."""
    return float(np.linalg.norm(Z[:ns].mean(0) - Z[ns:].mean(0)) / (Z.std(0).mean() + 1e-12))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1000,5000,20000,50000")
    p.add_argument("--d", type=int, default=1280)
    p.add_argument("--max-dense-n", type=int, default=5000)
    p.add_argument("--max-dense-gib", type=float, default=8.0)
    p.add_argument("--max-lp-n", type=int, default=50000)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "solver_scaling.json")
    args = p.parse_args(argv)
    try:
        import skada
    except ImportError:
        skada = None
    rows = []

    def record(method, impl, n, seconds=None, note="", **extra):
        rows.append({"method": method, "implementation": impl, "n": n, "seconds": seconds, "note": note, **extra})
        shown = f"{seconds:.3f} s" if seconds is not None else f"not run ({note})"
        print(f"n={n:>6} {method:24s} {impl:28s} {shown}", flush=True)

    for n in [int(s) for s in args.sizes.split(",")]:
        X, y, sd = make_data(n, args.d)
        ns = int((sd >= 0).sum())
        dense_gib = 5 * n * n * 8 / 2**30  # K, L, H, A, B
        dense_ok = n <= args.max_dense_n and dense_gib <= args.max_dense_gib
        why_not = f"5 n x n matrices = {dense_gib:.0f} GiB and an O(n^3) eigensolve"

        # EasyTL programming step on an n x 10 cost matrix
        D = np.abs(np.random.default_rng(n).normal(size=(n, 10))) + 1.0
        s, assign = timed(lambda: intra_domain_programming(D))
        ours = float(D[np.arange(n), assign].sum())
        record("EasyTL programming", "featx (assignment)", n, s, objective=ours)
        if n <= args.max_lp_n:
            s, (lp_assign, lp_obj) = timed(lambda: lp_programming(D))
            record("EasyTL programming", "generic LP (HiGHS)", n, s, objective=lp_obj,
                   same_objective=bool(abs(lp_obj - ours) <= 1e-6 * abs(ours)))
        else:
            record("EasyTL programming", "generic LP (HiGHS)", n, note=f"n > --max-lp-n {args.max_lp_n}")

        # linear TCA
        s, Z = timed(lambda: TCA(n_components=30).fit_transform(X, sample_domain=sd))
        record("TCA (linear)", "featx (input space)", n, s, mmd=mmd(Z, ns))
        if dense_ok:
            s, Z = timed(lambda: dense_tca(X, ns))
            record("TCA (linear)", "dense n x n (textbook)", n, s, mmd=mmd(Z, ns))
        else:
            record("TCA (linear)", "dense n x n (textbook)", n, note=why_not)

        # CORAL / SA against skada
        for name, ours_fn, theirs_fn in (
            ("CORAL", lambda: CORAL().fit_transform(X, sample_domain=sd),
             lambda: skada.CORALAdapter().fit_transform(X, sample_domain=sd)),
            ("SA (30 components)", lambda: SubspaceAlignment(n_components=30).fit_transform(X, sample_domain=sd),
             lambda: skada.SubspaceAlignmentAdapter(n_components=30).fit_transform(X, sample_domain=sd)),
        ):
            s, _ = timed(ours_fn)
            record(name, "featx", n, s)
            if skada is not None:
                s, _ = timed(theirs_fn)
                record(name, "skada", n, s)
        if skada is not None:
            if dense_ok:
                s, _ = timed(lambda: skada.TransferComponentAnalysisAdapter(n_components=30, kernel="linear")
                             .fit_transform(X, sample_domain=sd))
                record("TCA (linear)", "skada (n x n kernel)", n, s)
            else:
                record("TCA (linear)", "skada (n x n kernel)", n, note=why_not)

    print("\n| method | implementation | " + " | ".join(f"n={n}" for n in sorted({r['n'] for r in rows})) + " |")
    sizes = sorted({r["n"] for r in rows})
    print("|---|---|" + "---:|" * len(sizes))
    for key in dict.fromkeys((r["method"], r["implementation"]) for r in rows):
        cells = []
        for n in sizes:
            r = next((r for r in rows if (r["method"], r["implementation"]) == key and r["n"] == n), None)
            cells.append("-" if r is None else (f"{r['seconds']:.2f} s" if r["seconds"] is not None else "not run"))
        print(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"d": args.d, "cores": os.cpu_count(), "skada": getattr(skada, "__version__", None),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    plot(rows, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, axes = plt.subplots(1, len(methods), figsize=(4 * len(methods), 3.6), sharey=True)
    for ax, method in zip(np.atleast_1d(axes), methods):
        for impl in dict.fromkeys(r["implementation"] for r in rows if r["method"] == method):
            pts = [(r["n"], r["seconds"]) for r in rows
                   if r["method"] == method and r["implementation"] == impl and r["seconds"] is not None]
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, "o-" if impl.startswith("featx") else "s--", label=impl)
        ax.set(xscale="log", yscale="log", title=method, xlabel="rows n")
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("seconds (2 cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
