"""PACE: one aligned classifier per block, all self-trained on the ensemble's pseudo-labels."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from featx.adapt import CORAL, PACE, AdaptThenClassify, BlockEnsemble
from featx.classify import ClassBalancedSelfTraining
from featx.methods import make_method, make_selected


def two_blocks(seed=0, n=300):
    """Block A separates the classes the same way in both domains; block B's target is shifted
    across the source's boundary, so B's source classifier mislabels most of one class."""
    rng = np.random.default_rng(seed)
    ys, yt = np.arange(n) % 2, np.arange(n) % 2
    a = lambda y: rng.normal(size=(n, 2)) + np.c_[3.0 * y, np.zeros(n)]  # noqa: E731
    Xs = np.hstack([a(ys), rng.normal(size=(n, 2)) + np.c_[3.0 * ys, np.zeros(n)]])
    Xt = np.hstack([a(yt), rng.normal(size=(n, 2)) + np.c_[3.0 * yt, np.zeros(n)] + [2.5, 3.0]])
    X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(n, -1)]
    sd = np.r_[np.ones(n, int), np.full(n, -2)]
    return X, y, sd, Xt, yt


def test_one_block_is_class_balanced_self_training_of_the_aligned_head():
    X, y, sd, Xt, yt = two_blocks()
    pace = PACE(CORAL(), LogisticRegression()).fit(X, y, sample_domain=sd)
    alone = AdaptThenClassify(CORAL(), ClassBalancedSelfTraining(LogisticRegression())).fit(X, y, sample_domain=sd)
    np.testing.assert_allclose(pace.predict_proba(Xt), alone.predict_proba(Xt))
    assert pace.n_iter_ == alone.classifier_.n_iter_ and len(pace.pseudo_labels_) == len(yt)


def test_the_ensembles_labels_teach_the_block_that_transfers_badly():
    X, y, sd, Xt, yt = two_blocks()
    kwargs = dict(blocks=[2, 2])
    pace = PACE("passthrough", LogisticRegression(), **kwargs).fit(X, y, sample_domain=sd)
    own = BlockEnsemble(AdaptThenClassify("passthrough", ClassBalancedSelfTraining(LogisticRegression())),
                        **kwargs).fit(X, y, sample_domain=sd)
    shared_b = np.mean(pace.classifiers_[1].predict(Xt[:, 2:]) == yt)
    own_b = np.mean(own.estimators_[1].predict(Xt[:, 2:]) == yt)
    assert own_b < 0.8 and shared_b > own_b + 0.1
    assert np.mean(pace.predict(Xt) == yt) > np.mean(own.predict(Xt) == yt)
    members = [c.predict_proba(Xt[:, s]) for c, s in zip(pace.classifiers_, pace.slices_)]
    np.testing.assert_allclose(pace.predict_proba(Xt), np.mean(members, axis=0))


def test_without_target_rows_it_is_the_source_ensemble():
    X, y, sd, _, _ = two_blocks()
    source = sd >= 0
    pace = PACE(blocks=[2, 2]).fit(X[source], y[source])
    assert pace.n_iter_ == 1 and pace.pseudo_labels_.shape == (0,)


def test_the_registry_gives_pace_one_member_per_layer():
    X, y, sd, Xt, yt = two_blocks()
    layers = [("a", 2), ("b", 2)]
    model = make_method("pace", layers=layers).fit(X, y, sample_domain=sd)
    assert model.estimator_.blocks == [2, 2] and len(model.estimator_.classifiers_) == 2
    one = make_method("pace@b", layers=layers)
    assert isinstance(one, BlockEnsemble) and one.use == [1] and one.estimator.estimator.blocks is None
    picked = make_selected("pace", {"adapter__reg": 100.0}, layers=layers)
    assert picked.estimator.adapter.reg == 100.0 and picked.estimator.blocks == [2, 2]
    assert make_method("pace").estimator.blocks is None


@pytest.mark.parametrize("make, message", [
    (lambda: PACE("none"), r"PACE's adapter must be a transformer or 'passthrough'; got 'none'"),
    (lambda: PACE(classifier=LinearSVC()), r"PACE needs a classifier with predict_proba; got LinearSVC"),
    (lambda: PACE(max_portion=2.0),
     r"'max_portion' parameter of PACE must be a float in the range \[0\.0, 1\.0\]\. Got 2\.0"),
    (lambda: PACE(max_iter=-1), r"'max_iter' parameter of PACE must be an int in the range \[0, inf\)\. Got -1"),
    (lambda: PACE(blocks=[2, 2], use=[0, 0]), r"use must be distinct block indices in \[0, 2\); got \[0, 0\]"),
    (lambda: PACE(blocks=[2, 3]), r"blocks' widths \[2, 3\] add up to 5 columns; X has 4"),
])
def test_bad_parameters_say_what_was_expected(make, message):
    X, y, sd, _, _ = two_blocks()
    with pytest.raises(ValueError, match=message):
        make().fit(X, y, sample_domain=sd)
