"""`compare`: frozen features, domain alignment and fine-tuning under one protocol."""

from __future__ import annotations

import logging
import resource
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
from joblib import Parallel, delayed

from featx.utils.deprecation import DEPRECATED, renamed
from featx import __version__
from featx.adapt import DomainStandardScaler
from featx.domains import DEFAULT_SOURCE, DEFAULT_TARGET, MASKED_LABEL
from featx.features import FeatureSet
from featx.metrics import accuracy
from featx.utils.machine import code_paths
from featx.methods import (SCALES, canonical_name, default_methods, describe, finetune_params, kind_of, make_method,
                           split_layer, sweep_layers)
from featx.evaluate._tasklog import TaskLog, digest
from featx.protocol import ALL, budget_draws, mean_ci, parse_budgets, proxy_a_distance, stratified_split

logger = logging.getLogger(__name__)


@dataclass
class Comparison:
    """What :func:`compare` measured.

    Attributes
    ----------
    records : list of dict
        One per finished (method, budget, draw): accuracy and the costs (fit and predict
        seconds, peak MiB).
    summary : list of dict
        One per (method, budget): mean accuracy, 95% CI half-width, number of finished draws
        (``draws``) and of failed ones (``failed``), mean costs; accuracy and costs are NaN
        when every draw failed.
    failures : list of dict
        One per (method, budget, draw) whose fit or prediction raised: ``method``,
        ``budget``, ``draw``, ``error`` (the exception's type) and ``message``. The other
        fits go on; a re-run tries the failed ones again.
    extraction : dict
        Per data role (``train``, ``test``, ``target``): rows, seconds, whether the cache was hit.
    predictions : dict
        Method -> (true, predicted) class indices on the test rows, for the largest budget's first draw.
    embedding : dict
        2-D PCA coordinates of source and target rows before and after alignment (per-domain
        z-score + CORAL, as the alignment methods see them), with the proxy
        A-distance of each (only with a target).
    selection : list of dict
        With ``select``: one per (method, budget, draw, validator), and one per (method, budget,
        draw) with ``validator="oracle"``: ``params`` (the configuration picked from the
        method's selection grid), ``score`` (the validator's), ``accuracy`` (target accuracy of
        that pick), ``gap`` (oracle minus it), ``rank_corr`` (Spearman between the validator's
        scores and the target accuracies over the grid), ``fit_s``.
    selection_summary : list of dict
        Per (method, budget, validator): mean accuracy of the picks, CI, mean gap, rank correlation.
    info : dict
        Backbone, budgets, repeats, classes, scale, random_state, roles.
    """

    records: list = field(default_factory=list)
    summary: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    extraction: dict = field(default_factory=dict)
    predictions: dict = field(default_factory=dict)
    embedding: dict = field(default_factory=dict)
    selection: list = field(default_factory=list)
    selection_summary: list = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def best(self) -> dict | None:
        """The summary row with the highest mean accuracy at the largest budget."""
        if not self.summary:
            return None
        last = self.info["budgets"][-1]
        rows = [s for s in self.summary if s["budget"] == last and not np.isnan(s["accuracy"])]
        return max(rows, key=lambda s: s["accuracy"]) if rows else None


def _label(spec) -> str | None:
    """A data argument in words: a source's name, else the path or ``builtin:`` text; several
    sources joined by `` + ``."""
    from featx.data import ImageSource

    if spec is None:
        return None
    if _several(spec):
        return " + ".join(_label(s) for s in spec)
    return spec.name if isinstance(spec, ImageSource) else str(spec)


def _several(spec) -> bool:
    """Whether a data argument is a list of sources (several labelled source domains)."""
    return isinstance(spec, (list, tuple))


