"""What the input size does to the digit tasks: accuracy and embedding time per size.

The default backbone (EfficientNet-Lite0, trained at 224 px) embeds 2,000 MNIST and the 2,007
USPS test images and scikit-learn's digits and digits-shifted (7,601 images) at each size into an
empty cache folder; the frozen logistic head, CORAL and MCC on the embeddings are then fitted
on every source label of MNIST -> USPS, USPS -> MNIST and digits -> digits-shifted (the
registry's defaults, target labels only score). Prints a table and writes JSON.

    python benchmarks/input_size.py [--sizes 64,96,128,224] [--out benchmarks/results/input_size.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipelines"))
from digit_images import DEFAULT_DATA  # noqa: E402
from frozen_strongest import run  # noqa: E402
from select_validators import embedding_tasks  # noqa: E402

METHODS = ["logreg", "coral", "mcc"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--sizes", default="64,96,128,224")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "input_size.json")
    args = p.parse_args(argv)
    if not (args.data / "digits").is_dir():
        raise SystemExit(f"no digits folder under {args.data}; pass --data")
    out = {}
    for size in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as cache:  # every size embedded from an empty cache
            start = time.perf_counter()
            tasks = embedding_tasks(args.data / "digits", cache, input_size=size)
            seconds = time.perf_counter() - start
        out[size] = {"embed_s": seconds, "methods": {}}
        for m in args.methods.split(","):
            accs = {t: run(m, s, tg)[0] for t, (s, tg) in tasks.items()}
            out[size]["methods"][m] = {**accs, "mean": float(np.mean(list(accs.values())))}
        print(size, f"{seconds:.0f} s", {m: round(100 * v["mean"], 1) for m, v in out[size]["methods"].items()},
              flush=True)
    print(table(out))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")


def table(out) -> str:
    """Markdown: per size, the embedding seconds and each method's accuracy per task and mean."""
    sizes = list(out)
    methods = list(out[sizes[0]]["methods"])
    tasks = [t for t in out[sizes[0]]["methods"][methods[0]] if t != "mean"]
    lines = ["| input px | embed s (7,601 images) | " + " | ".join(f"{m} mean" for m in methods) + " | "
             + " | ".join(f"mcc {t}" for t in tasks) + " |", "|---:|---:|" + "---:|" * (len(methods) + len(tasks))]
    for s in sizes:
        row = out[s]["methods"]
        mcc = row.get("mcc", {})
        lines.append(f"| {s} | {out[s]['embed_s']:.0f} | " + " | ".join(f"{100 * row[m]['mean']:.1f}" for m in methods)
                     + " | " + " | ".join(f"{100 * mcc[t]:.1f}" if t in mcc else "-" for t in tasks) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
