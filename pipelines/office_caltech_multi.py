"""Office-Caltech10 SURF with several sources: three labelled domains -> the fourth.

Each registry model three ways (``featx.make_method(..., sources=...)``): ``native`` (CORAL
and OT map each source on its own, the others pool the rows but scale each source with its
own moments), ``pooled`` (the three sources as one domain, scaling included) and
``per-source`` (one model per source with the target, probabilities averaged). The
per-source members also give the single-source accuracies (mean and best of the three), so
the table says what a second and third source add. Preprocessing as in
``office_caltech.py``; target labels only score.

    python pipelines/office_caltech_multi.py [--data ../shared/data/office_caltech10_surf]
                                             [--methods logreg,coral,...] [--out results/office_caltech_multi]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from featx.domains import pack_domains
from featx.features import FeatureSet
from featx.methods import SOURCES, make_method
from office_caltech import DEFAULT_DATA, DOMAINS, load_domain

METHODS = ["logreg", "coral", "sa", "tca", "easytl", "meda", "ot", "jdot"]


def feature_set(X, y, name):
    n = len(X)
    return FeatureSet(X.astype(np.float32), y, np.arange(n).astype(str), np.full(n, name), tuple(map(str, range(10))))


def run(method, sources, data, target):
    """Accuracy and fit seconds of each way of treating the sources, and the single-source
    accuracies of the per-source members."""
    X, y, sd, _ = pack_domains([feature_set(*data[s], s) for s in sources], feature_set(*data[target], target))
    Xt, yt = data[target]
    out = {}
    for how in SOURCES:
        model = make_method(method, sources=how)
        start = time.perf_counter()
        model.fit(X, y, sample_domain=sd)
        out[how] = {"accuracy": 100 * float(np.mean(model.predict(Xt) == yt)), "seconds": time.perf_counter() - start}
        if how == "per-source":
            out["single"] = [100 * float(np.mean(m.predict(Xt) == yt)) for m in model.estimators_]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--out", type=Path, default=Path("results/office_caltech_multi"))
    args = p.parse_args(argv)
    if not args.data.is_dir():
        raise SystemExit(f"no Office-Caltech10 SURF folder at {args.data}; pass --data")
    data = {k: load_domain(args.data, v) for k, v in DOMAINS.items()}
    methods = args.methods.split(",")
    tasks = {t: [s for s in DOMAINS if s != t] for t in DOMAINS}
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # POT's and scikit-learn's convergence notes
        for m in methods:
            results[m] = {f"{''.join(s)}->{t}": run(m, s, data, t) for t, s in tasks.items()}
            print(f"{m} done", flush=True)
    cols = ["mean single", "best single", *SOURCES]
    lines = ["| method | " + " | ".join(cols) + " | fit s (native, pooled, per-source) |",
             "|---|" + "---:|" * (len(cols) + 1)]
    summary = {}
    for m in methods:
        r = results[m].values()
        row = {"mean single": np.mean([np.mean(x["single"]) for x in r]),
               "best single": np.mean([np.max(x["single"]) for x in r]),
               **{how: np.mean([x[how]["accuracy"] for x in r]) for how in SOURCES}}
        secs = [sum(x[how]["seconds"] for x in r) for how in SOURCES]
        summary[m] = {**row, "seconds": dict(zip(SOURCES, secs))}
        best = max(SOURCES, key=lambda h: row[h])
        cells = [f"{row[c]:.1f}" if c != best else f"**{row[c]:.1f}**" for c in cols]
        lines.append(f"| {m} | " + " | ".join(cells) + " | " + ", ".join(f"{s:.1f}" for s in secs) + " |")
    table = "\n".join(lines)
    print(f"Office-Caltech10 SURF, 3 sources -> 1 target, mean over the 4 tasks (%):\n{table}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(table + "\n")
    (args.out / "results.json").write_text(json.dumps({"tasks": results, "summary": summary}, indent=2))
    print(f"wrote {args.out}/table.md and results.json")


if __name__ == "__main__":
    main()
