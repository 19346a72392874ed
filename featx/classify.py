"""Named classifier presets for features: fresh scikit-learn estimators (no torch)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC
from sklearn.utils.metaestimators import available_if

_PRESETS = {
    "logreg": ("logistic regression, L2, C=1", lambda: LogisticRegression(max_iter=2000)),
    "linear-svm": ("linear SVM, C=1", lambda: LinearSVC()),
    "rbf-svm": ("RBF SVM on standardised features, C=1, gamma='scale'",
                lambda: make_pipeline(StandardScaler(), SVC(kernel="rbf"))),
    "1nn": ("1-nearest neighbour, Euclidean", lambda: KNeighborsClassifier(n_neighbors=1)),
    "knn": ("5-nearest neighbours, distance-weighted", lambda: KNeighborsClassifier(n_neighbors=5, weights="distance")),
    "ncm": ("nearest class mean", lambda: NearestCentroid()),
    "ridge": ("ridge classifier, alpha=1", lambda: RidgeClassifier()),
}


def list_classifiers() -> dict[str, str]:
    """Preset names and what each one is."""
    return {name: text for name, (text, _) in _PRESETS.items()}


def make_classifier(name: str):
    """A new, unfitted scikit-learn classifier for a preset name.

    Parameters
    ----------
    name : str
        One of :func:`list_classifiers`: ``logreg``, ``linear-svm``, ``rbf-svm``, ``1nn``,
        ``knn``, ``ncm``, ``ridge``.

    Examples
    --------
    >>> from featx.classify import make_classifier
    >>> make_classifier("1nn")
    KNeighborsClassifier(n_neighbors=1)
    """
    if name not in _PRESETS:
        raise ValueError(f"Unknown classifier preset {name!r}; expected one of {sorted(_PRESETS)}.")
    return _PRESETS[name][1]()


class TunedClassifier(ClassifierMixin, BaseEstimator):
    """A classifier whose hyper-parameters are chosen by stratified inner cross-validation on
    the rows it is fitted on, and only those (so test or target labels cannot leak in).

    With fewer than 2 rows in some class no split is possible and ``estimator`` is fitted
    with its own settings.

    Parameters
    ----------
    estimator : classifier, optional
        Default ``LogisticRegression(max_iter=2000)``.
    param_grid : dict, optional
        Candidate values, as for ``GridSearchCV``; none means no search.
    max_splits : int, default=3
        Folds, fewer when the smallest class has fewer rows.

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

    def __init__(self, estimator=None, param_grid=None, max_splits=3):
        self.estimator = estimator
        self.param_grid = param_grid
        self.max_splits = max_splits

    def fit(self, X, y):
        """Choose the hyper-parameters by inner CV on ``X, y``, then refit on all of them."""
        from sklearn.base import clone
        from sklearn.model_selection import GridSearchCV, StratifiedKFold
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import validate_data

        if not isinstance(self.max_splits, int) or self.max_splits < 2:
            raise ValueError(f"max_splits must be an int >= 2; got {self.max_splits!r}.")
        X, y = validate_data(self, X, y, dtype=None, ensure_all_finite=True)
        check_classification_targets(y)
        base = clone(self.estimator) if self.estimator is not None else LogisticRegression(max_iter=2000)
        _, counts = np.unique(y, return_counts=True)
        splits = min(self.max_splits, int(counts.min()))
        if self.param_grid and splits >= 2 and len(counts) > 1:
            search = GridSearchCV(base, self.param_grid, cv=StratifiedKFold(splits, shuffle=True, random_state=0))
            search.fit(X, y)
            self.estimator_, self.best_params_ = search.best_estimator_, dict(search.best_params_)
        else:
            self.estimator_, self.best_params_ = base.fit(X, y), {}
        self.classes_ = self.estimator_.classes_
        return self

    def predict(self, X):
        """Predictions of the tuned classifier."""
        from sklearn.utils.validation import check_is_fitted, validate_data

        check_is_fitted(self)
        return self.estimator_.predict(validate_data(self, X, dtype=None, reset=False))

    @available_if(lambda self: hasattr(getattr(self, "estimator_", None) or self.estimator or LogisticRegression(),
                                       "predict_proba"))
    def predict_proba(self, X):
        """Class probabilities, when the tuned classifier has them."""
        from sklearn.utils.validation import check_is_fitted, validate_data

        check_is_fitted(self)
        return self.estimator_.predict_proba(validate_data(self, X, dtype=None, reset=False))
