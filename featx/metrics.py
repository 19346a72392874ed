"""The scores featx reports, in one place (numpy only)."""

from __future__ import annotations

import numpy as np

__all__ = [
    "accuracy",
    "top_k_accuracy",
]


def accuracy(y_true, y_pred) -> float:
    """Fraction of the labelled rows predicted right.

    .. math::

        \\mathrm{acc} = \\frac{1}{|L|} \\sum_{i \\in L} [\\hat y_i = y_i],
        \\qquad L = \\{i : y_i \\ge 0\\}

    Rows with ``y_true == -1`` (unlabelled, skada's convention) are not scored.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        Class indices, ``-1`` for unlabelled rows.
    y_pred : array-like of int, shape (n,)
        Predicted class indices.

    Returns
    -------
    float
        In ``[0, 1]``; NaN when no row is labelled.

    Raises
    ------
    ValueError
        If the two arrays differ in length.

    Examples
    --------
    >>> accuracy([0, 1, 1, -1], [0, 1, 0, 1])
    0.6666666666666666
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape; got {y_true.shape} and {y_pred.shape}.")
    labelled = y_true >= 0
    return float(np.mean(y_pred[labelled] == y_true[labelled])) if labelled.any() else float("nan")


def top_k_accuracy(scores, y_true, k: int) -> float:
    """Fraction of rows whose true class is among the ``k`` highest scores.

    Parameters
    ----------
    scores : array-like, shape (n, n_classes)
        Logits or probabilities.
    y_true : array-like of int, shape (n,)
        Class indices (columns of ``scores``).
    k : int
        At least 1; capped at the number of classes.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``k < 1`` or the shapes disagree.

    Examples
    --------
    >>> top_k_accuracy([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]], [2, 0], k=2)
    1.0
    """
    scores, y_true = np.asarray(scores), np.asarray(y_true)
    if scores.ndim != 2 or len(scores) != len(y_true):
        raise ValueError(f"scores must be (n, n_classes) with n = len(y_true) = {len(y_true)}; got {scores.shape}.")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int; got {k!r}.")
    k = min(int(k), scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float((top == y_true[:, None]).any(axis=1).mean())
