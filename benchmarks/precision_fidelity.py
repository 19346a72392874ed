"""Fidelity of bfloat16 extraction: embeddings and downstream accuracy against float32.

Embeds the same images with the default backbone in float32 and with bfloat16 autocast
(features stored as float32 either way) twice: as featx extracts (the first stage, the
layers at half the input resolution, kept in float32) and with plain autocast everywhere,
and reports for each the mean and minimum cosine similarity
per image and the accuracy of the same logistic regression (standardised features, C=1)
trained and tested on each: hymenoptera train -> val, MNIST test images (first N for
training, the next N (or ``--test``) for testing, rendered 28 -> 224 px by the backbone's preprocessing)
and USPS test images (16 x 16, a seeded shuffle split the same way). ``test predictions
differing`` counts the test images the two classifiers label differently: with a few
hundred test images one image is a third of a point, so it says how much of an accuracy
delta is noise.
On a CPU without native bfloat16 the bfloat16 pass is emulated and slow; the numbers
are about fidelity, not speed.

    python benchmarks/precision_fidelity.py [--mnist 300] [--usps 300] [--test 1000] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from featx.backbones import Backbone, create_backbone
from featx.data import open_source
from featx.extract import extract_features

from digit_images import image_set, mnist_arrays, usps_arrays

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def mnist(folder: Path, n: int, n_test: int | None = None):
    images, labels = mnist_arrays(folder)
    return (image_set(images, labels, range(0, n), "mnist-train", "mnist"),
            image_set(images, labels, range(n, n + (n_test or n)), "mnist-test", "mnist"))


def usps(path: Path, n: int, n_test: int | None = None):
    """USPS test images, a seeded shuffle split into train and test parts."""
    images, labels = usps_arrays(path)
    order = np.random.default_rng(0).permutation(len(labels))
    return (image_set(images, labels, order[:n], "usps-train", "usps"),
            image_set(images, labels, order[n:n + (n_test or n)], "usps-test", "usps"))


def plain_autocast(backbone: Backbone) -> Backbone:
    """The same backbone with no first stage on record: bfloat16 autocast everywhere."""
    model = copy.deepcopy(backbone.model)
    model.feature_info = []
    return Backbone(model, name=backbone.name, preprocessing=backbone.preprocessing, pooled_fn=backbone.pooled_fn,
                    pooled_dim=backbone.pooled_dim)


def compare(name, train, test, backbone, cache) -> dict:
    """float32 vs featx's bfloat16 (first stage in float32) and vs plain bfloat16 autocast."""
    train, test = open_source(train), open_source(test)
    out = {"task": name, "n_train": len(train), "n_test": len(test),
           "float32_first_stage": list(backbone.float32_first_stage)}
    feats, predictions = {}, {}
    runs = {"float32": (backbone, "float32"), "bfloat16": (backbone, "bfloat16"),
            "bfloat16_plain_autocast": (plain_autocast(backbone), "bfloat16")}
    for run, (bb, precision) in runs.items():
        start = time.perf_counter()
        tr = extract_features(train, bb, cache_dir=cache, precision=precision, progress=False)
        te = extract_features(test, bb, cache_dir=cache, precision=precision, progress=False)
        out[f"{run}_seconds"] = time.perf_counter() - start
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(tr.X, tr.y)
        predictions[run] = clf.predict(te.X)
        out[f"{run}_accuracy"] = float((predictions[run] == te.y).mean())
        feats[run] = np.vstack([tr.X, te.X]).astype(np.float64)
    a = feats["float32"]
    for run in ("bfloat16", "bfloat16_plain_autocast"):
        b = feats[run]
        cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        prefix = "" if run == "bfloat16" else "plain_autocast_"
        out.update({f"{prefix}mean_cosine": float(cos.mean()), f"{prefix}min_cosine": float(cos.min()),
                    f"{prefix}accuracy_delta_points": 100 * (out[f"{run}_accuracy"] - out["float32_accuracy"]),
                    f"{prefix}test_predictions_differing": int((predictions["float32"] != predictions[run]).sum())})
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--mnist", type=int, default=300, help="MNIST images for training, as many for testing")
    p.add_argument("--usps", type=int, default=300, help="USPS images for training, as many for testing")
    p.add_argument("--test", type=int, default=None,
                   help="test images per digit set (default: as many as for training; USPS has 2,007)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/precision_fidelity.json"))
    args = p.parse_args(argv)
    backbone = create_backbone("efficientnet_lite0")
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        hym = args.data / "hymenoptera_data"
        rows.append(compare("hymenoptera", hym / "train", hym / "val", backbone, cache))
        rows.append(compare("MNIST", *mnist(args.data / "digits" / "mnist", args.mnist, args.test), backbone, cache))
        rows.append(compare("USPS", *usps(args.data / "digits" / "usps" / "usps.t.bz2", args.usps, args.test),
                            backbone, cache))
    lines = ["| task | train / test | bfloat16 | mean cosine | min cosine | acc float32 | acc bfloat16 "
             "| delta (points) | test predictions differing |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        for label, pre, run in [("featx (first stage fp32)", "", "bfloat16"),
                                ("plain autocast", "plain_autocast_", "bfloat16_plain_autocast")]:
            lines.append(f"| {r['task']} | {r['n_train']} / {r['n_test']} | {label} | {r[pre + 'mean_cosine']:.5f} "
                         f"| {r[pre + 'min_cosine']:.5f} | {100 * r['float32_accuracy']:.1f} "
                         f"| {100 * r[run + '_accuracy']:.1f} | {r[pre + 'accuracy_delta_points']:+.1f} "
                         f"| {r[pre + 'test_predictions_differing']} |")
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
