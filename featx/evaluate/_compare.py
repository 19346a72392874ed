"""`compare`: frozen features, domain alignment and fine-tuning under one protocol."""

from __future__ import annotations

import logging
import resource
import time
import tracemalloc
from dataclasses import dataclass, field

import numpy as np

from featx.domains import MASKED_LABEL
from featx.evaluate._methods import FINETUNED, default_methods, feature_method, kind_of
from featx.evaluate._protocol import ALL, budget_draws, mean_ci, parse_budgets, proxy_a_distance, stratified_split

logger = logging.getLogger(__name__)


@dataclass
class Comparison:
    """What :func:`compare` measured.

    Attributes
    ----------
    records : list of dict
        One per (method, budget, draw): accuracy and the costs (fit and predict seconds, peak MiB).
    summary : list of dict
        One per (method, budget): mean accuracy, 95% CI half-width, number of draws, mean costs.
    extraction : dict
        Per data role (``train``, ``test``, ``target``): rows, seconds, whether the cache was hit.
    predictions : dict
        Method -> (true, predicted) class indices on the test rows, for the largest budget's first draw.
    embedding : dict
        2-D PCA coordinates of source and target rows before and after CORAL, with the proxy
        A-distance of each (only with a target).
    info : dict
        Backbone, budgets, repeats, classes, seed, roles.
    """

    records: list = field(default_factory=list)
    summary: list = field(default_factory=list)
    extraction: dict = field(default_factory=dict)
    predictions: dict = field(default_factory=dict)
    embedding: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def best(self) -> dict | None:
        """The summary row with the highest mean accuracy at the largest budget."""
        if not self.summary:
            return None
        last = self.info["budgets"][-1]
        rows = [s for s in self.summary if s["budget"] == last]
        return max(rows, key=lambda s: s["accuracy"])


def _extract(spec, backbone, role, cache_dir, device, progress):
    from featx.data import open_source
    from featx.extract import extract_features

    source = open_source(spec)
    start = time.perf_counter()
    fs = extract_features(source, backbone, cache_dir=cache_dir, device=device, progress=progress)
    info = {"rows": len(fs), "seconds": time.perf_counter() - start, "computed": int(fs.metadata["n_computed"]),
            "cache_hit": fs.metadata["n_computed"] == 0, "cache_file": str(fs.metadata["path"])}
    logger.info("%s: %d rows, %d computed, %.1f s", role, len(fs), info["computed"], info["seconds"])
    return source, fs, info


def _fit_feature_method(method, X_lab, y_lab, X_test, X_target_unlabelled):
    """Fit on labelled source rows (+ unlabelled target rows for alignment); predict the test rows."""
    model = feature_method(method, len(y_lab))
    if X_target_unlabelled is None:
        X, y, sd = X_lab, y_lab, np.ones(len(y_lab), dtype=np.int64)
    else:
        X = np.vstack([X_lab, X_target_unlabelled])
        y = np.r_[y_lab, np.full(len(X_target_unlabelled), MASKED_LABEL)]
        sd = np.r_[np.ones(len(y_lab), dtype=np.int64), np.full(len(X_target_unlabelled), -2)]
    tracemalloc.start()
    try:
        start = time.perf_counter()
        model.fit(X, y, sample_domain=sd)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        pred = model.predict(X_test)
        predict_s = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    return pred, {"fit_s": fit_s, "predict_s": predict_s, "peak_mib": peak, "peak_kind": "tracemalloc"}


def _fit_finetune(method, backbone, source, rows, test_source, *, epochs, seed, cache_dir, device, progress):
    from featx.finetune import FineTuneClassifier
    from featx.finetune._data import SourceSubset

    clf = FineTuneClassifier(backbone, epochs=epochs, seed=seed, cache_dir=cache_dir, device=device,
                             progress=progress, early_stopping=3, **FINETUNED[method])
    start = time.perf_counter()
    clf.fit(SourceSubset(source, rows))
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    pred_names = clf.predict(test_source)
    predict_s = time.perf_counter() - start
    index = {c: i for i, c in enumerate(source.classes)}
    pred = np.array([index[c] for c in pred_names])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    return pred, {"fit_s": fit_s, "predict_s": predict_s, "peak_mib": peak, "peak_kind": "process max RSS"}


def _embedding(Xs, Xt, seed=0, max_rows=600) -> dict:
    """PCA views of the two domains before and after CORAL, with their proxy A-distances."""
    from sklearn.decomposition import PCA

    from featx.adapt import CORAL

    rng = np.random.default_rng(seed)
    s = rng.permutation(len(Xs))[:max_rows]
    t = rng.permutation(len(Xt))[:max_rows]
    out = {}
    X = np.vstack([Xs, Xt]).astype(np.float64)
    sd = np.r_[np.ones(len(Xs), dtype=np.int64), np.full(len(Xt), -2)]
    aligned = CORAL().fit_transform(X, sample_domain=sd)
    for name, Z in (("before", X), ("after CORAL", aligned)):
        Zs, Zt = Z[: len(Xs)], Z[len(Xs):]
        pca = PCA(2, random_state=seed).fit(np.vstack([Zs[s], Zt[t]]))
        out[name] = {"source": pca.transform(Zs[s]).tolist(), "target": pca.transform(Zt[t]).tolist(),
                     "a_distance": proxy_a_distance(Zs, Zt, seed=seed)}
    return out


