"""Classifier building blocks for features: a standard scaler with a noise floor and a classifier
tuned by inner cross-validation on the rows it is fitted on (numpy and scikit-learn only).

The named heads (``logreg``, ``knn``, ...) are defined once, in :mod:`featx.methods`.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, OneToOneFeatureMixin, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from featx.domains import domain_moments

__all__ = ["FlooredStandardScaler", "TunedClassifier"]


class FlooredStandardScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Standardise features, treating columns whose spread is rounding noise as constant.

    .. math::

        z_j = (x_j - \\mu_j) / \\sigma_j, \\qquad \\sigma_j := 1 \\text{ where }
        \\sigma_j \\le 64\\,\\varepsilon\\,\\lvert\\mu_j\\rvert + 10^{-12} \\max_k \\sigma_k

    (:func:`featx.domains.constant_columns`). scikit-learn's ``StandardScaler`` keeps any
    spread its own floating-point bound cannot rule out, so a column of rounding noise
    (``1e-23`` beside features of order 1, as an alignment map can leave) is divided by its
    ``1e-22`` deviation and becomes a unit-variance feature of pure noise, whose values
    then depend on the CPU's BLAS kernel. The floor here is relative to the data, so
    features of any scale are treated alike.

    Attributes
    ----------
    mean_, scale_ : ndarray of shape (n_features,)
        Column means and deviations (1 for a constant column).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> X = np.c_[np.arange(4.0), 1e-23 * np.array([1.0, -1.0, 1.0, -1.0])]
    >>> FlooredStandardScaler().fit(X).scale_.tolist()
    [1.118033988749895, 1.0]
    """

    def fit(self, X, y=None):
        """Learn the column means and deviations.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        self.mean_, self.scale_ = domain_moments(X)
        return self

    def transform(self, X):
        """Standardised rows, in the input's float dtype."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return ((np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_).astype(X.dtype, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _feasible_grid(grid: dict, rows: int) -> dict:
    """``grid`` with neighbour counts above ``rows`` (the smallest training fold) left out."""
    return {k: [v for v in values if not (k.endswith("n_neighbors") and v > rows)] or [min(values)]
            for k, values in grid.items()}


class TunedClassifier(ClassifierMixin, BaseEstimator):
    """A classifier whose hyper-parameters are chosen by stratified inner cross-validation on
    the rows it is fitted on, and only those (so test or target labels cannot leak in).

    With fewer than 2 rows in some class no split is possible and ``estimator`` is fitted
    with its own settings. Candidate neighbour counts (``n_neighbors``) larger than a
    training fold are left out, and the estimator's own count is capped at the rows there
    are.

    Parameters
    ----------
    estimator : classifier, optional
        Default ``LogisticRegression(max_iter=2000)``.
    param_grid : dict, optional
        Candidate values, as for ``GridSearchCV``; none means no search.
    max_splits : int, default=3
        Folds, fewer when the smallest class has fewer rows.
    random_state : int, RandomState or None, default=0
        Shuffling of the stratified folds (fixed by default, so a refit gives the same model).

    Attributes
    ----------
    estimator_ : fitted classifier
    best_params_ : dict
        The chosen values (empty without a search).
    classes_ : ndarray

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = TunedClassifier(LogisticRegression(max_iter=500), {"C": [0.01, 1.0]}).fit(X, y)
    >>> clf.best_params_
    {'C': 1.0}
    """

    def __init__(self, estimator=None, param_grid=None, max_splits=3, random_state=0):
        self.estimator = estimator
        self.param_grid = param_grid
        self.max_splits = max_splits
        self.random_state = random_state

    def fit(self, X, y):
        """Choose the hyper-parameters by inner CV on ``X, y``, then refit on all of them."""
        from sklearn.base import clone
        from sklearn.model_selection import GridSearchCV, StratifiedKFold
        from sklearn.utils.multiclass import check_classification_targets

        if not isinstance(self.max_splits, int) or self.max_splits < 2:
            raise ValueError(f"max_splits must be an int >= 2; got {self.max_splits!r}.")
        X, y = validate_data(self, X, y, dtype=None, ensure_all_finite=True)
        check_classification_targets(y)
        base = clone(self.estimator) if self.estimator is not None else LogisticRegression(max_iter=2000)
        params = base.get_params()
        capped = {k: len(y) for k, v in params.items() if k.endswith("n_neighbors") and isinstance(v, int) and v > len(y)}
        base.set_params(**capped)
        _, counts = np.unique(y, return_counts=True)
        splits = min(self.max_splits, int(counts.min()))
        if self.param_grid and splits >= 2 and len(counts) > 1:
            folds = StratifiedKFold(splits, shuffle=True, random_state=self.random_state)
            grid = _feasible_grid(self.param_grid, len(y) - -(-len(y) // splits))
            search = GridSearchCV(base, grid, cv=folds)
            search.fit(X, y)
            self.estimator_, self.best_params_ = search.best_estimator_, dict(search.best_params_)
        else:
            self.estimator_, self.best_params_ = base.fit(X, y), {}
        self.classes_ = self.estimator_.classes_
        return self

    def predict(self, X):
        """Predictions of the tuned classifier."""
        check_is_fitted(self)
        return self.estimator_.predict(validate_data(self, X, dtype=None, reset=False))

    @available_if(lambda self: hasattr(getattr(self, "estimator_", None) or self.estimator or LogisticRegression(),
                                       "predict_proba"))
    def predict_proba(self, X):
        """Class probabilities, when the tuned classifier has them."""
        check_is_fitted(self)
        return self.estimator_.predict_proba(validate_data(self, X, dtype=None, reset=False))
