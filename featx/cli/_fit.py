"""``featx fit`` and ``featx evaluate``: domain alignment + a classifier head on cached features."""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import numpy as np


def _common(p, target_required: bool) -> None:
    from featx.cli._compare import add_common
    from featx.cli._images import add_extraction_options

    p.add_argument("features", nargs="*", type=Path,
                   help="cache files (.h5) whose rows carry domain names; without --source, the labelled data "
                        "itself (cache files, image folders, manifests)")
    p.add_argument("--source", default=None,
                   help="source domain(s), comma-separated: names found in FEATURES, .h5 files, image folders or "
                        ".csv manifests (images are embedded through the cache)")
    p.add_argument("--target", required=target_required,
                   help="unlabelled target domain(s), as --source" + ("" if target_required else
                                                                     " (none: a source-only classifier)"))
    add_common(p)
    add_extraction_options(p)


def add_parsers(sub) -> None:
    from featx.cli._output import add_json
    from featx.methods import list_methods

    aligners, heads = ", ".join(list_methods("alignment")), ", ".join(list_methods("head"))
    f = sub.add_parser("fit", help="fit a model on labelled images or features (aligned to an unlabelled target "
                                   "when given) and save it for featx predict")
    _common(f, target_required=False)
    f.add_argument("--method", default=None,
                   help=f"alignment ({aligners}), a head alone, or ALIGNMENT+HEAD (default: coral with a target, "
                        "logreg without)")
    f.add_argument("--head", default=None, help=f"classifier head: {heads} (default: the method's, logreg)")
    f.add_argument("--predictions", type=Path, help="write id,domain,prediction for every target row to this CSV")
    f.add_argument("--save", type=Path, metavar="MODEL.skops",
                   help="save the fitted model with its backbone's name and weights identity and the class names, "
                        "without pickle: `featx predict MODEL IMAGES` applies it")
    add_json(f, "the fit's summary (model, rows, accuracy, seconds, files written)")
    f.set_defaults(run=run_fit)

    e = sub.add_parser("evaluate", help="target accuracy of several methods and heads on cached features "
                                        "(featx compare's protocol at budget 'all')")
    _common(e, target_required=True)
    e.add_argument("--methods", default="none,coral,sa,gfk,tca,jda,easytl", help=f"comma-separated: {aligners}, or all")
    e.add_argument("--heads", default="logreg,1nn", help=f"comma-separated: {heads}")
    add_json(e, "the results")
    e.add_argument("--jobs", type=int, default=-1, help="fits at once, one process each (default: one per core)")
    e.set_defaults(run=run_evaluate)

    m = sub.add_parser("methods", help="the method registry: every name fit, evaluate and compare accept")
    m.set_defaults(run=run_methods)


def run_methods(args) -> int:
    from featx.methods import DEFAULT_HEAD, REGISTRY, grid_text

    for kind, title in (("head", "heads (no alignment: the name alone)"),
                        ("alignment", f"alignment (alone: + {DEFAULT_HEAD}; or ALIGNMENT+HEAD)"),
                        ("finetune", "fine-tuning (featx compare on images)")):
        print(f"{title}:")
        for entry in REGISTRY.values():
            if entry.kind == kind:
                print(f"  {entry.name:11s} {entry.description}{grid_text(entry.grid)}")
    print("every feature model first scales each domain (--scale zscore by default)")
    return 0


def _items(spec) -> list[str]:
    """Comma-separated domain names, .h5 paths (resolved, so one file is one item) or image data."""
    from featx.cli._images import is_image_data

    items = [s.strip() for s in spec.split(",") if s.strip()] if isinstance(spec, str) else [str(s) for s in spec]
    if not items:
        raise ValueError(f"Expected at least one domain name, .h5 file, image folder or manifest; got {spec!r}.")
    return [str(Path(i).resolve()) if i.endswith(".h5") or is_image_data(i) and not i.startswith("builtin:") else i
            for i in items]


def _domain_sets(features: list[Path], items: list[str], args):
    """FeatureSets for ``items``: .h5 files taken whole, image data embedded through the cache, or
    domain names found in ``features``."""
    from featx.cli._images import extract, is_image_data, open_images
    from featx.extract import load_features

    loaded = {path: load_features(path) for path in features}
    out = []
    for item in items:
        if item.endswith(".h5"):
            out.append(load_features(item))
            continue
        if is_image_data(item):
            out.append(extract(open_images([item], args), args))
            continue
        hits = [(path, fs.subset(fs.domains == item)) for path, fs in loaded.items() if (fs.domains == item).any()]
        if not hits:
            found = sorted({str(d) for fs in loaded.values() for d in fs.domains})
            raise ValueError(f"No rows with domain {item!r} in the given cache files; found domains {found}.")
        if len(hits) > 1:
            raise ValueError(f"Domain {item!r} is in several cache files ({[str(p) for p, _ in hits]}); "
                             "pass the file itself as --source/--target.")
        out.append(hits[0][1])
    return out


