"""Validators' formulas: small pure functions of predictions, weights and losses (numpy only).

None of them reads a target label: they see source labels, target features and the model's
predictions on target rows.
"""

from __future__ import annotations

import numpy as np

_TINY = 1e-12


def prediction_entropy(proba: np.ndarray) -> float:
    """Mean Shannon entropy of the predicted class distributions (Morerio et al., ICLR 2018).

    .. math::

        H = -\\frac{1}{n} \\sum_i \\sum_c p_{ic} \\log p_{ic}

    Lower means more confident predictions on the target; a validator maximises ``-H``.

    Parameters
    ----------
    proba : ndarray of shape (n, n_classes)
        Class probabilities of target rows (rows sum to 1).

    Returns
    -------
    float
    """
    p = np.asarray(proba, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    return float(terms.sum(axis=1).mean())


def soft_neighbourhood_density(proba: np.ndarray, temperature: float = 0.05) -> float:
    """Soft Neighbourhood Density (Saito et al., ICCV 2021): how densely target predictions
    cluster with their neighbours.

    With :math:`\\hat p_i = p_i / \\lVert p_i \\rVert` and
    :math:`s_{ij} = \\hat p_i^\\top \\hat p_j / T` for :math:`j \\ne i`, each row is turned into a
    distribution over its neighbours, :math:`q_{ij} = \\mathrm{softmax}_j(s_{ij})`, and

    .. math::

        \\mathrm{SND} = -\\frac{1}{n} \\sum_i \\sum_{j \\ne i} q_{ij} \\log q_{ij}

    Higher is better. The paper excludes the row itself; ``skada.metrics.SoftNeighborhoodDensity``
    keeps it with the sign of its self-similarity flipped, so the two differ slightly.

    Parameters
    ----------
    proba : ndarray of shape (n, n_classes)
    temperature : float, default=0.05
        The paper's value.

    Returns
    -------
    float
    """
    p = np.asarray(proba, dtype=np.float64)
    p = p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), _TINY)
    s = p @ p.T / temperature
    np.fill_diagonal(s, -np.inf)
    s -= s.max(axis=1, keepdims=True)
    q = np.exp(s)
    q /= q.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(q > 0, -q * np.log(q), 0.0)
    return float(terms.sum(axis=1).mean())


def domain_density_ratio(p_target: np.ndarray, n_source: int, n_target: int) -> np.ndarray:
    """Importance weights :math:`w(x) = p_T(x) / p_S(x)` from a domain classifier's
    probability :math:`P(\\text{target} \\mid x)` (Bickel et al., 2007):

    .. math::

        w(x) = \\frac{n_S}{n_T} \\, \\frac{P(t \\mid x)}{1 - P(t \\mid x)}

    Parameters
    ----------
    p_target : ndarray of shape (n,)
        The classifier's probability that each (source) row comes from the target.
    n_source, n_target : int
        Rows of each domain the classifier was trained on (the prior correction).

    Returns
    -------
    ndarray of shape (n,)
    """
    p = np.clip(np.asarray(p_target, dtype=np.float64), 1e-6, 1 - 1e-6)
    return (n_source / n_target) * p / (1 - p)


def importance_weighted_accuracy(correct: np.ndarray, weights: np.ndarray) -> float:
    """Importance-weighted validation accuracy (IWCV; Sugiyama et al., JMLR 2007):

    .. math::

        \\widehat{\\mathrm{acc}}_T = \\frac{\\sum_i w_i [\\hat y_i = y_i]}{\\sum_i w_i}

    over held-out labelled source rows, an estimate of the target accuracy under covariate shift.

    Parameters
    ----------
    correct : ndarray of bool, shape (n,)
    weights : ndarray of shape (n,)
        Non-negative importance weights.

    Returns
    -------
    float
    """
    w = np.asarray(weights, dtype=np.float64)
    return float(np.sum(w * np.asarray(correct, dtype=np.float64)) / max(np.sum(w), _TINY))


def deep_embedded_validation_risk(losses: np.ndarray, weights: np.ndarray) -> float:
    """Deep Embedded Validation (You et al., ICML 2019): the importance-weighted risk with a
    control variate, which has the same expectation and a lower variance.

    .. math::

        \\hat R = \\overline{w \\ell} + \\eta \\, \\bar w - \\eta,
        \\qquad \\eta = -\\frac{\\operatorname{cov}(w \\ell, w)}{\\operatorname{var}(w)}

    (:math:`\\eta = 0` when the weights do not vary). Lower is better; a validator
    maximises :math:`-\\hat R`.

    Parameters
    ----------
    losses : ndarray of shape (n,)
        Per-row loss on held-out labelled source rows (cross-entropy).
    weights : ndarray of shape (n,)
        Importance weights of those rows.

    Returns
    -------
    float
    """
    w = np.asarray(weights, dtype=np.float64)
    wl = w * np.asarray(losses, dtype=np.float64)
    var = np.var(w, ddof=1) if len(w) > 1 else 0.0
    eta = 0.0 if var == 0 else -np.cov(wl, w)[0, 1] / var
    return float(wl.mean() + eta * w.mean() - eta)


def cross_entropy(proba: np.ndarray, y: np.ndarray, eps: float = 1e-15) -> np.ndarray:
    """Per-row cross-entropy :math:`-\\log p_{i, y_i}` (probabilities clipped to ``[eps, 1]``)."""
    p = np.asarray(proba, dtype=np.float64)
    return -np.log(np.clip(p[np.arange(len(p)), np.asarray(y)], eps, 1.0))


def mixup_pairs(n: int, alpha: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """MixVal's probes (Hu et al., NeurIPS 2023): a random partner ``j = perm[i]`` for every
    target row and the mixing weight; the probe is :math:`\\alpha x_i + (1 - \\alpha) x_j` and
    its pseudo-label that of the heavier partner.

    Returns
    -------
    perm : ndarray of shape (n,)
    alpha : float
    """
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1]; got {alpha!r}.")
    return rng.permutation(n), float(alpha)


def mixval_score(labels: np.ndarray, perm: np.ndarray, alpha: float, mixed_predictions: np.ndarray) -> float:
    """MixVal's ICE score: the mean of the intra-cluster accuracy (partners with the same
    pseudo-label) and the inter-cluster accuracy (different pseudo-labels) of the model on the
    mixed probes against the heavier partner's pseudo-label. Higher is better.

    Parameters
    ----------
    labels : ndarray of shape (n,)
        The model's predictions on the target rows.
    perm : ndarray of shape (n,)
        Each row's partner (:func:`mixup_pairs`).
    alpha : float
        The mixing weight of row ``i`` (the pseudo-label is ``labels[i]`` when ``alpha >= 0.5``).
    mixed_predictions : ndarray of shape (n,)
        The model's predictions on the probes.

    Returns
    -------
    float
        NaN when neither kind of pair exists.
    """
    labels = np.asarray(labels)
    partner = labels[perm]
    expected = labels if alpha >= 0.5 else partner
    hit = np.asarray(mixed_predictions) == expected
    same = labels == partner
    parts = [hit[mask].mean() for mask in (same, ~same) if mask.any()]
    return float(np.mean(parts)) if parts else float("nan")
