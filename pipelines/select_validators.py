"""Which validator to trust: every method's configuration picked without target labels by each
validator, against the oracle's pick (target labels), on Office-Caltech10 SURF (12 tasks),
MNIST <-> USPS (the JDA paper's 16 x 16 pixel pair) and EfficientNet-Lite0 embeddings of real
digit images (MNIST <-> USPS test images and digits -> digits-shifted, the demo's task).

Every source label is used (budget 'all', one draw); each method's selection grid
(`featx.methods.selection_grid`: the alignment's values crossed with its head's) is scored by
every validator on the same fits; each finished (task, method) is kept in the task log
``<out>/task_log/`` beside the results (``--log-dir`` to move it), so an interrupted run resumes
where it stopped and a re-run takes seconds. JDA and BDA run with the papers' 1-NN head (``jda+1nn``,
``bda+1nn``): with the logistic head's C grid crossed in, their 10 pseudo-label rounds per fit
would not fit the run in 30 minutes on 2 cores.

    python pipelines/select_validators.py [--data-set surf,digits,embeddings|all] [--methods ...]
                                          [--out results/select_validators]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from featx.data import load_digits_images, load_shifted_digits_images
from featx.evaluate import compare_features, plot_gap_heatmap, validator_ranking
from featx.evaluate._report import _json_safe
from featx.extract import extract_features
from featx.features import FeatureSet
from featx.select import ORACLE, VALIDATORS

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from digit_images import image_set, mnist_arrays, usps_arrays  # noqa: E402
from mnist_usps import DEFAULT_DATA as DIGITS_DATA  # noqa: E402
from mnist_usps import FILES, load_pair  # noqa: E402
from office_caltech import DEFAULT_DATA as SURF_DATA  # noqa: E402
from office_caltech import DOMAINS, TASKS, load_domain  # noqa: E402

METHODS = ["logreg", "linear-svm", "knn", "ncm", "coral", "sa", "gfk", "tca", "jda+1nn", "bda+1nn", "easytl"]
TITLES = {"surf": "Office-Caltech10 SURF, 12 tasks", "digits": "MNIST <-> USPS pixels (JDA's pair), 2 tasks",
          "embeddings": "EfficientNet-Lite0 embeddings of digit images, 3 tasks"}


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


def embedding_tasks(folder: Path, cache_dir=None, n_mnist=2000, layers=None, backbone="efficientnet_lite0",
                    input_size=None):
    """A backbone's embeddings (cached; default the default backbone's) of 2,000 MNIST and the
    2,007 USPS test images, and of scikit-learn's digits and their shifted copy (``layers``: the
    backbone's layers to extract, side by side, default its pooled embedding; ``input_size``:
    the images' side in pixels, default the weights' own)."""
    mi, ml = mnist_arrays(folder / "mnist")
    ui, ul = usps_arrays(folder / "usps" / "usps.t.bz2")
    sources = {"mnist": image_set(mi, ml, range(n_mnist), f"mnist-{n_mnist}", "mnist"),
               "usps": image_set(ui, ul, range(len(ul)), "usps"),
               "digits": load_digits_images(), "digits-shifted": load_shifted_digits_images()}
    sets = {k: extract_features(v, backbone, layers=layers, cache_dir=cache_dir, input_size=input_size,
                                progress=False) for k, v in sources.items()}
    return {"MNIST->USPS": (sets["mnist"], sets["usps"]), "USPS->MNIST": (sets["usps"], sets["mnist"]),
            "digits->digits-shifted": (sets["digits"], sets["digits-shifted"])}


def gap_matrix(rows, methods, validators) -> np.ndarray:
    """Mean gap (points) over tasks, methods x validators."""
    def mean(values):
        values = [g for g in values if np.isfinite(g)]
        return 100 * np.mean(values) if values else np.nan

    return np.array([[mean(r["gap"] for r in rows if r["method"] == m and r["validator"] == v) for v in validators]
                     for m in methods])


def table(rows, methods, validators, defaults=None) -> str:
    """Mean over tasks of the picks' target accuracy % (gap to the oracle in brackets), after the
    registry defaults' accuracy (``defaults``: one record per task and method) when given."""
    head = ["default"] if defaults else []
    lines = ["| method | " + " | ".join([*head, *validators]) + " | oracle |",
             "|---|" + "---:|" * (len(head) + len(validators) + 1)]
    for m in methods:
        cells = [f"{100 * np.mean([d['accuracy'] for d in defaults if d['method'] == m]):.1f}"] if defaults else []
        for v in [*validators, ORACLE]:
            acc = [r["accuracy"] for r in rows
                   if r["method"] == m and r["validator"] == v and np.isfinite(r["accuracy"])]
            gap = [r["gap"] for r in rows if r["method"] == m and r["validator"] == v and np.isfinite(r["gap"])]
            if not acc:
                cells.append("-")
            elif v == ORACLE:
                cells.append(f"{100 * np.mean(acc):.1f}")
            else:
                cells.append(f"{100 * np.mean(acc):.1f} ({100 * np.mean(gap):+.1f})")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(name, tasks, methods, jobs, log_dir, scale="zscore"):
    rows, defaults, start = [], [], time.perf_counter()
    for task, (source, target) in tasks.items():
        result = compare_features(source, target=target, budgets="all", repeats=1, methods=methods, select="all",
                                  scale=scale, n_jobs=jobs, log_dir=log_dir, progress=False)
        rows += [{**r, "task": task} for r in result.selection]
        defaults += [{"task": task, "method": r["method"], "accuracy": r["accuracy"]} for r in result.records]
        failed = [f for f in result.failures]
        print(f"{name} {task} done ({time.perf_counter() - start:.0f} s){f'; {len(failed)} failed' if failed else ''}",
              flush=True)
    return rows, defaults, time.perf_counter() - start


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-set", default="all", help="comma-separated: surf, digits, embeddings; or all")
    p.add_argument("--surf", type=Path, default=SURF_DATA)
    p.add_argument("--digits", type=Path, default=DIGITS_DATA)
    p.add_argument("--images", type=Path, default=DIGITS_DATA.parent,
                   help="folder with mnist/ and usps/ (the embeddings' images)")
    p.add_argument("--cache-dir", default=None, help="feature cache of the embeddings (default ./cache)")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--scale", choices=["zscore", "unit", "none"], default="zscore",
                   help="per-domain scaling inside every model (default: %(default)s; the pixel literature's: unit)")
    p.add_argument("--jobs", type=int, default=-1)
    p.add_argument("--log-dir", type=Path, default=None,
                   help="task log of finished fits, read back on a re-run (default: OUT/task_log)")
    p.add_argument("--out", type=Path, default=Path("results/select_validators"))
    args = p.parse_args(argv)
    methods, validators = args.methods.split(","), list(VALIDATORS)
    sets = {"surf": (surf_tasks, args.surf), "digits": (digit_tasks, args.digits),
            "embeddings": (lambda folder: embedding_tasks(folder, args.cache_dir), args.images)}
    chosen = list(sets) if args.data_set == "all" else args.data_set.split(",")
    if set(chosen) - set(sets):
        raise SystemExit(f"unknown data sets {sorted(set(chosen) - set(sets))}; expected some of {list(sets)} or all")
    args.out.mkdir(parents=True, exist_ok=True)
    log_dir = args.log_dir if args.log_dir is not None else args.out / "task_log"
    lines, out = ["# Choosing without target labels: validators against the oracle", "",
                  f"`python pipelines/select_validators.py --data-set {args.data_set} --methods {args.methods}"
                  f"{'' if args.scale == 'zscore' else ' --scale ' + args.scale}`. "
                  "Every source label (budget 'all'), each method's selection grid scored by every validator on "
                  "the same fits; target labels only give the oracle's pick and the gaps. Cells: target accuracy % "
                  "of the validator's pick, mean over the tasks, with the mean gap to the oracle in brackets; "
                  "'default': the registry's defaults (the head tuned by inner CV on the source).", ""], {}
    missing = [f"{name} ({sets[name][1]})" for name in chosen if not sets[name][1].is_dir()]
    if missing:
        raise SystemExit(f"no data for {', '.join(missing)}")
    for name in chosen:
        load, folder = sets[name]
        rows, defaults, seconds = run(name, load(folder), methods, args.jobs, log_dir, args.scale)
        ranks = validator_ranking([r for r in rows if r["validator"] != ORACLE], validators)
        out[name] = {"records": rows, "defaults": defaults, "ranking": ranks, "seconds": seconds}
        plot_gap_heatmap(gap_matrix(rows, methods, validators), methods, validators, args.out / f"gaps_{name}.png",
                         title=f"points lost to the oracle's pick, mean over tasks ({name})")
        compute = sum({(r["task"], r["method"]): r["select_s"] for r in rows}.values())
        lines += [f"## {TITLES[name]}", "", f"Selection compute {compute:.0f} s in one process (the sum over tasks "
                  f"and methods, as measured when each was computed; `--jobs` runs them in parallel); this run took "
                  f"{seconds:.0f} s, reading back what the task log held.", "", table(rows, methods, validators,
                                                                                      defaults), "",
                  f"![gaps](gaps_{name}.png)", "",
                  "| validator | mean gap (points) | rank correlation | fit s per grid |", "|---|---:|---:|---:|"]
        lines += [f"| {r['validator']} | {100 * r['gap']:.1f} | "
                  f"{'-' if np.isnan(r['rank_corr']) else format(r['rank_corr'], '+.2f')} | {r['fit_s']:.1f} |"
                  for r in ranks]
        lines += ["", f"Closest to the oracle: **{ranks[0]['validator']}** ({100 * ranks[0]['gap']:.1f} points "
                      "behind on average over tasks and methods).", ""]
    (args.out / "report.md").write_text("\n".join(lines))
    (args.out / "results.json").write_text(json.dumps(_json_safe(out), indent=2, allow_nan=False))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
