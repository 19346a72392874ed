"""Class-balanced pseudo-label rounds (CBST), shared by a single self-trained classifier
(:class:`featx.classify.ClassBalancedSelfTraining`) and an ensemble that pseudo-labels for all
its members at once (:class:`featx.adapt.PACE`). numpy only."""

from __future__ import annotations

import numbers

from typing import Callable

import numpy as np
from sklearn.utils._param_validation import Interval

__all__ = ["SCHEDULE_CONSTRAINTS", "class_balanced_selection", "self_training_rounds"]


def class_balanced_selection(pred, confidence, portion) -> np.ndarray:
    """Rows to pseudo-label: in every predicted class ``c``, the ``ceil(portion * n_c)`` rows of
    highest confidence among the ``n_c`` rows predicted ``c``.

    Each class gets its own threshold :math:`\\lambda_c` (the confidence ranked at
    :math:`p\\,n_c`), so a class the model is unsure of is not crowded out by the easy ones:
    the class-balanced selection of CBST.

    References
    ----------
    .. [1] Y. Zou, Z. Yu, B. V. K. V. Kumar, J. Wang. "Unsupervised Domain Adaptation for Semantic
       Segmentation via Class-Balanced Self-Training." ECCV 2018.
    """
    pred, confidence = np.asarray(pred), np.asarray(confidence, dtype=np.float64)
    chosen = np.zeros(len(pred), dtype=bool)
    for c in np.unique(pred):
        rows = np.flatnonzero(pred == c)
        k = int(np.ceil(portion * len(rows)))
        chosen[rows[np.argsort(-confidence[rows], kind="stable")[:k]]] = True
    return chosen


#: scikit-learn parameter constraints of a self-training schedule (``start``, ``step`` and
#: ``max_portion`` fractions, ``max_iter`` rounds), for the estimators that run one.
SCHEDULE_CONSTRAINTS = {
    "start": [Interval(numbers.Real, 0, 1, closed="both")],
    "step": [Interval(numbers.Real, 0, 1, closed="both")],
    "max_portion": [Interval(numbers.Real, 0, 1, closed="both")],
    "max_iter": [Interval(numbers.Integral, 0, None, closed="left")],
}


def self_training_rounds(target_proba: Callable[[], np.ndarray], refit: Callable[[np.ndarray, np.ndarray], None],
                         classes: np.ndarray, *, start: float, step: float, max_portion: float,
                         max_iter: int) -> tuple[np.ndarray, int]:
    """CBST's rounds: at round ``t`` label the unlabelled rows with the arg-max of
    ``target_proba()`` (columns in ``classes``), keep :func:`class_balanced_selection` of them
    with portion ``min(start + t * step, max_portion)`` and ``refit(chosen, labels)``; stop
    after ``max_iter`` rounds or when the chosen rows and their labels repeat.

    Returns
    -------
    pseudo_labels : ndarray
        The labels of the unlabelled rows from the last probabilities seen.
    n_iter : int
        Fits run, counting the first one: 1 + the rounds that refitted.
    """
    previous, n_iter, pseudo = None, 1, None
    for t in range(max_iter):
        proba = target_proba()
        pseudo = classes[np.argmax(proba, axis=1)]
        chosen = class_balanced_selection(pseudo, proba.max(axis=1), min(start + t * step, max_portion))
        key = (chosen.tobytes(), pseudo[chosen].tobytes())
        if key == previous:
            break
        previous = key
        refit(chosen, pseudo[chosen])
        n_iter = t + 2
    return pseudo, n_iter