def _load(args):
    """``X, y (target masked), sample_domain, target rows' true labels, sources, targets``."""
    from featx.cli._images import same_settings
    from featx.domains import pack_domains

    if args.source is None:
        if not args.features:
            raise ValueError("Nothing to fit on: give the labelled data (an image folder, manifest or .h5 file) or "
                             "--source.")
        src_items, features = _items(args.features), []
    else:
        src_items, features = _items(args.source), args.features
    tgt_items = _items(args.target) if args.target else []
    if set(src_items) & set(tgt_items):
        raise ValueError(f"Source and target must be different domains; got {sorted(set(src_items) & set(tgt_items))} "
                         "in both --source and --target.")
    sources, targets = _domain_sets(features, src_items, args), _domain_sets(features, tgt_items, args)
    same_settings(sources + targets)
    if len({tuple(s.classes) for s in sources}) > 1:
        raise ValueError(f"The source domains name different classes: {[list(s.classes) for s in sources]}.")
    X, y, sd, _ = pack_domains(sources, targets or None)
    y_target = np.concatenate([t.y for t in targets]) if targets else np.zeros(0, np.int64)
    if len(np.unique(y[sd >= 0][y[sd >= 0] >= 0])) < 2:
        raise ValueError(f"A classifier needs labelled images of at least 2 classes; the source has "
                         f"{list(sources[0].classes)}.")
    return X, y, sd, y_target, sources, targets


def _accuracy(pred, truth, y_target):
    """Accuracy % of ``pred`` against ``truth`` on the rows whose label is known (``y_target >= 0``)."""
    known = np.asarray(y_target) >= 0
    return 100.0 * float(np.mean(np.asarray(pred)[known] == np.asarray(truth)[known])) if known.any() else None


def _with_head(method: str, head: str) -> str:
    """``coral@ensemble`` with head ``1nn`` -> ``coral+1nn@ensemble``."""
    from featx.methods import split_layer

    base, layer = split_layer(method)
    return f"{base}+{head}" + ("" if layer is None else f"@{layer}")


def run_fit(args) -> int:
    from featx.classify import NamedClasses
    from featx.cli._compare import random_state
    from featx.cli._output import Output
    from featx.methods import canonical_name, make_method

    out = Output(args)
    X, y, sd, y_target, sources, targets = _load(args)
    if args.predictions and not targets:
        raise ValueError("--predictions labels the target rows; there is no --target. Use featx predict MODEL DATA.")
    method = args.method or ("coral" if targets else "logreg")
    model = NamedClasses(make_method(method, args.head, scale=args.scale, random_state=random_state(args),
                                     layers=sources[0].layers), classes=list(sources[0].classes))
    start = time.perf_counter()
    model.fit(X, y, sample_domain=sd)
    name = canonical_name(method if args.head is None else _with_head(method, args.head))
    summary = {"model": name, "scale": args.scale, "source_rows": int((sd >= 0).sum()),
               "target_rows": int((sd < 0).sum()), "features": int(X.shape[1]),
               "fit_seconds": round(time.perf_counter() - start, 3), "target_accuracy": None, "predict_seconds": None,
               "predictions": None, "saved": None}
    out.say(f"source rows: {summary['source_rows']}, target rows: {summary['target_rows']}, features: {X.shape[1]}")
    if targets:
        start = time.perf_counter()
        target = sd < 0
        pred = model.predict(X[target], sample_domain=sd[target])
        summary["predict_seconds"] = round(time.perf_counter() - start, 3)
        acc = _accuracy(pred, np.asarray(sources[0].classes, dtype=object)[np.maximum(y_target, 0)], y_target)
        summary["target_accuracy"] = acc
        result = f"{acc:.2f}%" if acc is not None else "n/a (the target rows carry no labels)"
        out.say(f"{name} (scale {args.scale}): target accuracy {result}; fit {summary['fit_seconds']:.2f} s, "
                f"predict {summary['predict_seconds']:.2f} s")
    else:
        out.say(f"{name} (scale {args.scale}), source only: fit {summary['fit_seconds']:.2f} s")
    if args.predictions:
        args.predictions.parent.mkdir(parents=True, exist_ok=True)
        with open(args.predictions, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "domain", "prediction"])
            for row in zip(np.concatenate([t.ids for t in targets]), np.concatenate([t.domains for t in targets]),
                           pred):
                w.writerow(row)
        summary["predictions"] = str(args.predictions)
        out.say(f"wrote {len(pred)} predictions to {args.predictions}")
    if args.save:
        from featx.persist import save_model

        save_model(_image_model(model, sources[0], args), args.save)
        summary["saved"] = str(args.save)
        out.say(f"saved the fitted model to {args.save} (featx predict {args.save} IMAGES...)")
    out.emit(summary)
    return 0