def _extract_sources(specs, backbone, cache_dir, device, progress, on_error):
    """Each labelled source extracted (and cached) on its own, then stacked as one training
    set whose rows keep their source as their domain, so every model sees ``sample_domain``
    1..k; the images as one :class:`featx.data.ConcatSource` for fine-tuning."""
    from featx.data import ConcatSource
    from featx.features import FeatureSet

    if len(specs) == 0:
        raise ValueError("compare needs at least one labelled source; got an empty list.")
    parts = [_extract(spec, backbone, f"train[{i}]", cache_dir, device, progress, on_error)
             for i, spec in enumerate(specs)]
    source = ConcatSource([p[0] for p in parts])
    sets = []
    for name, (_, fs, _) in zip(source.domain_names, parts):
        sets.append(FeatureSet(fs.X, fs.y, np.array([f"{name}/{i}" for i in fs.ids]), np.full(len(fs), name),
                               fs.classes, fs.metadata))
    infos = [p[2] for p in parts]
    info = {"rows": sum(i["rows"] for i in infos), "seconds": sum(i["seconds"] for i in infos),
            "computed": sum(i["computed"] for i in infos), "cache_hit": all(i["cache_hit"] for i in infos),
            "cache_file": "; ".join(i["cache_file"] for i in infos), "sources": source.domain_names}
    return source, FeatureSet.concat(sets), info


def _extract(spec, backbone, role, cache_dir, device, progress, on_error):
    from featx.data import open_source
    from featx.extract import extract_features

    source = open_source(spec)
    start = time.perf_counter()
    fs = extract_features(source, backbone, cache_dir=cache_dir, device=device, on_error=on_error, progress=progress)
    info = {"rows": len(fs), "seconds": time.perf_counter() - start, "computed": int(fs.metadata["n_computed"]),
            "cache_hit": fs.metadata["n_computed"] == 0, "cache_file": str(fs.metadata["path"])}
    logger.info("%s: %d rows, %d computed, %.1f s", role, len(fs), info["computed"], info["seconds"])
    return source, fs, info


