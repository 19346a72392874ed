"""The evaluation protocol's pieces: labelled-budget draws, confidence intervals, domain distance
(numpy, scipy and scikit-learn only)."""

from __future__ import annotations

import numpy as np

__all__ = [
    "ALL",
    "budget_draws",
    "mean_ci",
    "parse_budgets",
    "proxy_a_distance",
    "stratified_split",
]

ALL = "all"


def parse_budgets(text) -> list:
    """``"1,5,10,all"`` (or a list) -> ``[1, 5, 10, "all"]``: positive ints per class, or ``"all"``."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for item in items:
        item = str(item).strip()
        if item == ALL:
            out.append(ALL)
        elif item.isdigit() and int(item) > 0:
            out.append(int(item))
        else:
            raise ValueError(f"Budgets must be positive ints (images per class) or 'all'; got {item!r} in {text!r}.")
    if not out:
        raise ValueError(f"Expected at least one budget; got {text!r}.")
    return sorted(set(out), key=lambda b: (b == ALL, b if b != ALL else 0))


def stratified_split(labels: np.ndarray, fraction: float, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, validation)``: ``round(fraction * n_c)`` rows of each class ``c``
    (at least 1 when the class has 2 or more) go to validation, drawn with ``random_state``.

    Raises
    ------
    ValueError
        If ``fraction`` is not strictly between 0 and 1.
    """
    if not (isinstance(fraction, (int, float, np.floating)) and 0 < fraction < 1):
        raise ValueError(f"The held-out fraction must be strictly between 0 and 1 (e.g. 0.3); got {fraction!r}.")
    rng = np.random.default_rng(random_state)
    val = []
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        k = int(round(fraction * len(rows)))
        k = min(max(k, 1 if len(rows) > 1 else 0), len(rows) - 1)
        val.extend(rng.permutation(rows)[:k].tolist())
    val = np.sort(np.asarray(val, dtype=np.int64))
    return np.setdiff1d(np.arange(len(labels)), val), val


def budget_draws(y: np.ndarray, budget, repeats: int, random_state: int) -> list[np.ndarray]:
    """Row indices of ``repeats`` stratified draws of ``budget`` labelled rows per class.

    Draw ``r`` of budget ``b`` depends on ``(random_state, b, r)`` only, so every method sees the
    same rows. A class with fewer rows than the budget gives all of them. ``"all"`` is one
    draw: every labelled row.
    """
    y = np.asarray(y)
    labelled = np.flatnonzero(y >= 0)
    if budget == ALL:
        return [labelled]
    out = []
    for r in range(repeats):
        rng = np.random.default_rng([random_state, int(budget), r])
        rows = [rng.permutation(labelled[y[labelled] == c])[:budget] for c in np.unique(y[labelled])]
        out.append(np.sort(np.concatenate(rows)))
    return out


def mean_ci(values, level: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its Student-t confidence interval.

    .. math::

        \\bar x \\pm t_{(1 + \\ell)/2,\\, n - 1} \\, s / \\sqrt n

    with the sample standard deviation :math:`s`; the half-width is NaN for one value.
    """
    from scipy.stats import t

    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        return float(v.mean()) if len(v) else float("nan"), float("nan")
    half = t.ppf((1 + level) / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean()), float(half)


def proxy_a_distance(Xs: np.ndarray, Xt: np.ndarray, *, random_state: int = 0, max_rows: int = 2000) -> float:
    """Proxy A-distance between two samples (Ben-David et al., 2007).

    .. math::

        \\hat d_A = 2 (1 - 2 \\epsilon)

    where :math:`\\epsilon` is the 2-fold cross-validated error of a linear classifier
    (logistic regression on standardised rows) telling the domains apart, on equally many
    rows of each (at most ``max_rows``). 0: indistinguishable; 2: perfectly separable.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(random_state)
    n = min(len(Xs), len(Xt), max_rows)
    X = np.vstack([Xs[rng.permutation(len(Xs))[:n]], Xt[rng.permutation(len(Xt))[:n]]])
    d = np.r_[np.zeros(n), np.ones(n)]
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=0.1))
    err = 1.0 - cross_val_score(clf, X, d, cv=2).mean()
    return float(2.0 * (1.0 - 2.0 * min(err, 0.5)))
