"""Classifier building blocks for features: a standard scaler with a noise floor, a classifier
tuned by inner cross-validation on the rows it is fitted on, and class-balanced self-training on
unlabelled rows (numpy and scikit-learn only).

The named heads (``logreg``, ``knn``, ...) are defined once, in :mod:`featx.methods`.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, OneToOneFeatureMixin, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from featx.domains import domain_moments
from featx.utils.pseudo_labels import SCHEDULE_CONSTRAINTS, self_training_rounds

__all__ = ["ClassBalancedSelfTraining", "FlooredStandardScaler", "NamedClasses", "TunedClassifier"]


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
        capped = {k: len(y) for k, v in params.items() if k.endswith("n_neighbors") and isinstance(v,
                                                                                                   int) and v > len(y)}
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


class ClassBalancedSelfTraining(ClassifierMixin, BaseEstimator):
    """Class-balanced self-training: refit on the labelled rows plus the most confident
    pseudo-labelled rows of every predicted class, a growing share each round, until the
    pseudo-labels stop changing.

    ``y == -1`` marks unlabelled rows (scikit-learn's semi-supervised convention and skada's).
    The first fit uses the labelled rows only; round ``t`` pseudo-labels the unlabelled rows
    with the current model and keeps :func:`featx.utils.pseudo_labels.class_balanced_selection` of them with portion
    ``min(start + t * step, max_portion)``; the estimator is refitted with the settings the
    first fit chose (a :class:`TunedClassifier` tunes once, on the labelled rows).

    Parameters
    ----------
    estimator : classifier with ``predict_proba``, optional
        Default ``LogisticRegression(max_iter=2000)``.
    start, step, max_portion : float, default=0.2, 0.05, 0.5
        The share of each predicted class taken in the first round, its growth per round and
        its cap (CBST's schedule).
    max_iter : int, default=10
        Rounds at most.

    Attributes
    ----------
    estimator_ : fitted classifier
    pseudo_labels_ : ndarray of shape (n_unlabelled,)
        The last round's labels of the unlabelled rows.
    n_iter_ : int
        Fits run: 1 + the self-training rounds (stopped early when the chosen rows and their
        labels repeat).
    classes_ : ndarray
    n_features_in_ : int

    References
    ----------
    .. [1] Y. Zou, Z. Yu, B. V. K. V. Kumar, J. Wang. "Unsupervised Domain Adaptation for Semantic
       Segmentation via Class-Balanced Self-Training." ECCV 2018.
    """

    #: ``AdaptThenClassify`` passes the target rows (``y == -1``) to a head that says so.
    uses_unlabelled = True

    _parameter_constraints: dict = dict(SCHEDULE_CONSTRAINTS)

    def __init__(self, estimator=None, *, start=0.2, step=0.05, max_portion=0.5, max_iter=10):
        self.estimator = estimator
        self.start = start
        self.step = step
        self.max_portion = max_portion
        self.max_iter = max_iter

    def fit(self, X, y):
        """Fit on the labelled rows, then self-train on the unlabelled ones.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels; ``-1`` for unlabelled rows.

        Returns
        -------
        self
        """
        from sklearn.base import clone
        from sklearn.utils.multiclass import check_classification_targets

        self._validate_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        unlabelled = (y == -1) if y.dtype.kind in "iuf" else np.zeros(len(y), dtype=bool)
        if unlabelled.all():
            raise ValueError("ClassBalancedSelfTraining needs labelled rows (y != -1); got none.")
        check_classification_targets(y[~unlabelled])
        base = clone(self.estimator) if self.estimator is not None else LogisticRegression(max_iter=2000)
        first = base.fit(X[~unlabelled], y[~unlabelled])
        if not hasattr(first, "predict_proba"):
            raise ValueError(f"ClassBalancedSelfTraining needs an estimator with predict_proba; got "
                             f"{type(first).__name__}.")
        settings = getattr(first, "estimator_", first)  # a TunedClassifier's choice, kept for the refits
        self.estimator_, self.n_iter_ = first, 1
        U, (XL, yL) = X[unlabelled], (X[~unlabelled], y[~unlabelled])
        if len(U):
            def refit(chosen, labels):
                self.estimator_ = clone(settings).fit(np.vstack([XL, U[chosen]]), np.r_[yL, labels])

            _, self.n_iter_ = self_training_rounds(lambda: self.estimator_.predict_proba(U), refit,
                                                   first.classes_, start=self.start, step=self.step,
                                                   max_portion=self.max_portion, max_iter=self.max_iter)
        self.pseudo_labels_ = self.estimator_.predict(U) if len(U) else np.empty(0, dtype=y.dtype)
        self.classes_ = self.estimator_.classes_
        return self

    def predict(self, X):
        """Predictions of the self-trained classifier."""
        check_is_fitted(self)
        return self.estimator_.predict(validate_data(self, X, dtype=[np.float64, np.float32], reset=False))

    def predict_proba(self, X):
        """Class probabilities of the self-trained classifier."""
        check_is_fitted(self)
        return self.estimator_.predict_proba(validate_data(self, X, dtype=[np.float64, np.float32], reset=False))


class NamedClasses(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A classifier fitted on class indices that answers with class names.

    Domain-adaptation models learn from integer labels, ``-1`` marking an unlabelled target
    row (skada's convention), so their ``classes_`` are indices into a data source's class
    names. Wrapped here with those names, a saved model predicts ``"bees"``, not ``1``.

    Parameters
    ----------
    estimator : classifier, optional
        Fitted on the indices; default ``LogisticRegression(max_iter=1000)``. Keyword
        arguments of ``fit`` (``sample_domain``) and of ``predict`` are passed to it.
    classes : sequence of str, optional
        The name of each index (``classes[i]`` for label ``i``); ``None``: the labels are
        already names, and are kept as they are.

    Attributes
    ----------
    estimator_ : fitted clone of ``estimator``
    classes_ : ndarray
        The names of the classes the estimator learned, in its column order.
    n_features_in_ : int
    """

    def __init__(self, estimator=None, classes=None):
        self.estimator = estimator
        self.classes = classes

    def fit(self, X, y, **fit_params):
        """Fit ``estimator`` on the label indices.

        Raises
        ------
        ValueError
            If a label is not a valid index into ``classes``.
        """
        from sklearn.base import clone

        X, y = validate_data(self, X, y, dtype=None)
        if self.classes is not None:
            labels = np.asarray(y)
            if labels.dtype.kind not in "iu" or labels.max() >= len(self.classes) or labels.min() < -1:
                raise ValueError(f"NamedClasses with classes={list(self.classes)} expects labels in 0..."
                                 f"{len(self.classes) - 1} (-1 for unlabelled); got {np.unique(labels)[:10].tolist()}.")
        self.estimator_ = clone(self.estimator if self.estimator is not None else LogisticRegression(max_iter=1000))
        self.estimator_.fit(X, y, **fit_params)
        learned = np.asarray(self.estimator_.classes_)
        self.classes_ = learned if self.classes is None else np.asarray(self.classes, dtype=object)[learned]
        return self

    def predict(self, X, **params):
        """Class names of ``X``."""
        check_is_fitted(self)
        pred = self.estimator_.predict(validate_data(self, X, dtype=None, reset=False), **params)
        if self.classes is None:
            return pred
        return np.asarray(self.classes, dtype=object)[np.asarray(pred, dtype=np.int64)]

    @available_if(lambda self: hasattr(getattr(self, "estimator_", None) or self.estimator or LogisticRegression(),
                                       "predict_proba"))
    def predict_proba(self, X, **params):
        """Class probabilities, columns in ``classes_`` order."""
        check_is_fitted(self)
        return self.estimator_.predict_proba(validate_data(self, X, dtype=None, reset=False), **params)
