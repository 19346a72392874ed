"""Does any alignment method's default lose to no alignment on real embeddings?

Embeds real digit images with the default backbone (EfficientNet-Lite0, cached) and fits every
alignment method of the registry with its defaults and the default head (per-domain z-score,
then the method, then logistic regression with C by inner CV on the labelled source rows),
beside the same head without alignment (``logreg``), on four tasks:

- MNIST -> USPS and USPS -> MNIST (2,000 MNIST test images, the 2,007 USPS test images),
- digits -> digits-shifted (scikit-learn's digits, the demo's task),
- MNIST + USPS + digits -> digits-shifted (three labelled sources, each its own domain, pooled).

Every labelled source row is used (budget ``all``); target labels only score. ``delta`` is the
method's accuracy minus no alignment's, and ``noise`` the half-width of its 95% interval from
the paired test-image disagreements (McNemar: :math:`1.96 \\sqrt{b + c} / n` with ``b``, ``c``
the images only one of the two gets right). Prints a table, writes JSON.

    python benchmarks/alignment_defaults.py [--mnist 2000] [--data ../shared/data] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from featx.data import load_digits_images, load_shifted_digits_images
from featx.extract import extract_features
from featx.features import FeatureSet
from featx.methods import list_methods, make_method
from featx.utils.machine import code_paths

from digit_images import DEFAULT_DATA, image_set, mnist_arrays, usps_arrays


def feature_sets(data: Path, n_mnist: int, cache_dir) -> dict:
    mi, ml = mnist_arrays(data / "digits" / "mnist")
    ui, ul = usps_arrays(data / "digits" / "usps" / "usps.t.bz2")
    sources = {"mnist": image_set(mi, ml, range(n_mnist), f"mnist-{n_mnist}", "mnist"),
               "usps": image_set(ui, ul, range(len(ul)), "usps"),
               "digits": load_digits_images(), "digits-shifted": load_shifted_digits_images()}
    return {name: extract_features(src, cache_dir=cache_dir, progress=False) for name, src in sources.items()}


TASKS = {"MNIST->USPS": (["mnist"], "usps"), "USPS->MNIST": (["usps"], "mnist"),
         "digits->digits-shifted": (["digits"], "digits-shifted"),
         "MNIST+USPS+digits->digits-shifted": (["mnist", "usps", "digits"], "digits-shifted")}


def run(method: str, sources: list[FeatureSet], target: FeatureSet):
    from threadpoolctl import threadpool_limits

    X = np.vstack([fs.X for fs in sources] + [target.X])
    y = np.concatenate([fs.y for fs in sources] + [np.full(len(target), -1)])
    sd = np.concatenate([np.full(len(fs), k + 1) for k, fs in enumerate(sources)] + [np.full(len(target), -2)])
    start = time.perf_counter()
    with threadpool_limits(1, user_api="blas"):
        pred = make_method(method).fit(X, y, sample_domain=sd).predict(target.X)
    return pred == target.y, time.perf_counter() - start


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--mnist", type=int, default=2000)
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "alignment_defaults.json"))
    args = p.parse_args(argv)
    if not (args.data / "digits").is_dir():
        raise SystemExit(f"no digits folder under {args.data}; pass --data")
    sets = feature_sets(args.data, args.mnist, args.cache_dir)
    methods = ["logreg"] + [m for m in list_methods("alignment") if m != "none"]
    jobs = [(task, m) for task in TASKS for m in methods]
    out = Parallel(n_jobs=args.jobs)(delayed(run)(m, [sets[s] for s in TASKS[t][0]], sets[TASKS[t][1]])
                                     for t, m in jobs)
    hits = dict(zip(jobs, out))
    rows = []
    for task in TASKS:
        base, _ = hits[task, "logreg"]
        for m in methods:
            right, secs = hits[task, m]
            b, c = int((right & ~base).sum()), int((~right & base).sum())
            rows.append({"task": task, "method": m, "accuracy": 100 * float(right.mean()),
                         "delta": 100 * float(right.mean() - base.mean()),
                         "noise": 100 * 1.96 * np.sqrt(b + c) / len(right), "n_test": len(right), "seconds": secs})
    lines = ["| task | " + " | ".join(methods) + " |", "|---|" + "---:|" * len(methods)]
    for task in TASKS:
        cells = []
        for r in (r for r in rows if r["task"] == task):
            cells.append(f"{r['accuracy']:.1f}" if r["method"] == "logreg"
                         else f"{r['accuracy']:.1f} ({r['delta']:+.1f} ± {r['noise']:.1f})")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print("target accuracy %; in brackets: minus no alignment (logreg), ± the paired 95% noise\n" + table)
    losers = [r for r in rows if r["delta"] < -r["noise"]]
    print("defaults below no alignment by more than noise:",
          ", ".join(f"{r['method']} on {r['task']} ({r['delta']:+.1f})" for r in losers) or "none")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"rows": rows, "methods": methods, "tasks": {k: list(v[0]) + [v[1]]
                                          for k, v in TASKS.items()}, "n_mnist": args.mnist,
                                          "code_paths": code_paths()}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
