"""``featx predict``: a saved model applied to new images (or cached features)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np


def add_parser(sub) -> None:
    from featx.cli._images import add_extraction_options

    p = sub.add_parser("predict", help="predict class names of new images with a model saved by featx fit --save "
                                       "(or a fine-tuned FineTuneClassifier)")
    p.add_argument("model", type=Path, help="MODEL.skops written by featx fit --save or featx.persist.save_model")
    p.add_argument("data", nargs="+",
                   help="image files, image folders, .csv manifests or .h5 cache files (features of the model's "
                        "backbone)")
    p.add_argument("--out", type=Path, default=None, help="write the predictions to this CSV (default: stdout)")
    p.add_argument("--top-k", type=int, default=1, help="the K most probable classes per image (default: 1)")
    add_extraction_options(p)
    p.set_defaults(run=run_predict)


def run_predict(args) -> int:
    from featx.persist import load_model

    if args.top_k < 1:
        raise ValueError(f"--top-k must be a positive integer; got {args.top_k}.")
    model = load_model(args.model)
    if not hasattr(model, "predict_proba"):
        raise ValueError(f"The model in {args.model} gives no probabilities ({type(model).__name__}); featx predict "
                         "needs a classifier with predict_proba.")
    classes = np.asarray(model.classes_, dtype=object)
    k = min(args.top_k, len(classes))
    rows, skipped = [], []
    for group in _groups(args.data):
        where, proba, bad = _predict_group(model, group, args)
        skipped += bad
        top = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        for w, p, t in zip(where, proba, top):
            rows.append([w] + [v for j in t for v in (classes[j], f"{p[j]:.6f}")])
    for sid, reason in skipped:
        print(f"featx: warning: skipped unreadable {sid}: {reason}", file=sys.stderr)
    if not rows:
        raise ValueError(f"No image could be read ({len(skipped)} unreadable); nothing to predict.")
    header = ["path", "prediction", "probability"] if k == 1 else ["path"] + [
        c for i in range(1, k + 1) for c in (f"prediction_{i}", f"probability_{i}")]
    out = open(args.out, "w", newline="") if args.out else sys.stdout
    try:
        w = csv.writer(out)
        w.writerow(header)
        w.writerows(rows)
    finally:
        if args.out:
            out.close()
            print(f"wrote {len(rows)} predictions to {args.out}" + (f" ({len(skipped)} unreadable skipped)"
                                                                    if skipped else ""), file=sys.stderr)
    return 0


def _groups(data: list[str]) -> list[list[str]]:
    """Consecutive image files as one group; each folder, manifest or cache file alone."""
    from featx.data import IMAGE_EXTENSIONS

    groups, files = [], []
    for item in data:
        if Path(item).suffix.lower() in IMAGE_EXTENSIONS:
            files.append(item)
            continue
        if files:
            groups.append(files)
            files = []
        groups.append([item])
    return groups + ([files] if files else [])


def _predict_group(model, group, args):
    """``(where, probabilities, skipped)`` of one group's readable images."""
    from featx.cli._images import open_images
    from featx.extract import load_features

    if len(group) == 1 and group[0].endswith(".h5"):
        fs = load_features(group[0])  # an image model checks the features' provenance; a bare one their width
        return list(fs.ids), model.predict_proba(fs if _embedder(model) is not None else fs.X), []
    source = open_images(group, args)
    embedder = _embedder(model)
    if embedder is None:  # a model of images itself (FineTuneClassifier): it reads them
        readable, bad = _readable(source)
        from featx.data import SourceSubset

        proba = model.predict_proba(SourceSubset(source, readable)) if readable else np.zeros((0, len(model.classes_)))
        return _where(source, readable), proba, bad
    from featx.cli._images import extract

    args.precision = embedder.provenance_["precision"]
    fs = extract(source, args, backbone=embedder.check_backbone(), fold_batchnorm=embedder.fold_batchnorm)
    index = {sid: i for i, sid in enumerate(source.ids)}
    proba = model.predict_proba(fs) if len(fs) else np.zeros((0, len(model.classes_)))
    return _where(source, [index[s] for s in fs.ids]), proba, list(fs.metadata["skipped"])


def _embedder(model):
    steps = getattr(model, "steps", None)
    first = steps[0][1] if isinstance(steps, list) and steps else None
    return first if hasattr(first, "provenance_") else None


def _where(source, rows) -> list[str]:
    where = source.locations()
    return [where[i] or source.ids[i] for i in rows]


def _readable(source):
    """Rows whose image opens and decodes, and ``(id, reason)`` of the others."""
    ok, bad = [], []
    for i in range(len(source)):
        try:
            with source.load(i) as img:
                img.load()
            ok.append(i)
        except Exception as exc:  # any decoder failure: reported, not fatal
            bad.append((source.ids[i], f"{type(exc).__name__}: {exc}"))
    return ok, bad
