"""``compare(..., select=...)``: for every feature method, budget and draw, each validator's pick
from the method's selection grid, its target accuracy, the oracle's and the gap."""

from __future__ import annotations

import itertools
import logging
import time

import numpy as np

from featx.domains import DEFAULT_TARGET, MASKED_LABEL
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


def selection_task(method, scale, random_state, validators, X_lab, y_lab, sd_lab, X_unlab, X_test, y_test,
                   layers=None):
    """Run :func:`featx.select.select` for one (method, budget, draw) with one BLAS and one
    OpenMP thread, as a single fit of ``featx.compare`` runs (a deep-DA head's torch threads
    thrash beside another job: a DANN fit took 243 s instead of 7 s on 2 cores); return its
    records (one per validator and the oracle), or an error record."""
    from threadpoolctl import threadpool_limits

    X = np.vstack([X_lab, X_unlab])
    y = np.r_[y_lab, np.full(len(X_unlab), MASKED_LABEL)]
    sd = np.r_[sd_lab, np.full(len(X_unlab), DEFAULT_TARGET, dtype=np.int64)]
    start = time.perf_counter()
    try:
        with threadpool_limits(1):
            result = select(lambda params: make_selected(method, params, scale=scale, layers=layers),
                            selection_grid(method), X, y, sd,
                            validators=validators, test=(X_test, y_test), random_state=random_state)
    except Exception as exc:  # noqa: BLE001 - one failing selection must not lose the others
        logger.warning("selection for %s failed: %s: %s", method, type(exc).__name__, exc)
        return [{"error": type(exc).__name__, "message": str(exc)}]
    return selection_records(result, validators, time.perf_counter() - start)


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


def run_selection(result, tasks, kinds, validators, split, codes, scale, random_state, log, done, key, n_jobs,
                  progress, finetune_select=None, layers=None):
    """Each validator's pick for every task of a comparison, into ``result.selection`` (read back
    from ``done``, the task log ``log`` as loaded, under ``key(task)`` when there; new ones are
    appended to ``log``; errors go to ``result.failures``). Feature tasks run in ``n_jobs``
    processes; fine-tuning tasks run after them in this process through
    ``finetune_select(task)`` (skipped without it)."""
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    X_train, y_train, pool = split.train.X, split.y_train, split.pool
    tasks = [t for t in tasks if kinds[t.method] != "finetuned" or finetune_select is not None]
    found = {i: done[key(t)]["record"]["selection"] for i, t in enumerate(tasks) if key(t) in done}
    todo = [i for i in range(len(tasks)) if i not in found]
    tuned = [i for i in todo if kinds[tasks[i].method] == "finetuned"]
    todo = [i for i in todo if i not in tuned]
    jobs = (delayed(selection_task)(tasks[i].method, scale, random_state, validators, X_train[pool[tasks[i].rows]],
                                    y_train[pool[tasks[i].rows]], codes[pool[tasks[i].rows]], split.X_unlabelled,
                                    split.X_test, split.y_test, layers) for i in todo)
    with tqdm(total=len(tasks), initial=len(found), desc="selection", unit="grid", disable=not progress) as bar:
        ran = zip(todo, Parallel(n_jobs=n_jobs, return_as="generator")(jobs) if todo else ())
        for i, records in itertools.chain(ran, ((i, finetune_select(tasks[i])) for i in tuned)):
            bar.update()
            found[i] = records
            if log is not None and "error" not in records[0]:
                log.append(key(tasks[i]), {"selection": records}, None)
    for i, task in enumerate(tasks):
        where = {"method": task.method, "kind": kinds[task.method], "budget": task.budget, "draw": task.draw}
        for record in found[i]:
            if "error" in record:
                result.failures.append({**where, "validator": "selection", **record})
            else:
                result.selection.append({**where, **record})
    result.selection_summary = summarise_selection(result.selection, result.info["methods"], result.info["budgets"],
                                                   validators)
