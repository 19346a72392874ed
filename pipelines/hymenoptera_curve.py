"""Hymenoptera (ants vs bees): frozen features vs fine-tuning over the labelled budget.

`featx.evaluate.compare` on the official split: draws of 1, 5, 20 labelled training images
per class (5 draws each) and all 245, every method on the same draws, accuracy on the 153
val images only. Frozen heads tune their hyper-parameters by inner CV on the drawn images;
fine-tuning runs a fixed 5 epochs below 10 images per class and early-stops on a 10% split
of the draw above. Writes the report (Markdown, JSON, CSV, plots) to results/hymenoptera_curve/.

    python pipelines/hymenoptera_curve.py [--data ../shared/data/hymenoptera_data]
                                          [--budgets 1,5,20,all] [--repeats 5] [--ft-epochs 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from featx.evaluate import compare, write_report
from featx.evaluate import summary_table

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hymenoptera_data"
METHODS = ["logreg", "linear-svm", "rbf-svm", "knn", "ncm", "ft-last", "ft-full", "lp-ft"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--budgets", default="1,5,20,all")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--ft-epochs", type=int, default=5)
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--out", type=Path, default=Path("results/hymenoptera_curve"))
    args = p.parse_args(argv)
    if not (args.data / "train").is_dir():
        raise SystemExit(f"no hymenoptera_data at {args.data}; pass --data")
    start = time.perf_counter()
    result = compare(args.data / "train", test=args.data / "val", budgets=args.budgets, repeats=args.repeats,
                     methods=args.methods.split(","), ft_epochs=args.ft_epochs, cache_dir=args.cache_dir, n_jobs=-1)
    paths = write_report(result, args.out)
    print(summary_table(result))
    print(f"{time.perf_counter() - start:.0f} s; report: {paths['markdown']}")


if __name__ == "__main__":
    main()
