"""Bad inputs to every featx estimator get a scikit-learn style message: what was expected, what was got."""

import inspect

import numpy as np
import pytest
from sklearn.base import ClassifierMixin, clone
from sklearn.utils import get_tags

from .conftest import estimator_instances

ESTIMATORS = estimator_instances()
IDS = [type(e).__name__ for e in ESTIMATORS]


def data(n=40, d=5, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.normal(size=(n, d)) + 2.0 * y[:, None]
    sd = np.where(np.arange(n) < n // 2, 1, -2)
    return X, y, sd


def domain_aware(est) -> bool:
    return "sample_domain" in inspect.signature(est.fit).parameters


def fit(est, X, y, sd):
    """Fit as a user would: target labels masked for domain-aware classifiers, plain
    classifiers on the source rows."""
    est = clone(est)
    if not domain_aware(est):
        return est.fit(X, y) if sd is None or len(sd) != len(X) else est.fit(X[sd > 0], y[sd > 0])
    if isinstance(est, ClassifierMixin) and sd is not None and len(sd) == len(y):
        y = np.where(sd < 0, -1, y)
    return est.fit(X, y, sample_domain=sd)


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("value, word", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_features(est, value, word):
    X, y, sd = data()
    X[3, 2] = value
    with pytest.raises(ValueError, match=f"Input X contains {word}"):
        fit(est, X, y, sd)


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_wrong_feature_count_after_fit(est):
    X, y, sd = data()
    fitted = fit(est, X, y, sd)
    method = fitted.predict if hasattr(fitted, "predict") else fitted.transform
    with pytest.raises(ValueError, match=r"X has 4 features, but \w+ is expecting 5 features as input"):
        method(X[:, :4])


USE_Y = [e for e in ESTIMATORS if domain_aware(e) or get_tags(e).target_tags.required]


@pytest.mark.parametrize("est", USE_Y, ids=[type(e).__name__ for e in USE_Y])
def test_mismatched_lengths(est):
    X, y, sd = data()
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[40, 39\]"):
        fit(est, X, y[:-1], sd if domain_aware(est) else None)
    if domain_aware(est):
        with pytest.raises(ValueError, match=r"sample_domain must have shape \(40,\), one domain per row of X; "
                                             r"got shape \(39,\)"):
            fit(est, X, y, sd[:-1])


CLASSIFIERS = [e for e in ESTIMATORS if isinstance(e, ClassifierMixin) and domain_aware(e)]


@pytest.mark.parametrize("est", CLASSIFIERS, ids=[type(e).__name__ for e in CLASSIFIERS])
def test_domain_classifiers_need_labelled_source_and_two_classes(est):
    X, y, sd = data()
    with pytest.raises(ValueError, match="needs labelled source rows .* got none"):
        clone(est).fit(X, np.full(len(X), -1), sample_domain=sd)
    with pytest.raises(ValueError, match=r"needs labelled source rows of at least 2 classes; got 1 class \(0\)"):
        clone(est).fit(X, np.where(sd < 0, -1, 0), sample_domain=sd)


@pytest.mark.parametrize("est", CLASSIFIERS, ids=[type(e).__name__ for e in CLASSIFIERS])
def test_string_labels_round_trip(est):
    X, y, sd = data()
    names = np.array(["ant", "bee"])[y]
    model = clone(est).fit(X[sd > 0], names[sd > 0], sample_domain=sd[sd > 0])
    assert set(model.predict(X[sd < 0])) <= {"ant", "bee"} and list(model.classes_) == ["ant", "bee"]