def compare(data, *, test=None, target=None, backbone="efficientnet_lite0", budgets=(1, 5, 10, ALL), repeats=5,
            methods=None, test_fraction=0.3, seed=0, ft_epochs=5, cache_dir=None, device="auto",
            progress=True) -> Comparison:
    """Measure frozen features (+ alignment) against fine-tuning on the same draws.

    Every method sees the same backbone, preprocessing, labelled draws and seeds. For each
    budget (labelled images per class) ``repeats`` stratified draws of the training data are
    taken (``"all"`` is one draw); each method is fitted on the draw (alignment methods also
    see the unlabelled target rows) and scored on the test rows: ``test``, else the
    ``target`` domain, else a stratified ``test_fraction`` of ``data`` held out before any
    draw. Hyper-parameters are chosen by inner cross-validation on the drawn rows only;
    test and target labels are read to score and for nothing else.

    Parameters
    ----------
    data : str, Path or ImageSource
        Labelled training (source) images.
    test, target : same kinds, optional
        Held-out test images; a target domain (its labels only score).
    backbone : str or Backbone, default="efficientnet_lite0"
    budgets : sequence or str, default=(1, 5, 10, "all")
    repeats : int, default=5
    methods : list of str, optional
        Names from ``featx.evaluate.FROZEN``, ``ALIGNED`` (needs ``target``) and ``FINETUNED``;
        default :func:`default_methods`.
    test_fraction : float, default=0.3
    seed : int, default=0
    ft_epochs : int, default=5
    cache_dir, device, progress
        As for :func:`featx.extract_features`.

    Returns
    -------
    Comparison
    """
    from tqdm.auto import tqdm

    from featx.backbones import Backbone, create_backbone
    from featx.data import open_source
    from featx.finetune._data import SourceSubset

    budgets = parse_budgets(budgets)
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive int; got {repeats!r}.")
    methods = list(methods) if methods is not None else default_methods(target is not None)
    kinds = {m: kind_of(m) for m in methods}
    if target is None and any(k == "aligned" for k in kinds.values()):
        raise ValueError(f"Alignment methods {[m for m, k in kinds.items() if k == 'aligned']} need a target domain; "
                         "pass target=... (--target).")
    bb = backbone if isinstance(backbone, Backbone) else create_backbone(backbone)
    result = Comparison(info={"backbone": bb.name, "budgets": budgets, "repeats": repeats, "seed": seed,
                              "methods": methods, "ft_epochs": ft_epochs})
    source, train_fs, result.extraction["train"] = _extract(data, bb, "train", cache_dir, device, progress)
    if (np.asarray(train_fs.y) < 0).all():
        raise ValueError("The training data carries no labels; compare needs labelled training images.")
    X_unlab = None
    if test is not None or target is not None:
        role = "test" if test is not None else "target"
        test_source, test_fs, result.extraction[role] = _extract(test if test is not None else target, bb, role,
                                                                 cache_dir, device, progress)
        if target is not None and test is not None:
            _, target_fs, result.extraction["target"] = _extract(target, bb, "target", cache_dir, device, progress)
        else:
            target_fs = test_fs if target is not None else None
        if tuple(test_fs.classes) != tuple(train_fs.classes):
            raise ValueError(f"Test/target classes {list(test_fs.classes)} differ from the training classes "
                             f"{list(train_fs.classes)}.")
        pool = np.flatnonzero(np.asarray(train_fs.y) >= 0)
        X_test, y_test = test_fs.X, np.asarray(test_fs.y)
        if target_fs is not None:
            X_unlab = target_fs.X
    else:
        pool, held = stratified_split(np.asarray(train_fs.y), test_fraction, seed)
        pool = pool[np.asarray(train_fs.y)[pool] >= 0]
        test_source = SourceSubset(source, held)
        X_test, y_test = train_fs.X[held], np.asarray(train_fs.y)[held]
    scored = y_test >= 0
    result.info.update(classes=list(train_fs.classes), n_train_pool=len(pool), n_test=int(scored.sum()),
                       roles={"train": str(data), "test": None if test is None else str(test),
                              "target": None if target is None else str(target)})
    if target is not None:
        result.embedding = _embedding(train_fs.X[pool], X_unlab, seed)

    tasks = [(b, r, rows, m) for b in budgets for r, rows in enumerate(budget_draws(np.asarray(train_fs.y)[pool], b,
                                                                                     repeats, seed)) for m in methods]
    largest = budgets[-1]
    for budget, r, rows, method in tqdm(tasks, desc="methods x draws", unit="fit", disable=not progress):
        idx = pool[rows]
        if kinds[method] == "finetuned":
            pred, cost = _fit_finetune(method, bb, source, idx, test_source, epochs=ft_epochs, seed=seed + r,
                                       cache_dir=cache_dir, device=device, progress=False)
        else:
            pred, cost = _fit_feature_method(method, train_fs.X[idx], np.asarray(train_fs.y)[idx], X_test, X_unlab)
        acc = float(np.mean(pred[scored] == y_test[scored]))
        result.records.append({"method": method, "kind": kinds[method], "budget": budget, "draw": r,
                               "n_labelled": int(len(idx)), "accuracy": acc, **cost})
        if budget == largest and r == 0:
            result.predictions[method] = (y_test[scored].tolist(), np.asarray(pred)[scored].tolist())
    for method in methods:
        for budget in budgets:
            rows = [x for x in result.records if x["method"] == method and x["budget"] == budget]
            mean, half = mean_ci([x["accuracy"] for x in rows])
            result.summary.append({"method": method, "kind": kinds[method], "budget": budget, "accuracy": mean,
                                   "ci95": half, "draws": len(rows),
                                   "n_labelled": float(np.mean([x["n_labelled"] for x in rows])),
                                   **{k: float(np.mean([x[k] for x in rows])) for k in ("fit_s", "predict_s", "peak_mib")}})
    return result
