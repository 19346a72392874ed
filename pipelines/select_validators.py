"""Which validator to trust: every method's configuration picked without target labels by each
validator, against the oracle's pick (target labels), on Office-Caltech10 SURF (12 tasks) and
MNIST <-> USPS (the JDA paper's pair).

Every source label is used (budget 'all', one draw); each method's selection grid
(`featx.methods.selection_grid`: the alignment's values crossed with its head's) is scored by
every validator on the same fits; fits are reused through the task log under
``cache/compare-select/``, so a re-run takes seconds.

    python pipelines/select_validators.py [--data-set surf|digits|both] [--methods ...]
                                          [--out results/select_validators]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from featx.evaluate import compare_features
from featx.evaluate._report import _json_safe
from featx.evaluate._selection_report import validator_ranking
from featx.features import FeatureSet
from featx.select import ORACLE, VALIDATORS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mnist_usps import DEFAULT_DATA as DIGITS_DATA  # noqa: E402
from mnist_usps import FILES, load_pair  # noqa: E402
from office_caltech import DEFAULT_DATA as SURF_DATA  # noqa: E402
from office_caltech import DOMAINS, TASKS, load_domain  # noqa: E402

METHODS = ["logreg", "ncm", "coral", "sa", "gfk", "tca", "easytl"]


def feature_set(X, y, domain, what) -> FeatureSet:
    return FeatureSet(X=np.asarray(X, np.float32), y=np.asarray(y) - np.min(y) if np.min(y) > 0 else np.asarray(y),
                      ids=np.array([f"{domain}/{i}" for i in range(len(y))], dtype=object),
                      domains=np.array([domain] * len(y), dtype=object),
                      classes=tuple(str(c) for c in range(10)), metadata={"backbone": what})


def surf_tasks(folder: Path):
    data = {k: feature_set(*load_domain(folder, v), v, "SURF bag of words (800-d)") for k, v in DOMAINS.items()}
    return {f"{s}->{t}": (data[s], data[t]) for s, t in TASKS}


def digit_tasks(folder: Path):
    out = {}
    for task, name in FILES.items():
        Xs, ys, Xt, yt = load_pair(folder / name)
        a, b = task.split("->")
        out[task] = (feature_set(Xs, ys, a, "16x16 pixels (256-d)"), feature_set(Xt, yt, b, "16x16 pixels (256-d)"))
    return out


def table(rows, methods, validators) -> str:
    """Mean over tasks of the picks' target accuracy % (gap to the oracle in brackets)."""
    lines = ["| method | " + " | ".join(validators) + " | oracle |", "|---|" + "---:|" * (len(validators) + 1)]
    for m in methods:
        cells = []
        for v in [*validators, ORACLE]:
            acc = [r["accuracy"] for r in rows if r["method"] == m and r["validator"] == v and np.isfinite(r["accuracy"])]
            gap = [r["gap"] for r in rows if r["method"] == m and r["validator"] == v and np.isfinite(r["gap"])]
            if not acc:
                cells.append("-")
            elif v == ORACLE:
                cells.append(f"{100 * np.mean(acc):.1f}")
            else:
                cells.append(f"{100 * np.mean(acc):.1f} ({100 * np.mean(gap):+.1f})")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(name, tasks, methods, jobs, log_dir):
    rows, start = [], time.perf_counter()
    for task, (source, target) in tasks.items():
        result = compare_features(source, target=target, budgets="all", repeats=1, methods=methods, select="all",
                                  n_jobs=jobs, log_dir=log_dir, progress=False)
        rows += [{**r, "task": task} for r in result.selection]
        failed = [f for f in result.failures]
        print(f"{name} {task} done ({time.perf_counter() - start:.0f} s){f'; {len(failed)} failed' if failed else ''}",
              flush=True)
    return rows, time.perf_counter() - start


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-set", choices=["surf", "digits", "both"], default="both")
    p.add_argument("--surf", type=Path, default=SURF_DATA)
    p.add_argument("--digits", type=Path, default=DIGITS_DATA)
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--jobs", type=int, default=-1)
    p.add_argument("--log-dir", type=Path, default=Path("cache/compare-select"))
    p.add_argument("--out", type=Path, default=Path("results/select_validators"))
    args = p.parse_args(argv)
    methods, validators = args.methods.split(","), list(VALIDATORS)
    sets = {"surf": (surf_tasks, args.surf), "digits": (digit_tasks, args.digits)}
    chosen = list(sets) if args.data_set == "both" else [args.data_set]
    args.out.mkdir(parents=True, exist_ok=True)
    lines, out = ["# Choosing without target labels: validators against the oracle", "",
                  f"`python pipelines/select_validators.py --data-set {args.data_set} --methods {args.methods}`. "
                  "Every source label (budget 'all'), each method's selection grid scored by every validator on "
                  "the same fits; target labels only give the oracle's pick and the gaps. Cells: target accuracy % "
                  "of the validator's pick, mean over the tasks, with the mean gap to the oracle in brackets.", ""], {}
    for name in chosen:
        load, folder = sets[name]
        if not folder.is_dir():
            raise SystemExit(f"no {name} data at {folder}")
        rows, seconds = run(name, load(folder), methods, args.jobs, args.log_dir)
        ranks = validator_ranking([r for r in rows if r["validator"] != ORACLE], validators)
        out[name] = {"records": rows, "ranking": ranks, "seconds": seconds}
        title = {"surf": "Office-Caltech10 SURF, 12 tasks", "digits": "MNIST <-> USPS, 2 tasks"}[name]
        lines += [f"## {title} ({seconds:.0f} s)", "", table(rows, methods, validators), "",
                  "| validator | mean gap (points) | rank correlation | fit s per grid |", "|---|---:|---:|---:|"]
        lines += [f"| {r['validator']} | {100 * r['gap']:.1f} | {r['rank_corr']:+.2f} | {r['fit_s']:.1f} |"
                  for r in ranks]
        lines += ["", f"Closest to the oracle: **{ranks[0]['validator']}** ({100 * ranks[0]['gap']:.1f} points "
                      "behind on average over tasks and methods).", ""]
    (args.out / "report.md").write_text("\n".join(lines))
    (args.out / "results.json").write_text(json.dumps(_json_safe(out), indent=2, allow_nan=False))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