def _image_model(model, features, args):
    """``model`` behind the :class:`featx.Embedder` that computes its features (read from the
    cache key the features were made with), so the saved file predicts images; ``model`` alone
    for features whose key names no backbone."""
    from sklearn.pipeline import Pipeline

    from featx.cli._extract import backbone_options
    from featx.extract import Embedder

    meta = features.metadata.get("parts", [features.metadata])[0]
    key = meta.get("key")
    if not isinstance(key, dict) or "backbone" not in key:
        print("featx: warning: the features name no backbone (not made by featx extract); the saved model "
              "takes features of their width, not images", file=sys.stderr)
        return model
    embedder = Embedder(key["backbone"], layers=key["layers"], precision=key["precision"],
                        fold_batchnorm=key["fold_batchnorm"], batch_size=args.batch_size, device=args.device,
                        num_workers=args.workers, cache_dir=args.cache_dir,
                        backbone_options=backbone_options(args) or None).fit()
    if embedder.provenance_["weights"] != key["weights"]:
        raise ValueError(f"The features were made with {key['backbone']} weights {key['weights'][:12]}..., but it "
                         "builds "
                         f"with weights {embedder.provenance_['weights'][:12]}... here; extract them again.")
    return Pipeline([("embedder", embedder), ("model", model)])


def _names(text: str, known: dict, what: str) -> list[str]:
    names = list(known) if text == "all" else [s.strip() for s in text.split(",") if s.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(f"Unknown {what} {unknown or text!r}; expected names from {sorted(known)}.")
    return names


def run_evaluate(args) -> int:
    """Every method x head on the whole labelled source, scored on the target: a call of
    :func:`featx.evaluate.compare_features` at budget ``all``."""
    from featx.cli._compare import random_state
    from featx.cli._output import Output
    from featx.evaluate import compare_features
    from featx.features import FeatureSet
    from featx.methods import canonical_name, list_methods, parse_method

    aligners = _names(args.methods, list_methods("alignment"), "method(s)")
    heads = _names(args.heads, list_methods("head"), "head(s)")
    _, _, sd, y_target, sources, targets = _load(args)
    if not (y_target >= 0).any():
        raise ValueError("featx evaluate needs target rows with labels (to score); the target has none. "
                         "Use featx fit --predictions to label it.")
    models = list(dict.fromkeys(canonical_name(a if a == "easytl" else f"{a}+{h}") for a in aligners for h in heads))
    train, target = FeatureSet.concat(sources), FeatureSet.concat(targets)
    result = compare_features(train, test=target, target=target, budgets="all", repeats=1, methods=models,
                              scale=args.scale, random_state=random_state(args), n_jobs=args.jobs, progress=True)
    rows = []
    for r in sorted(result.records + result.failures, key=lambda r: models.index(r["method"])):
        alignment, head = parse_method(r["method"])
        rows.append({"method": alignment, "head": head or "-",
                     "accuracy": 100 * r["accuracy"] if "accuracy" in r else None,
                     "fit_seconds": r.get("fit_s"), "predict_seconds": r.get("predict_s"), "error": r.get("error")})
    out = Output(args)
    out.say(f"source rows: {(sd >= 0).sum()}, target rows: {(sd < 0).sum()}, features: {train.X.shape[1]}, "
            f"scale: {args.scale}")
    out.say("| method | head | target accuracy % | fit s | predict s |")
    out.say("|---|---|---:|---:|---:|")
    for r in rows:
        if r["error"]:
            out.say(f"| {r['method']} | {r['head']} | failed: {r['error']} | - | - |")
        else:
            out.say(f"| {r['method']} | {r['head']} | {r['accuracy']:.2f} | {r['fit_seconds']:.2f} | "
                    f"{r['predict_seconds']:.2f} |")
    for f in result.failures:
        print(f"featx: warning: {f['method']} failed: {f['error']}: {f['message']}", file=sys.stderr)
    out.emit({"source": args.source, "target": args.target, "scale": args.scale, "results": rows})
    return 1 if args.strict and result.failures else 0
