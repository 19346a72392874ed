"""One measured fit of a frozen or aligned model of a comparison (run in joblib workers)."""

from __future__ import annotations

import logging
import time
import tracemalloc
import warnings

import numpy as np

from featx.domains import with_unlabelled_target
from featx.evaluate._tasklog import FitOutcomes
from featx.methods import make_method
from featx.metrics import accuracy

logger = logging.getLogger(__name__)


def guarded(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, or ``(None, {"error": type, "message": text})`` if it raises."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - one failing method must not lose the others
        logger.warning("%s failed: %s: %s", args[0], type(exc).__name__, exc)
        return None, {"error": type(exc).__name__, "message": str(exc)}


def fit_feature_method(method, scale, random_state, X_lab, y_lab, sd_lab, X_test, sd_test, X_target_unlabelled,
                       layers=None):
    """Fit the registry's model on labelled source rows (domains ``sd_lab``, 1..k) and the
    unlabelled target rows; predict the test rows: as the target domain, or by ``sd_test``
    (test rows held out of the sources), or as the first source. ``layers``: the features'
    ``(name, width)`` layers, for ``@`` names. Returns ``(pred, cost)``: fit and predict
    seconds and the peak of Python allocations (tracemalloc) in MiB."""
    model = make_method(method, scale=scale, random_state=random_state, layers=layers)
    X, y, sd = with_unlabelled_target(X_lab, y_lab, sd_lab, X_target_unlabelled)
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


class FeatureFit(FitOutcomes):
    """The fits of a comparison's frozen and aligned models: ``fit(task) -> (pred, cost)``,
    with the test accuracy in ``cost`` (or an error record). Picklable: the task runner runs it
    in joblib workers.

    Each fit runs with one BLAS and one OpenMP thread: OpenBLAS threads on the small products
    of these solvers cost more than they give (logistic regression's inner CV on 100 x 1280
    rows: 3.8 s with 2 threads, 0.3 s with 1, on 2 cores), and the deep-DA heads' torch threads
    (OpenMP) thrash when two fits run at once (a DANN fit: 7 s alone, 243 s beside another job
    on 2 cores); parallelism comes from running several fits at once instead.

    Parameters
    ----------
    split : featx.evaluate._roles.Split
        The comparison's rows.
    scale : str
    random_state : int
    layers : list of (str, int) or None
        The features' layers, for ``@`` names.
    """

    #: Modules whose code decides these fits, besides the models' own (the task log's key).
    CODE = (__name__,)

    def __init__(self, split, scale, random_state, layers=None):
        self.X, self.y, self.codes, self.pool = split.train.X, split.y_train, split.source_codes(), split.pool
        self.X_test, self.y_test, self.sd_test = split.X_test, split.y_test, split.test_domains()
        self.X_unlabelled = split.X_unlabelled
        self.scale, self.random_state, self.layers = scale, random_state, layers

    def __call__(self, task):
        from threadpoolctl import threadpool_limits

        rows = self.pool[task.rows]
        with threadpool_limits(1):
            pred, cost = guarded(fit_feature_method, task.method, self.scale, self.random_state, self.X[rows],
                                 self.y[rows], self.codes[rows], self.X_test, self.sd_test, self.X_unlabelled,
                                 self.layers)
        if pred is not None:
            cost["accuracy"] = accuracy(self.y_test, pred)
        return pred, cost
