"""What a comparison measured (:class:`Comparison`), assembled in one place from its tasks'
outcomes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from featx.adapt import DomainStandardScaler
from featx.domains import DEFAULT_SOURCE, DEFAULT_TARGET
from featx.evaluate._selection import summarise_selection
from featx.protocol import mean_ci, proxy_a_distance

logger = logging.getLogger(__name__)


@dataclass
class Comparison:
    """What :func:`compare` measured.

    Attributes
    ----------
    records : list of dict
        One per finished (method, budget, draw): its ``rung`` (``"frozen"``, ``"aligned"`` or
        ``"finetuned"``, :func:`featx.methods.rung_of`), accuracy and the costs (fit and
        predict seconds, peak MiB).
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


def embedding_view(Xs, Xt, random_state=0, max_rows=600) -> dict:
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
                     "explained": pca.explained_variance_ratio_.tolist(),
                     "a_distance": proxy_a_distance(Zs, Zt, random_state=random_state)}
    return out


def assemble(info, extraction, split, tasks, outcomes, selections=None) -> Comparison:
    """The :class:`Comparison` of a run: records, failures, predictions (largest budget, first
    draw) and the summary from the tasks' ``outcomes`` (``(pred, cost)`` each); with
    ``selections`` (one list of records per task, or ``None`` where not run), the selection
    records and their summary; the embedding view when there is a target."""
    result = Comparison(extraction=dict(extraction), info=dict(info))
    scored = split.y_test >= 0
    result.info.update(classes=split.classes, n_train_pool=len(split.pool), n_test=int(scored.sum()))
    if split.X_unlabelled is not None:
        try:  # a picture for the report: its failure must not cost the fits
            result.embedding = embedding_view(split.train.X[split.pool], split.X_unlabelled, info["random_state"])
        except Exception as exc:  # noqa: BLE001
            logger.warning("the embedding view failed: %s: %s", type(exc).__name__, exc)
            result.info["embedding_error"] = f"{type(exc).__name__}: {exc}"
    largest = info["budgets"][-1]
    y_scored = split.y_test[scored]
    for task, (pred, cost) in zip(tasks, outcomes):
        where = {"method": task.method, "rung": task.rung, "budget": task.budget, "draw": task.draw}
        if "error" in cost:
            result.failures.append({**where, "error": cost["error"], "message": cost["message"]})
            continue
        result.records.append({**cost, **where, "n_labelled": int(len(task.rows)), "reused": bool(cost.get("reused"))})
        if task.budget == largest and task.draw == 0 and pred is not None:
            result.predictions[task.method] = (y_scored.tolist(), np.asarray(pred)[scored].tolist())
    result.summary = _summary(result, tasks)
    if selections is not None:
        for task, records in zip(tasks, selections):
            where = {"method": task.method, "rung": task.rung, "budget": task.budget, "draw": task.draw}
            for record in records or ():
                if "error" in record:
                    result.failures.append({**where, "validator": "selection", **record})
                else:
                    result.selection.append({**where, **record})
        result.selection_summary = summarise_selection(result.selection, info["methods"], info["budgets"],
                                                       info["select"])
    return result


def _summary(result, tasks) -> list[dict]:
    """Per (method, budget): mean accuracy, CI, finished and failed draws, mean costs."""
    nan = float("nan")
    out = []
    rungs = {t.method: t.rung for t in tasks}
    for method in result.info["methods"]:
        for budget in result.info["budgets"]:
            rows = [x for x in result.records if x["method"] == method and x["budget"] == budget]
            failed = sum(f["method"] == method and f["budget"] == budget for f in result.failures)
            mean, half = mean_ci([x["accuracy"] for x in rows])
            # a method left out of a budget (fine-tuning outside ft_budgets) reports its draws' size
            n_lab = ([len(t.rows) for t in tasks if t.method == method and t.budget == budget]
                     or [len(t.rows) for t in tasks if t.budget == budget])
            out.append({"method": method, "rung": rungs.get(method, result.info["rungs"][method]), "budget": budget,
                        "accuracy": mean, "ci95": half, "draws": len(rows), "failed": failed,
                        "n_labelled": float(np.mean(n_lab)),
                        **{k: float(np.mean([x[k] for x in rows])) if rows else nan
                           for k in ("fit_s", "predict_s", "peak_mib")}})
    return out
