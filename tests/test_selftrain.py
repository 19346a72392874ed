"""Class-balanced self-training: the selection rule, the estimator, and the registry's aligned head."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from featx.classify import ClassBalancedSelfTraining
from featx.utils.pseudo_labels import class_balanced_selection
from featx.methods import make_method


def test_every_predicted_class_gives_its_most_confident_share():
    rng = np.random.default_rng(0)
    pred = np.r_[np.zeros(50, int), np.ones(10, int), np.full(3, 2)]
    conf = rng.random(len(pred))
    chosen = class_balanced_selection(pred, conf, 0.2)
    for c, n in ((0, 50), (1, 10), (2, 3)):
        rows = pred == c
        assert chosen[rows].sum() == int(np.ceil(0.2 * n))  # the rare class is not crowded out
        assert conf[rows & chosen].min() >= conf[rows & ~chosen].max()
    assert not class_balanced_selection(pred, conf, 0.0).any()
    assert class_balanced_selection(pred, conf, 1.0).all()


def shifted(seed=0, n=200):
    """Two classes; the unlabelled rows shifted off the labelled ones' boundary."""
    rng = np.random.default_rng(seed)
    ys, yt = np.arange(n) % 2, np.arange(n) % 2
    Xs = rng.normal(size=(n, 2)) + np.c_[3 * ys, np.zeros(n)]
    Xt = rng.normal(size=(n, 2)) + np.c_[3 * yt, np.zeros(n)] + [1.2, 2.5]
    Xt[:, 1] += 2.5 * yt  # the target's class 1 drifted upwards
    return Xs, ys, Xt, yt


def test_self_training_follows_the_unlabelled_rows_and_stops_when_labels_repeat():
    Xs, ys, Xt, yt = shifted()
    X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(len(yt), -1)]
    plain = LogisticRegression().fit(Xs, ys).score(Xt, yt)
    model = ClassBalancedSelfTraining(LogisticRegression(), max_iter=10).fit(X, y)
    assert model.score(Xt, yt) > plain
    assert 2 <= model.n_iter_ <= 11 and model.pseudo_labels_.shape == (len(yt),)
    none = ClassBalancedSelfTraining(LogisticRegression(), max_iter=0).fit(X, y)
    assert none.n_iter_ == 1 and none.score(Xt, yt) == plain


def test_the_registry_head_self_trains_on_the_aligned_target_rows():
    Xs, ys, Xt, yt = shifted(seed=1)
    X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(len(yt), -1)]
    sd = np.r_[np.ones(len(ys), int), np.full(len(yt), -2)]
    model = make_method("coral+selftrain").fit(X, y, sample_domain=sd)
    head = model.estimator_.classifier_
    assert isinstance(head, ClassBalancedSelfTraining) and len(head.pseudo_labels_) == len(yt)
    assert np.mean(model.predict(Xt) == yt) >= np.mean(make_method("coral").fit(X, y,
                                                                                sample_domain=sd).predict(Xt) == yt)


@pytest.mark.parametrize("params, message", [
    ({"start": 1.5},
     r"'start' parameter of ClassBalancedSelfTraining must be a float in the range \[0\.0, 1\.0\]\. Got 1\.5"),
    ({"max_iter": -1},
     r"'max_iter' parameter of ClassBalancedSelfTraining must be an int in the range \[0, inf\)\. Got -1"),
    ({"estimator": LinearSVC()}, r"needs an estimator with predict_proba; got LinearSVC"),
])
def test_self_training_errors(params, message):
    Xs, ys, Xt, _ = shifted()
    with pytest.raises(ValueError, match=message):
        ClassBalancedSelfTraining(**params).fit(np.vstack([Xs, Xt]), np.r_[ys, np.full(len(Xt), -1)])


def test_self_training_needs_labelled_rows():
    with pytest.raises(ValueError, match=r"needs labelled rows \(y != -1\); got none"):
        ClassBalancedSelfTraining().fit(np.zeros((4, 2)), np.full(4, -1))
