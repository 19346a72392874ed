"""``compare(..., select=...)``: for every feature method, budget and draw, each validator's pick
from the method's selection grid, its target accuracy, the oracle's and the gap."""

from __future__ import annotations

import logging
import time

import numpy as np

from featx.domains import with_unlabelled_target
from featx.evaluate._tasklog import SelectionOutcomes
from featx.methods import make_selected, selection_grid
from featx.protocol import mean_ci
from featx.select import ORACLE, check_validators, select

logger = logging.getLogger(__name__)


def rank_correlation(scores, accuracy) -> float:
    """Spearman's rank correlation between a validator's scores and the target accuracies over
    a grid; NaN with fewer than 3 scored configurations or no spread."""
    from scipy.stats import spearmanr

    s, a = np.asarray(scores, dtype=np.float64), np.asarray(accuracy, dtype=np.float64)
    ok = np.isfinite(s) & np.isfinite(a)
    if ok.sum() < 3 or np.ptp(s[ok]) == 0 or np.ptp(a[ok]) == 0:
        return float("nan")
    return float(spearmanr(s[ok], a[ok]).statistic)


class FeatureSelection(SelectionOutcomes):
    """Each validator's pick for a comparison's frozen and aligned tasks: ``fit(task)`` runs
    :func:`featx.select.select` over the method's selection grid on the task's draw and the
    unlabelled target rows, and returns one record per validator and the oracle (or one error
    record). Picklable: the task runner runs it in joblib workers, with one BLAS and one OpenMP
    thread, as a single fit of :class:`featx.evaluate._fit_features.FeatureFit` runs.

    Parameters
    ----------
    split : featx.evaluate._roles.Split
    validators : list of str
    scale : str
    random_state : int
    layers : list of (str, int) or None
    """

    #: Modules whose code decides these picks, besides the models' own (the task log's key).
    CODE = (__name__, "featx.select")

    def __init__(self, split, validators, scale, random_state, layers=None):
        self.X, self.y, self.codes, self.pool = split.train.X, split.y_train, split.source_codes(), split.pool
        self.X_unlabelled, self.X_test, self.y_test = split.X_unlabelled, split.X_test, split.y_test
        self.validators, self.scale, self.random_state, self.layers = validators, scale, random_state, layers

    def __call__(self, task) -> list[dict]:
        from threadpoolctl import threadpool_limits

        rows = self.pool[task.rows]
        X, y, sd = with_unlabelled_target(self.X[rows], self.y[rows], self.codes[rows], self.X_unlabelled)
        start = time.perf_counter()
        try:
            with threadpool_limits(1):
                result = select(_Build(task.method, self.scale, self.layers), selection_grid(task.method), X, y, sd,
                                validators=self.validators, test=(self.X_test, self.y_test),
                                random_state=self.random_state)
        except Exception as exc:  # noqa: BLE001 - one failing selection must not lose the others
            logger.warning("selection for %s failed: %s: %s", task.method, type(exc).__name__, exc)
            return [{"error": type(exc).__name__, "message": str(exc)}]
        return selection_records(result, self.validators, time.perf_counter() - start)


class _Build:
    """``params -> model``: one point of a method's selection grid (picklable)."""

    def __init__(self, method, scale, layers):
        self.method, self.scale, self.layers = method, scale, layers

    def __call__(self, params):
        return make_selected(self.method, params, scale=self.scale, layers=self.layers)


def selection_records(result, validators, elapsed) -> list[dict]:
    """One record per validator (and the oracle) of a :class:`featx.select.Selection`."""
    records = []
    for name in [*check_validators(validators), ORACLE]:
        i = result.picks.get(name)
        scores = result.accuracy if name == ORACLE else result.scores[name]
        records.append({
            "validator": name, "params": None if i is None else result.configs[i],
            "score": None if i is None else float(scores[i]),
            "accuracy": float("nan") if i is None else float(result.accuracy[i]),
            "gap": result.gap(name), "grid_size": len(result.configs), "infeasible": len(result.errors),
            "rank_corr": float("nan") if name == ORACLE else rank_correlation(scores, result.accuracy),
            "fit_s": result.seconds.get(name, float("nan")), "select_s": elapsed,
        })
    return records


def summarise_selection(records, methods, budgets, validators) -> list[dict]:
    """Per (method, budget, validator): mean accuracy of the picks (95% CI), mean gap to the
    oracle, mean rank correlation and fit seconds, over the draws."""
    out = []
    for method in methods:
        for budget in budgets:
            for name in [*validators, ORACLE]:
                rows = [r for r in records if r["method"] == method and r["budget"] == budget and r["validator"] == name
                        and not r.get("skipped")]  # not run (reverse validation for fine-tuning): no cost, no pick
                if not rows:
                    continue
                acc = [r["accuracy"] for r in rows if np.isfinite(r["accuracy"])]
                mean, half = mean_ci(acc)
                out.append({"method": method, "budget": budget, "validator": name, "accuracy": mean, "ci95": half,
                            "gap": _nanmean([r["gap"] for r in rows]),
                            "rank_corr": _nanmean([r["rank_corr"] for r in rows]),
                            "fit_s": _nanmean([r["fit_s"] for r in rows]), "draws": len(acc)})
    return out


def _nanmean(values) -> float:
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
