"""Hymenoptera (ants vs bees, 245 train / 153 val images): frozen features vs fine-tuning.

Every strategy uses the default backbone (EfficientNet-Lite0, ImageNet weights), its own
preprocessing, and the same split: the official train folder for training (10% of it,
stratified, held out for early stopping where a strategy uses it) and the official val
folder for the reported accuracy only.

    python pipelines/hymenoptera.py [--data ../shared/data/hymenoptera_data] [--epochs 5]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sklearn.linear_model import LogisticRegression

from featx.backbones import create_backbone
from featx.extract import extract_features
from featx.finetune import FineTuneClassifier

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hymenoptera_data"


def frozen_logreg(data: Path, backbone, cache_dir) -> dict:
    start = time.perf_counter()
    train = extract_features(data / "train", backbone, cache_dir=cache_dir)
    val = extract_features(data / "val", backbone, cache_dir=cache_dir)
    computed = train.metadata["n_computed"] + val.metadata["n_computed"]
    clf = LogisticRegression(max_iter=2000).fit(train.X, train.y)
    return {"val_accuracy": float(clf.score(val.X, val.y)), "seconds": time.perf_counter() - start,
            "note": f"{computed} images embedded now, the rest read from the cache"}


STRATEGIES = {
    "fine-tune last stage (blocks.6 + conv_head)": dict(freeze="last:2"),
    "full fine-tune": dict(freeze="none"),
    "LP-FT (head from logistic regression on cached features)": dict(freeze="lp-ft", lp_epochs=0, head_init="logreg"),
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--only", help="comma-separated strategy numbers to run (0 = frozen features)")
    p.add_argument("--out", type=Path, default=Path("results/hymenoptera"))
    args = p.parse_args(argv)
    if not (args.data / "train").is_dir():
        raise SystemExit(f"no hymenoptera_data at {args.data}; pass --data")
    backbone = create_backbone("efficientnet_lite0")
    only = None if args.only is None else {int(i) for i in args.only.split(",")}
    results = {}
    if only is None or 0 in only:
        results["frozen features + logistic regression"] = frozen_logreg(args.data, backbone, args.cache_dir)
    for i, (name, kwargs) in enumerate(STRATEGIES.items(), start=1):
        if only is not None and i not in only:
            continue
        start = time.perf_counter()
        clf = FineTuneClassifier(backbone, epochs=args.epochs, early_stopping=3, cache_dir=args.cache_dir,
                                 **kwargs).fit(args.data / "train")
        acc = clf.score(args.data / "val")
        note = "" if kwargs.get("head_init") != "logreg" else f"warm start embedded {clf.warm_start_computed_} images"
        results[name] = {"val_accuracy": float(acc), "seconds": time.perf_counter() - start, "note": note,
                         "best_epoch": clf.best_epoch_, "history": clf.history_, "params": {
                             k: v for k, v in clf.get_params().items() if k not in ("backbone",)}}
    lines = ["| strategy | val accuracy | wall time s | note |", "|---|---:|---:|---|"]
    lines += [f"| {k} | {v['val_accuracy']:.3f} | {v['seconds']:.0f} | {v['note']} |" for k, v in results.items()]
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(table + "\n")
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {args.out}/table.md and results.json")


if __name__ == "__main__":
    main()
