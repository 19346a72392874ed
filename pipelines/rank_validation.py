"""How well does each transferability score predict the accuracy it stands in for?

For every data set, every candidate (backbone x layer) is scored on the training rows by each
score of :data:`featx.transferability.SCORES` (:func:`featx.transferability.score_features`, the code ``featx rank``
runs), and featx's tuned logistic head (``make_method("logreg")``: C by inner 3-fold CV) is
trained on the same rows and tested on held-out ones. Per score and data set: the weighted
Kendall tau between score and test accuracy over the candidates (``scipy.stats.weightedtau``,
as TLlib reports it), and the accuracy lost by taking the score's top candidate instead of the
best one. LEEP and NCE read the backbone's ImageNet head, so they exist for the pooled layers
only and are correlated over those (one candidate per backbone).

Data (``../shared/data``): hymenoptera (its train / val folders), scikit-learn's digits
(``builtin:digits``, half / half), the first 2,000 MNIST test images and the 2,007 USPS test
images (half / half each, stratified). The features come from the cache: one extraction pass
per backbone and data set for all its layers.

    python pipelines/rank_validation.py [--backbones efficientnet_lite0,efficientnet_lite1,efficientnet_lite2]
        [--layers blocks.1,...,blocks.6,pooled] [--data-set hymenoptera,digits,mnist,usps]
        [--out results/rank_validation]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import weightedtau
from sklearn.model_selection import train_test_split

from featx.backbones import create_backbone
from featx.extract import extract_features
from featx.methods import make_method
from featx.transferability import GAP, SCORES, layer_slices, score_features, source_head

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from digit_images import DEFAULT_DATA, image_set, mnist_arrays, usps_arrays  # noqa: E402

BACKBONES = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
LAYERS = ["blocks.1", "blocks.2", "blocks.3", "blocks.4", "blocks.5", "blocks.6", "pooled"]
DATA_SETS = ["hymenoptera", "digits", "mnist", "usps"]


def sources(name: str, data: Path):
    """``(train, test)`` image sources, or one source and the stratified halves' row indices."""
    if name == "hymenoptera":
        return str(data / "hymenoptera_data" / "train"), str(data / "hymenoptera_data" / "val")
    if name == "digits":
        return "builtin:digits", None
    if name == "mnist":
        images, labels = mnist_arrays(data / "digits" / "mnist")
        return image_set(images, labels, range(2000), "mnist-2000", "mnist"), None
    images, labels = usps_arrays(data / "digits" / "usps" / "usps.t.bz2")
    return image_set(images, labels, range(len(labels)), "usps"), None


def split(fs, test_fs, random_state=0):
    """Train / test feature sets: the two sources, or stratified halves of one."""
    if test_fs is not None:
        return fs, test_fs
    idx = np.arange(len(fs))
    tr, te = train_test_split(idx, test_size=0.5, stratify=fs.y, random_state=random_state)
    return fs.subset(np.sort(tr)), fs.subset(np.sort(te))


def head_accuracy(train, test, cols, random_state=0) -> tuple[float, float]:
    start = time.perf_counter()
    model = make_method("logreg", random_state=random_state).fit(train.X[:, cols], train.y)
    acc = float(np.mean(model.predict(test.X[:, cols]) == test.y))
    return acc, time.perf_counter() - start


def evaluate(name, data, backbones, layers, cache_dir):
    train_src, test_src = sources(name, data)
    scores, accuracy, meta = [], [], []
    for backbone in backbones:
        bb = create_backbone(backbone, layers=layers)
        t0 = time.perf_counter()
        fs = extract_features(train_src, bb, cache_dir=cache_dir, progress=False)
        test_fs = extract_features(test_src, bb, cache_dir=cache_dir, progress=False) if test_src else None
        meta.append({"backbone": backbone, "cache_file": fs.metadata["path"], "n_computed": fs.metadata["n_computed"],
                     "extract_seconds": round(time.perf_counter() - t0, 1)})
        train, test = split(fs, test_fs)
        ranking = score_features(train, list(SCORES), backbone=backbone, head=source_head(bb))
        scores += ranking.records
        for layer, cols in layer_slices(train):
            acc, secs = head_accuracy(train, test, cols)
            accuracy.append({"backbone": backbone, "layer": layer, "accuracy": acc, "fit_seconds": round(secs, 2),
                             "n_train": len(train), "n_test": len(test), "dim": cols.stop - cols.start})
            print(f"  {name} {backbone} {layer}: accuracy {100 * acc:.1f}%", flush=True)
    return scores, accuracy, meta