def _fit_feature_task(method, scale, random_state, X_lab, y_lab, sd_lab, X_test, sd_test, X_target_unlabelled,
                      layers=None):
    """:func:`_fit_feature_method` with one BLAS and one OpenMP thread: OpenBLAS threads on the
    small products of these solvers cost more than they give (logistic regression's inner CV
    on 100 x 1280 rows: 3.8 s with 2 threads, 0.3 s with 1, on 2 cores), and the deep-DA heads'
    torch threads (OpenMP) thrash when two fits run at once (a DANN fit: 7 s alone, 243 s
    beside another job on 2 cores); parallelism comes from running several fits at once
    instead. An exception becomes a failure record instead of ending the comparison."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _guarded(_fit_feature_method, method, scale, random_state, X_lab, y_lab, sd_lab, X_test, sd_test,
                        X_target_unlabelled, layers)


def _guarded(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, or ``(None, {"error": type, "message": text})`` if it raises."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - one failing method must not lose the others
        logger.warning("%s failed: %s: %s", args[0], type(exc).__name__, exc)
        return None, {"error": type(exc).__name__, "message": str(exc)}


def _fit_feature_method(method, scale, random_state, X_lab, y_lab, sd_lab, X_test, sd_test, X_target_unlabelled,
                        layers=None):
    """Fit the registry's model on labelled source rows (domains ``sd_lab``, 1..k) and the
    unlabelled target rows; predict the test rows: as the target domain, or by ``sd_test``
    (test rows held out of the sources), or as the first source. ``layers``: the features'
    ``(name, width)`` layers, for ``@`` names."""
    model = make_method(method, scale=scale, random_state=random_state, layers=layers)
    if X_target_unlabelled is None:
        X, y, sd = X_lab, y_lab, sd_lab
    else:
        X = np.vstack([X_lab, X_target_unlabelled])
        y = np.r_[y_lab, np.full(len(X_target_unlabelled), MASKED_LABEL)]
        sd = np.r_[sd_lab, np.full(len(X_target_unlabelled), DEFAULT_TARGET, dtype=np.int64)]
    tracemalloc.start()
    try:
        start = time.perf_counter()
        with warnings.catch_warnings():  # nearest class mean on 1 image per class: no spread to estimate
            warnings.filterwarnings("ignore", module="sklearn.neighbors._nearest_centroid")
            model.fit(X, y, sample_domain=sd)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        known = sd_test is not None and np.isin(sd_test, sd).all()
        pred = model.predict(X_test, sample_domain=sd_test if known else None)
        predict_s = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    return pred, {"fit_s": fit_s, "predict_s": predict_s, "peak_mib": peak, "peak_kind": "tracemalloc"}


def finetune_classifier(method, backbone, labels, *, params=None, epochs, random_state, cache_dir, device, progress):
    """The unfitted :class:`featx.finetune.FineTuneClassifier` of fine-tuning ``method`` for
    training images with ``labels``: early stopping on a 10% validation split once every class
    has 10 images; below that a split would take a large share of the few labels, so a fixed
    number of epochs."""
    from featx.finetune import FineTuneClassifier

    fewest = np.bincount(np.asarray(labels)).min()
    val = 0.1 if fewest >= 10 else 0.0
    return FineTuneClassifier(backbone, epochs=epochs, random_state=random_state, cache_dir=cache_dir, device=device,
                              progress=progress, validation_fraction=val, early_stopping=3 if val else None,
                              **finetune_params(method, params))


def _fit_finetune(method, backbone, source, rows, test_source, *, epochs, random_state, cache_dir, device, progress):
    from featx.data import SourceSubset

    subset = SourceSubset(source, rows)
    clf = finetune_classifier(method, backbone, subset.labels, epochs=epochs, random_state=random_state,
                              cache_dir=cache_dir, device=device, progress=progress)
    start = time.perf_counter()
    clf.fit(subset)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    pred_names = clf.predict(test_source)
    predict_s = time.perf_counter() - start
    index = {c: i for i, c in enumerate(source.classes)}
    pred = np.array([index[c] for c in pred_names])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    return pred, {"fit_s": fit_s, "predict_s": predict_s, "peak_mib": peak, "peak_kind": "process max RSS"}


def _embedding(Xs, Xt, random_state=0, max_rows=600) -> dict:
    """PCA views of the two domains before and after per-domain z-score + CORAL, with their
    proxy A-distances."""
    from sklearn.decomposition import PCA

    from featx.adapt import CORAL

    rng = np.random.default_rng(random_state)
    s = rng.permutation(len(Xs))[:max_rows]
    t = rng.permutation(len(Xt))[:max_rows]
    out = {}
    X = np.vstack([Xs, Xt]).astype(np.float64)
    sd = np.r_[np.full(len(Xs), DEFAULT_SOURCE, dtype=np.int64), np.full(len(Xt), DEFAULT_TARGET, dtype=np.int64)]
    scaled = DomainStandardScaler().fit_transform(X, sample_domain=sd)
    aligned = CORAL().fit_transform(scaled, sample_domain=sd)
    for name, Z in (("before", X), ("after z-score + CORAL", aligned)):
        Zs, Zt = Z[: len(Xs)], Z[len(Xs):]
        pca = PCA(2, random_state=random_state).fit(np.vstack([Zs[s], Zt[t]]))
        out[name] = {"source": pca.transform(Zs[s]).tolist(), "target": pca.transform(Zt[t]).tolist(),
                     "a_distance": proxy_a_distance(Zs, Zt, random_state=random_state)}
    return out


def _check_methods(methods, budgets, repeats, with_target, scale, finetune=True):
    budgets = parse_budgets(budgets)
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive int; got {repeats!r}.")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {list(SCALES)}; got {scale!r}.")
    methods = [canonical_name(m) for m in methods] if methods is not None else default_methods(with_target, finetune)
    if len(set(methods)) < len(methods):
        raise ValueError(f"Methods name the same model twice: {methods}.")
    kinds = {m: kind_of(m) for m in methods}
    if not with_target and any(k == "aligned" for k in kinds.values()):
        raise ValueError(f"Alignment methods {[m for m, k in kinds.items() if k == 'aligned']} need a target domain; "
                         "pass target=... (--target).")
    if not finetune and any(k == "finetuned" for k in kinds.values()):
        raise ValueError(f"Fine-tuning methods {[m for m, k in kinds.items() if k == 'finetuned']} need images; "
                         "use compare() on image data, not compare_features().")
    return budgets, methods, kinds


def compare(data, *, test=None, target=None, backbone="efficientnet_lite0", budgets=(1, 5, 10, ALL), repeats=5,
            methods=None, scale="zscore", test_fraction=0.3, random_state=0, ft_epochs=5, ft_budgets=None,
            ft_repeats=None, select=None, select_finetune=False, layers=None, layer_sweep=False, cache_dir=None,
            device="auto", n_jobs=None, reuse=True, progress=True, seed=DEPRECATED) -> Comparison:
    """Measure frozen features (+ alignment) against fine-tuning on the same draws.

    Every method sees the same backbone, preprocessing, labelled draws and seeds. For each
    budget (labelled images per class) ``repeats`` stratified draws of the training data are
    taken (``"all"`` is one draw); each method is fitted on the draw (alignment methods also
    see the unlabelled target rows) and scored on the test rows: ``test``, else the
    ``target`` domain, else a stratified ``test_fraction`` of ``data`` held out before any
    draw. Hyper-parameters are chosen by inner cross-validation on the drawn rows only;
    test and target labels are read to score and for nothing else. A method that raises
    on a draw is recorded in :attr:`Comparison.failures` and the others go on.

    Parameters
    ----------
    data : str, Path, ImageSource, or a list of them
        Labelled training (source) images. A list gives several source domains: each is
        extracted and cached on its own and its rows keep it as their domain
        (``sample_domain`` 1..k), so a method that treats sources one by one (CORAL, OT) does,
        and the others pool them; fine-tuning trains on all of them.
    test, target : same kinds, optional
        Held-out test images; a target domain (its labels only score).
    backbone : str or Backbone, default="efficientnet_lite0"
    budgets : sequence or str, default=(1, 5, 10, "all")
    repeats : int, default=5
    methods : list of str, optional
        Model names of the registry (:mod:`featx.methods`: a head, an alignment, or
        ``ALIGNMENT+HEAD``; alignments need ``target``) and fine-tuning names; default
        :func:`featx.evaluate.default_methods`.
    scale : {"zscore", "unit", "none"}, default="zscore"
        Per-domain scaling every feature model starts with (see :func:`featx.make_method`).
    test_fraction : float, default=0.3
    random_state : int, default=0
        Seeds the test split, the budget draws, the heads' inner cross-validation and
        fine-tuning (draw ``r`` fine-tunes with ``random_state + r``).
    ft_epochs : int, default=5
    ft_budgets : sequence or str, optional
        The budgets fine-tuning runs at (a subset of ``budgets``; default all of them). A
        fine-tuning run costs minutes on a CPU where a frozen head costs seconds: this keeps it
        to the budgets where it fits; its other cells read ``-``.
    ft_repeats : int, optional
        Draws fine-tuned per budget (the first ``ft_repeats`` of the ``repeats`` every method
        sees; default all).
    select : "all", str or list of str, optional
        Validators (:data:`featx.select.VALIDATORS`) that also choose each feature method's
        configuration from its selection grid (:func:`featx.methods.selection_grid`) on every
        draw, without target labels; the oracle (test labels) is reported beside them, with the
        gaps (:attr:`Comparison.selection`). Needs ``target``. Costs one fit per configuration
        and fold and more: see :func:`featx.select.select`.
    select_finetune : bool, default=False
        With ``select``, also choose each fine-tuning strategy's learning rate from its
        selection grid (at ``ft_budgets`` and ``ft_repeats``): per draw, 4 fine-tuning runs per
        learning rate (3 source folds and one on every drawn image), about 12 times the cost
        of fine-tuning alone; reverse validation is not run for fine-tuning (it would
        fine-tune on every target image per fold).
    layers : sequence of str, optional
        Backbone layers to extract in one pass (``"pooled"`` and module names, as for
        :func:`featx.create_backbone`), side by side in the features. A method name sees every
        column, ``MODEL@LAYER`` one layer's, and ``MODEL@ensemble`` fits one model per layer and
        averages their probabilities (:class:`featx.adapt.BlockEnsemble`). Default the
        backbone's own (the pooled embedding).
    layer_sweep : bool, default=False
        Fit every frozen and aligned method on each of ``layers`` on its own
        (``MODEL@LAYER`` for each, :func:`featx.methods.sweep_layers`): the report then
        plots accuracy against the layer, per budget (``layers.png``).
    cache_dir, device, progress
        As for :func:`featx.extract_features`.
    n_jobs : int, optional
        Feature-method fits run at once (joblib processes, one BLAS thread each; ``-1``: one
        per core; default 1). Fine-tuning runs after them, in this process.
    reuse : bool, default=True
        Keep every finished fit in ``<cache_dir>/compare/<run>.jsonl`` (keyed by the
        features' cache keys, the split, the method, the budget and the drawn rows) and
        read back the ones already there: a re-run takes seconds and a killed run resumes.
        Reused records keep the costs measured when they were computed (``reused`` is set).
        ``False`` recomputes everything and writes nothing.
    seed : int
        Deprecated name of ``random_state`` (a ``FutureWarning``); removed in the next release.

    Returns
    -------
    Comparison
    """
    from featx.backbones import backbone_with
    from featx.data import SourceSubset
    from featx.extract import default_cache_dir

    random_state = renamed("seed", seed, "random_state", random_state, 0, "compare")
    budgets, methods, kinds = _check_methods(methods, budgets, repeats, target is not None, scale)
    ft_scope = _check_ft_scope(ft_budgets, ft_repeats, budgets, repeats)
    validators = _check_select(select, target is not None, select_finetune)
    bb = backbone_with(backbone, layers)
    if layer_sweep:
        methods = sweep_layers(methods, bb.layers)
        kinds = {m: kind_of(m) for m in methods}
    # unreadable images are skipped for feature methods; fine-tuning needs every image, and
    # its rows must stay aligned with the images, so then an unreadable image is an error
    on_error = "fail" if "finetuned" in kinds.values() else "skip"
    result = Comparison(info={"backbone": bb.name, "layers": list(bb.layers), "budgets": budgets,
                              "repeats": repeats, "scale": scale, "random_state": random_state, "methods": methods, "ft_epochs": ft_epochs,
                              "ft_budgets": ft_scope[0], "ft_repeats": ft_scope[1], "select": validators,
                              "select_finetune": bool(select_finetune), "layer_sweep": bool(layer_sweep)})
    if _several(data):
        source, train_fs, result.extraction["train"] = _extract_sources(data, bb, cache_dir, device, progress, on_error)
    else:
        source, train_fs, result.extraction["train"] = _extract(data, bb, "train", cache_dir, device, progress,
                                                                on_error)
    test_fs = target_fs = None
    if test is not None or target is not None:
        role = "test" if test is not None else "target"
        test_source, test_fs, result.extraction[role] = _extract(test if test is not None else target, bb, role,
                                                                 cache_dir, device, progress, on_error)
        target_source = test_source if target is not None else None
        if target is not None and test is not None:
            target_source, target_fs, result.extraction["target"] = _extract(target, bb, "target", cache_dir, device,
                                                                             progress, on_error)
        else:
            target_fs = test_fs if target is not None else None
    split = _split(train_fs, test_fs, target_fs, test_fraction, random_state)
    if test_fs is None:
        test_source = SourceSubset(source, split.test_rows)
    result.info["roles"] = {"train": _label(data), "test": _label(test), "target": _label(target)}

    def finetune(method, rows, r):
        return _guarded(_fit_finetune, method, bb, source, rows, test_source, epochs=ft_epochs,
                        random_state=random_state + r, cache_dir=cache_dir, device=device, progress=False)

    def finetune_select(task):
        from featx.evaluate._finetune_selection import finetune_selection_task

        rows = split.pool[task.rows]

        def make(params, labels):
            return finetune_classifier(task.method, bb, labels, params=params, epochs=ft_epochs,
                                       random_state=random_state + task.draw, cache_dir=cache_dir, device=device,
                                       progress=False)

        return finetune_selection_task(task.method, validators, make, source, rows, target_source,
                                       np.vstack([split.train.X[rows], split.X_unlabelled]),
                                       test=test_source if test is not None else None, random_state=random_state)

    log_dir = Path(cache_dir or default_cache_dir()) / "compare" if reuse else None
    _evaluate(result, split, methods, kinds, budgets, repeats, scale, random_state, log_dir, n_jobs, progress,
              finetune, ft_epochs, ft_scope, validators, finetune_select if select_finetune else None)
    return result


def _check_select(select, with_target, select_finetune=False) -> list | None:
    if select is None:
        if select_finetune:
            raise ValueError("select_finetune=True chooses fine-tuning's learning rate with the validators of "
                             "select; pass select=... (--select) too.")
        return None
    from featx.select import check_validators

    names = check_validators(select)
    if not with_target:
        raise ValueError(f"select={select!r} chooses configurations for a target domain; pass target=... (--target).")
    return names


def _check_ft_scope(ft_budgets, ft_repeats, budgets, repeats) -> tuple[list, int]:
    """``(budgets, draws)`` fine-tuning runs at, checked against the comparison's own."""
    chosen = budgets if ft_budgets is None else parse_budgets(ft_budgets)
    stray = [b for b in chosen if b not in budgets]
    if stray:
        raise ValueError(f"ft_budgets must be some of the budgets {budgets}; got {stray} besides.")
    n = repeats if ft_repeats is None else ft_repeats
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= repeats:
        raise ValueError(f"ft_repeats must be an int from 1 to repeats={repeats}; got {ft_repeats!r}.")
    return list(chosen), n


def compare_features(train, *, test=None, target=None, budgets=(1, 5, 10, ALL), repeats=5, methods=None,
                     scale="zscore", test_fraction=0.3, random_state=0, select=None, n_jobs=None, log_dir=None,
                     progress=True, seed=DEPRECATED) -> Comparison:
    """:func:`compare` on features already computed (frozen heads and alignment methods only).

    For features that did not come from featx's extractor (e.g. the Office-Caltech SURF
    histograms), under the same protocol: budget draws, the registry's models (per-domain
    scaling, alignment, inner-CV heads), CIs, failures recorded.

    Parameters
    ----------
    train, test, target : FeatureSet
        Labelled training rows; optional test rows and target domain (labels only score).
    budgets, repeats, methods, scale, test_fraction, random_state, select, n_jobs, progress
        As for :func:`compare` (no fine-tuning names in ``methods``).
    log_dir : path, optional
        Folder of the task log that lets a re-run reuse finished fits (none by default).
    seed : int
        Deprecated name of ``random_state``.

    Returns
    -------
    Comparison
    """
    random_state = renamed("seed", seed, "random_state", random_state, 0, "compare_features")
    budgets, methods, kinds = _check_methods(methods, budgets, repeats, target is not None, scale, finetune=False)
    validators = _check_select(select, target is not None)
    result = Comparison(info={"backbone": train.metadata.get("backbone", "given features"), "budgets": budgets,
                              "repeats": repeats, "scale": scale, "random_state": random_state, "methods": methods,
                              "ft_epochs": None, "select": validators})
    split = _split(train, test if test is not None else target, target, test_fraction, random_state)
    result.info["roles"] = {"train": _domain_name(train), "test": None if test is None else _domain_name(test),
                            "target": None if target is None else _domain_name(target)}
    _evaluate(result, split, methods, kinds, budgets, repeats, scale, random_state,
              None if log_dir is None else Path(log_dir), n_jobs, progress, None, None, None, validators)
    return result


def _domain_name(fs) -> str:
    names = sorted({str(d) for d in np.asarray(fs.domains)}) if fs.domains is not None else []
    return ",".join(names) or "features"


def _identity(fs):
    """What identifies a feature set in the task log: its cache key and row ids (a subset of a
    cache file keeps the file's key), else its content."""
    if fs.metadata.get("key"):
        return digest({"key": fs.metadata["key"], "ids": np.asarray(fs.ids).astype(str), "y": np.asarray(fs.y)})
    return digest({"X": np.ascontiguousarray(fs.X), "y": np.asarray(fs.y)})


@dataclass(frozen=True)
class Split:
    """The rows of one comparison, fixed before any draw.

    Attributes
    ----------
    train : FeatureSet
        The training data; budgets draw from its rows ``pool``.
    pool : ndarray of int
        Labelled training rows the budget draws come from (test rows held out).
    X_test, y_test : ndarray
        The rows every method is scored on and their labels (``-1``: not scored).
    test_rows : ndarray of int or None
        Training rows held out as the test set (when no test or target data was given).
    X_unlabelled : ndarray or None
        Target rows alignment methods see without labels.
    identity : dict
        Digests of the train, test and target data (the task log's key).
    """

    train: FeatureSet
    pool: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    test_rows: np.ndarray | None
    X_unlabelled: np.ndarray | None
    identity: dict

    @property
    def y_train(self) -> np.ndarray:
        return np.asarray(self.train.y)

    @property
    def classes(self) -> list:
        return list(self.train.classes)

    def source_codes(self) -> np.ndarray:
        """``sample_domain`` of every training row: each named source domain its own code,
        ``DEFAULT_SOURCE``, ``DEFAULT_SOURCE + 1``, ... (scaled with its own moments)."""
        names = np.asarray(self.train.domains).astype(str)
        return (DEFAULT_SOURCE + np.unique(names, return_inverse=True)[1]).astype(np.int64)


class Task(NamedTuple):
    """One fit of a comparison: ``method`` on draw ``draw`` (rows ``rows`` of the pool) of ``budget``."""

    budget: int | str
    draw: int
    rows: np.ndarray
    method: str


def _split(train_fs, test_fs, target_fs, test_fraction, random_state) -> Split:
    """Training pool, test rows and unlabelled target rows of one comparison."""
    y_train = np.asarray(train_fs.y)
    if (y_train < 0).all():
        raise ValueError("The training data carries no labels; compare needs labelled training rows.")
    identity = {"train": _identity(train_fs), "test": None, "target": None}
    if test_fs is None:
        pool, held = stratified_split(y_train, test_fraction, random_state)
        return Split(train_fs, pool[y_train[pool] >= 0], train_fs.X[held], y_train[held], held, None, identity)
    if tuple(test_fs.classes) != tuple(train_fs.classes):
        raise ValueError(f"Test/target classes {list(test_fs.classes)} differ from the training classes "
                         f"{list(train_fs.classes)}.")
    identity["test"] = _identity(test_fs)
    if target_fs is not None:
        identity["target"] = _identity(target_fs)
    return Split(train_fs, np.flatnonzero(y_train >= 0), test_fs.X, np.asarray(test_fs.y), None,
                 None if target_fs is None else target_fs.X, identity)


def _evaluate(result, split, methods, kinds, budgets, repeats, scale, random_state, log_dir, n_jobs, progress,
              finetune, ft_epochs, ft_scope=None, validators=None, finetune_select=None):
    """Run every (budget, draw, method) task not already in the task log; fill records,
    failures and summary."""
    from tqdm.auto import tqdm

    X_train, y_train, pool = split.train.X, split.y_train, split.pool
    X_test, y_test, X_unlab = split.X_test, split.y_test, split.X_unlabelled
    codes = split.source_codes()
    layers = _check_layers(methods, split.train.layers)
    sd_test = codes[split.test_rows] if split.test_rows is not None and X_unlab is None else None
    scored = y_test >= 0
    result.info.update(classes=split.classes, n_train_pool=len(pool), n_test=int(scored.sum()),
                       code_paths=code_paths())
    if X_unlab is not None:
        try:  # a picture for the report: its failure must not cost the fits
            result.embedding = _embedding(X_train[pool], X_unlab, random_state)
        except Exception as exc:  # noqa: BLE001
            logger.warning("the embedding view failed: %s: %s", type(exc).__name__, exc)
            result.info["embedding_error"] = f"{type(exc).__name__}: {exc}"
    tasks = [Task(b, r, rows, m) for b in budgets
             for r, rows in enumerate(budget_draws(y_train[pool], b, repeats, random_state)) for m in methods
             if kinds[m] != "finetuned" or ft_scope is None or (b in ft_scope[0] and r < ft_scope[1])]
    run_key = digest({"version": __version__, **split.identity, "pool": pool, "random_state": random_state,
                      "test_rows": split.test_rows})
    log = TaskLog(log_dir / f"{run_key}.jsonl") if log_dir is not None else None
    done = log.load() if log is not None else {}

    def key(task: Task):
        return digest({"method": task.method, "spec": describe(task.method, scale), "budget": task.budget,
                       "draw": task.draw, "rows": task.rows,
                       "ft_epochs": ft_epochs if kinds[task.method] == "finetuned" else None})

    outcome = {i: (None if done[key(t)]["pred"] is None else np.asarray(done[key(t)]["pred"]),
                   {**done[key(t)]["record"], "reused": True}) for i, t in enumerate(tasks) if key(t) in done}

    def finish(i, pred, cost):
        bar.update()
        if "error" in cost:  # not logged: a re-run tries it again
            outcome[i] = None, cost
            return
        cost["accuracy"] = accuracy(y_test, pred)
        outcome[i] = pred, cost
        if log is not None:
            log.append(key(tasks[i]), cost, pred if tasks[i].draw == 0 else None)

    todo = [i for i in range(len(tasks)) if i not in outcome]
    features = [i for i in todo if kinds[tasks[i].method] != "finetuned"]
    jobs = (delayed(_fit_feature_task)(tasks[i].method, scale, random_state, X_train[pool[tasks[i].rows]],
                                       y_train[pool[tasks[i].rows]], codes[pool[tasks[i].rows]], X_test,
                                       sd_test, X_unlab, layers) for i in features)
    bar = tqdm(total=len(tasks), initial=len(outcome), desc="methods x draws", unit="fit", disable=not progress)
    with bar:
        for i, (pred, cost) in zip(features, Parallel(n_jobs=n_jobs, return_as="generator")(jobs) if features else ()):
            finish(i, pred, cost)
        for i in todo:
            task = tasks[i]
            if kinds[task.method] == "finetuned":
                finish(i, *finetune(task.method, pool[task.rows], task.draw))
    if log is not None and len(todo) < len(tasks):
        logger.info("%d of %d fits read from %s", len(tasks) - len(todo), len(tasks), log.path)
    _collect(result, tasks, outcome, kinds, y_test[scored], scored)
    if validators:
        from featx.evaluate._selection import run_selection

        run_selection(result, tasks, kinds, validators, split, codes, scale, random_state, log, done,
                      lambda t: digest({"task": key(t), "select": validators}), n_jobs, progress, finetune_select,
                      layers)


def _check_layers(methods, layers):
    """The features' layers when some method picks among them (``MODEL@LAYER``, ``@ensemble``),
    checked before any fit; ``None`` otherwise."""
    from featx.methods import ENSEMBLE

    picked = {m: split_layer(m)[1] for m in methods if split_layer(m)[1] is not None}
    if not picked:
        return None
    if not layers:
        raise ValueError(f"Methods {sorted(picked)} pick backbone layers, but the features carry no layer record; "
                         "extract them with featx (compare(..., layers=[...]), --layer).")
    names = [n for n, _ in layers]
    unknown = sorted({lay for lay in picked.values() if lay != ENSEMBLE and lay not in names})
    if unknown:
        raise ValueError(f"Methods name layers {unknown} that the features do not hold; they hold {names} "
                         f"(or @{ENSEMBLE}).")
    return layers


def _collect(result, tasks, outcome, kinds, y_scored, scored):
    """Records, failures, predictions (largest budget, first draw) and the summary."""
    largest = result.info["budgets"][-1]
    for i, (budget, r, rows, method) in enumerate(tasks):
        pred, cost = outcome[i]
        where = {"method": method, "kind": kinds[method], "budget": budget, "draw": r}
        if "error" in cost:
            result.failures.append({**where, "error": cost["error"], "message": cost["message"]})
            continue
        result.records.append({**cost, **where, "n_labelled": int(len(rows)), "reused": bool(cost.get("reused"))})
        if budget == largest and r == 0 and pred is not None:
            result.predictions[method] = (y_scored.tolist(), np.asarray(pred)[scored].tolist())
    nan = float("nan")
    for method in result.info["methods"]:
        for budget in result.info["budgets"]:
            rows = [x for x in result.records if x["method"] == method and x["budget"] == budget]
            failed = sum(f["method"] == method and f["budget"] == budget for f in result.failures)
            mean, half = mean_ci([x["accuracy"] for x in rows])
            # a method left out of a budget (fine-tuning outside ft_budgets) reports its draws' size
            n_lab = ([len(t.rows) for t in tasks if t.method == method and t.budget == budget]
                     or [len(t.rows) for t in tasks if t.budget == budget])
            result.summary.append({"method": method, "kind": kinds[method], "budget": budget, "accuracy": mean,
                                   "ci95": half, "draws": len(rows), "failed": failed,
                                   "n_labelled": float(np.mean(n_lab)),
                                   **{k: float(np.mean([x[k] for x in rows])) if rows else nan
                                      for k in ("fit_s", "predict_s", "peak_mib")}})
