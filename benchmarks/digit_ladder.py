"""The whole transfer ladder on the three digit tasks, one protocol: frozen heads, shallow alignment,
deep heads on the cached embeddings, fine-tuning, fine-tuning with each domain-adaptation loss, and
the ensemble over the three embedded backbones.

MNIST -> USPS and USPS -> MNIST (2,000 MNIST and the 2,007 USPS test images, ``../shared/data/digits``)
and scikit-learn's digits -> digits-shifted; every source label (budget ``all``), the target
unlabelled (its labels only score), the registry's defaults. Each task is one ``featx.compare``
(fit seconds and peak memory per row, the task log under ``--cache-dir`` resumes a killed run), the
ensemble another over ``--backbones`` under the same draw. Prints a table and writes JSON.

    python benchmarks/digit_ladder.py [--input-size 64] [--ft-epochs 5] [--select]
                                      [--out benchmarks/results/digit_ladder.json]

``--select`` adds each feature method's validator-picked setting beside the oracle's
(``featx.compare(select=...)``) on the cached embeddings, ``--select-finetune`` each fine-tuning
strategy's (learning rate, and ``trade_off`` with a DA loss: 4 fine-tuning runs per setting, so
pair it with a small ``--budget``, e.g. ``--tasks digits->digits-shifted --budget 10 --methods
mcc,ft-mcc --ensemble-methods "" --select --select-finetune``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from digit_images import DEFAULT_DATA, image_set, mnist_arrays, usps_arrays  # noqa: E402

FEATURE = ["logreg", "coral", "meda", "dann", "cdan-e", "mcc"]
FINETUNE = ["lp-ft", "ft-last", "ft-dann", "ft-cdan-e", "ft-mcc"]
ENSEMBLE = ["logreg", "mcc"]
BACKBONES = "efficientnet_lite0,efficientnet_lite1,efficientnet_lite2"
VALIDATORS = ["reverse", "entropy", "snd", "mixval"]


def tasks(folder: Path, n_mnist: int = 2000) -> dict:
    """``{name: (source images, target images)}`` of the three digit tasks."""
    from featx.data import load_digits_images, load_shifted_digits_images

    mi, ml = mnist_arrays(folder / "mnist")
    ui, ul = usps_arrays(folder / "usps" / "usps.t.bz2")
    mnist = image_set(mi, ml, range(n_mnist), f"mnist-{n_mnist}", "mnist")
    usps = image_set(ui, ul, range(len(ul)), "usps")
    return {"MNIST->USPS": (mnist, usps), "USPS->MNIST": (usps, mnist),
            "digits->digits-shifted": (load_digits_images(), load_shifted_digits_images())}


def rows_of(result) -> dict:
    """Per method: target accuracy, fit and predict seconds, peak MiB (the one draw at ``all``)."""
    out = {}
    for r in result.records:
        out[r["method"]] = {k: r.get(k) for k in ("accuracy", "fit_s", "predict_s", "peak_mib", "peak_kind")}
    for f in result.failures:
        out[f["method"]] = {"error": f["error"], "message": f["message"]}
    return out


def picks_of(result) -> dict:
    """Per method and validator: the picked setting and its target accuracy (the oracle's too)."""
    out = {}
    for r in result.selection or []:
        if "validator" in r:
            out.setdefault(r["method"], {})[r["validator"]] = {"params": r["params"], "accuracy": r["accuracy"]}
    return out


def main(argv=None):
    from featx.evaluate import compare

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--cache-dir", default="cache")
    p.add_argument("--input-size", type=int, default=None,
                   help="side of the images fed to every backbone, for extraction and fine-tuning alike "
                        "(default: the weights' own, 224 for Lite0)")
    p.add_argument("--ft-epochs", type=int, default=5)
    p.add_argument("--methods", default=",".join(FEATURE + FINETUNE))
    p.add_argument("--ensemble-methods", default=",".join(ENSEMBLE))
    p.add_argument("--backbones", default=BACKBONES)
    p.add_argument("--tasks", default=None, help="comma-separated task names (default: all three)")
    p.add_argument("--select", action="store_true", help="validators' picks for the feature methods, and the oracle")
    p.add_argument("--select-finetune", action="store_true", help="with --select, the fine-tuning strategies' too")
    p.add_argument("--budget", default="all", help="labelled source images per class (default: every one)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "digit_ladder.json")
    args = p.parse_args(argv)
    if not (args.data / "digits").is_dir():
        raise SystemExit(f"no digits folder under {args.data}; pass --data")
    every = tasks(args.data / "digits")
    names = list(every) if args.tasks is None else args.tasks.split(",")
    methods = args.methods.split(",")
    common = dict(budgets=(args.budget,), repeats=1, cache_dir=args.cache_dir, input_size=args.input_size, n_jobs=1,
                  progress=False)
    out = {"input_size": args.input_size, "ft_epochs": args.ft_epochs, "budget": args.budget,
           "backbones": args.backbones.split(","), "tasks": {}}
    for name in names:
        source, target = every[name]
        start = time.perf_counter()
        ladder = compare(source, target=target, methods=methods, ft_epochs=args.ft_epochs,
                         select=VALIDATORS if args.select else None, select_finetune=args.select_finetune, **common)
        task = {"ladder": rows_of(ladder), "picks": picks_of(ladder), "extraction": ladder.extraction}
        if args.ensemble_methods:
            ens = compare(source, target=target, backbones=args.backbones, methods=args.ensemble_methods.split(","),
                          **common)
            task["ensemble"] = rows_of(ens)
            task["ensemble_extraction"] = ens.extraction
        task["seconds"] = time.perf_counter() - start
        out["tasks"][name] = task
        print(f"{name}: {task['seconds']:.0f} s", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2, default=str))
    print(table(out))
    if any(t["picks"] for t in out["tasks"].values()):
        print(picks_table(out))
    print(f"wrote {args.out}")


def table(out) -> str:
    """Markdown: target accuracy % per task and method, the mean, and the fit seconds and peak MiB
    summed / maxed over the tasks."""
    names = list(out["tasks"])
    rows = {}
    for t in names:
        for part in ("ladder", "ensemble"):
            for m, r in out["tasks"][t].get(part, {}).items():
                rows.setdefault(m, {})[t] = r
    lines = ["| method | " + " | ".join(names) + " | mean | fit s (sum) | peak MiB (max) |",
             "|---|" + "---:|" * (len(names) + 3)]
    for m, cells in rows.items():
        acc = [cells[t].get("accuracy") for t in names if t in cells]
        ok = [a for a in acc if a is not None]
        text = [f"{100 * cells[t]['accuracy']:.1f}" if t in cells and cells[t].get("accuracy") is not None else "-"
                for t in names]
        mean = f"**{100 * np.mean(ok):.1f}**" if len(ok) == len(names) else "-"
        fit = sum(cells[t].get("fit_s") or 0 for t in names if t in cells)
        peak = max((cells[t].get("peak_mib") or 0 for t in names if t in cells), default=0)
        lines.append(f"| {m} | " + " | ".join(text) + f" | {mean} | {fit:.0f} | {peak:.0f} |")
    return "\n".join(lines)


def picks_table(out) -> str:
    """Markdown: per task and method, the default's accuracy and each validator's pick (setting,
    accuracy), the oracle's last."""
    lines = ["| task | method | default | " + " | ".join(VALIDATORS) + " | oracle |",
             "|---|---|---:|" + "---:|" * (len(VALIDATORS) + 1)]
    for t, task in out["tasks"].items():
        for m, picks in task["picks"].items():
            default = task["ladder"].get(m, {}).get("accuracy")
            cells = [f"{100 * default:.1f}" if default is not None else "-"]
            for v in [*VALIDATORS, "oracle"]:
                p = picks.get(v)
                ok = p is not None and p["params"] is not None and p["accuracy"] == p["accuracy"]
                cells.append(f"{100 * p['accuracy']:.1f} {p['params']}" if ok else "-")
            lines.append(f"| {t} | {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