def correlate(scores, accuracy) -> list[dict]:
    acc = {(a["backbone"], a["layer"]): a["accuracy"] for a in accuracy}
    best_acc = max(acc.values())
    out = []
    for s in SCORES:
        rows = [r for r in scores if r["score"] == s and np.isfinite(r["value"])]
        if len(rows) < 2:
            continue
        v = np.array([r["value"] for r in rows])
        a = np.array([acc[(r["backbone"], r["layer"])] for r in rows])
        tau = weightedtau(v, a).statistic if np.ptp(v) > 0 and np.ptp(a) > 0 else float("nan")
        top = rows[int(np.argmax(v))]
        out.append({"score": s, "n_candidates": len(rows), "weighted_tau": float(tau),
                    "top": f"{top['backbone']}:{top['layer']}", "top_accuracy": acc[(top["backbone"], top["layer"])],
                    "best_accuracy_among": float(a.max()), "regret": float(a.max() - acc[(top["backbone"],
                                                                                          top["layer"])]),
                    "best_accuracy_overall": best_acc, "seconds": float(sum(r["seconds"] for r in rows))})
    return out


def scatter(name, scores, accuracy, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    acc = {(a["backbone"], a["layer"]): a["accuracy"] for a in accuracy}
    names = [s for s in SCORES if any(r["score"] == s for r in scores)]
    backbones = list(dict.fromkeys(a["backbone"] for a in accuracy))
    cols = 4
    fig, axes = plt.subplots((len(names) + cols - 1) // cols, cols, figsize=(3.2 * cols, 2.9 * ((len(names) + 3) // 4)),
                             squeeze=False)
    for ax, s in zip(axes.flat, names):
        for i, bb in enumerate(backbones):
            rows = [r for r in scores if r["score"] == s and r["backbone"] == bb]
            ax.scatter([r["value"] for r in rows], [100 * acc[(bb, r["layer"])] for r in rows], s=18,
                       color=f"C{i}", label=bb.replace("efficientnet_", ""))
            for r in rows:
                ax.annotate(r["layer"].replace("blocks.", "b"), (r["value"], 100 * acc[(bb, r["layer"])]),
                            fontsize=6, alpha=0.7)
        ax.set_title(s, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].set_ylabel("test accuracy % (tuned logreg)", fontsize=8)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{name}: score vs accuracy, one point per (backbone, layer)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backbones", default=",".join(BACKBONES))
    p.add_argument("--layers", default=",".join(LAYERS))
    p.add_argument("--data-set", default=",".join(DATA_SETS))
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--out", type=Path, default=Path("results/rank_validation"))
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    backbones, layers = args.backbones.split(","), args.layers.split(",")
    results = {}
    for name in args.data_set.split(","):
        t0 = time.perf_counter()
        scores, accuracy, meta = evaluate(name, args.data, backbones, layers, args.cache_dir)
        corr = correlate(scores, accuracy)
        scatter(name, scores, accuracy, args.out / f"scatter_{name}.png")
        results[name] = {"scores": scores, "accuracy": accuracy, "correlation": corr, "extraction": meta,
                         "seconds": round(time.perf_counter() - t0, 1)}
        (args.out / "rank_validation.json").write_text(json.dumps(
            {"backbones": backbones, "layers": layers, "results": results}, indent=1))
    print(summary(results))
    return 0


def summary(results) -> str:
    """Markdown: weighted tau per score and data set, and the accuracy lost by each score's top pick."""
    names = [s for s in [*SCORES, GAP] if any(c["score"] == s for r in results.values() for c in r["correlation"])]
    sets = list(results)
    lines = ["| score | " + " | ".join(f"{d} tau (regret)" for d in sets) + " | mean tau |",
             "|---|" + "---:|" * (len(sets) + 1)]
    for s in names:
        cells, taus = [], []
        for d in sets:
            c = next((c for c in results[d]["correlation"] if c["score"] == s), None)
            if c is None:
                cells.append("-")
                continue
            taus.append(c["weighted_tau"])
            cells.append(f"{c['weighted_tau']:.2f} ({100 * c['regret']:.1f})" + (
                f" [{c['n_candidates']}]" if c["n_candidates"] < 6 else ""))
        lines.append(f"| {s} | " + " | ".join(cells) + f" | {np.nanmean(taus):.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
