"""Named classifier presets for features: fresh scikit-learn estimators (no torch)."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

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
