"""The strongest frozen-feature methods on the default backbone's embeddings of real images.

EfficientNet-Lite0 embeddings (cached) of 2,000 MNIST and the 2,007 USPS test images
(``../shared/data/digits``) and of scikit-learn's digits -> digits-shifted (the demo's task);
every source label (budget ``all``), the registry's defaults, target labels only score. Prints a
table (target accuracy %, fit seconds) and writes JSON.

    python benchmarks/frozen_strongest.py [--methods logreg,easytl,coral,coral+selftrain,meda,ot,jdot,dann,cdan-e,mcc]
                                          [--features embeddings|pixels] [--data ../shared/data]
                                          [--seeds N] [--out benchmarks/results/frozen_strongest.json]

``--layers blocks.4,blocks.5,blocks.6,pooled`` extracts those layers of the backbone side by side
(one pass) and accepts the registry's layered names: ``logreg@blocks.5`` (one layer's columns),
``coral@ensemble`` (one model per layer, probabilities averaged) (``--out
benchmarks/results/frozen_layers.json``).

``--seeds 5`` fits every method with ``random_state`` 0-4 and shows mean ± standard deviation
(the deep heads' minibatches and initialisation; ``--methods dann,cdan-e,mcc --seeds 5 --out
benchmarks/results/frozen_deep_seeds.json``).

``--features pixels`` runs the same methods on the JDA paper's MNIST <-> USPS pixels instead
(``--scale unit --out benchmarks/results/frozen_strongest_pixels.json``: rows scaled to unit
length, as the JDA paper's protocol does; the registry's per-domain z-score is for embeddings).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from featx.domains import pack_domains
from featx.methods import make_method

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipelines"))
from select_validators import digit_tasks, embedding_tasks  # noqa: E402

from digit_images import DEFAULT_DATA  # noqa: E402

METHODS = ["logreg", "easytl", "coral", "coral+selftrain", "meda", "ot", "jdot", "dann", "cdan-e", "mcc"]


def run(method, source, target, scale="zscore", random_state=0):
    X, y, sd, _ = pack_domains(source, target)
    start = time.perf_counter()
    model = make_method(method, scale=scale, layers=source.layers, random_state=random_state)
    pred = model.fit(X, y, sample_domain=sd).predict(target.X)
    return float(np.mean(pred == target.y)), time.perf_counter() - start


def seeded(method, source, target, scale, seeds):
    """Accuracy and fit seconds of ``seeds`` fits (``random_state`` 0 .. seeds - 1): the mean,
    the sample standard deviation over the seeds and every seed's accuracy."""
    runs = np.array([run(method, source, target, scale, seed) for seed in range(seeds)])
    return {"accuracy": float(runs[:, 0].mean()), "seconds": float(runs[:, 1].mean()),
            "accuracy_std": float(runs[:, 0].std(ddof=1)) if seeds > 1 else 0.0, "accuracies": runs[:, 0].tolist()}


def cell(record, seeds):
    acc = 100 * record["accuracy"]
    return f"{acc:.1f}" if seeds == 1 else f"{acc:.1f} ± {100 * record['accuracy_std']:.1f}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--scale", choices=["zscore", "unit", "none"], default="zscore",
                   help="per-domain scaling inside every model (default: %(default)s, the registry's; the pixel "
                        "literature scales rows to unit length: --scale unit)")
    p.add_argument("--features", choices=["embeddings", "pixels"], default="embeddings",
                   help="the default backbone's embeddings of the digit images, or the JDA paper's MNIST <-> USPS "
                        "16x16 pixels (256-d, ../shared/data/digits/mnist_usps_jda)")
    p.add_argument("--layers", default=None,
                   help="comma-separated backbone layers to extract side by side (embeddings only; default: pooled)")
    p.add_argument("--seeds", type=int, default=1,
                   help="fits per method and task with random_state 0 .. N-1; cells show mean ± std over them")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "frozen_strongest.json")
    args = p.parse_args(argv)
    if args.seeds < 1:
        raise SystemExit(f"--seeds must be at least 1; got {args.seeds}")
    if not (args.data / "digits").is_dir():
        raise SystemExit(f"no digits folder under {args.data}; pass --data")
    if args.features == "pixels":
        tasks = digit_tasks(args.data / "digits" / "mnist_usps_jda")
    else:
        tasks = embedding_tasks(args.data / "digits", args.cache_dir,
                                layers=None if args.layers is None else args.layers.split(","))
    methods = args.methods.split(",")
    out = {m: {t: seeded(m, *pair, args.scale, args.seeds) for t, pair in tasks.items()} for m in methods}
    per_seed = "fit s (sum, per seed)" if args.seeds > 1 else "fit s (sum)"
    lines = ["| method | " + " | ".join(tasks) + f" | mean | {per_seed} |", "|---|" + "---:|" * (len(tasks) + 2)]
    for m in methods:
        mean = {"accuracy": np.mean([out[m][t]["accuracy"] for t in tasks]),  # std of the task mean over seeds
                "accuracy_std": np.std(np.mean([out[m][t]["accuracies"] for t in tasks], axis=0), ddof=1)
                if args.seeds > 1 else 0.0}
        secs = sum(out[m][t]["seconds"] for t in tasks)
        lines.append(f"| {m} | " + " | ".join(cell(out[m][t], args.seeds) for t in tasks)
                     + f" | **{cell(mean, args.seeds)}** | {secs:.0f} |")
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
