"""Several labelled source domains: pooled, one model per source, and the registry's switch."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from featx.adapt import CORAL, AdaptThenClassify, DomainScaled, EasyTL, PerSourceEnsemble, PooledSources
from featx.methods import make_method


def two_sources(n=60, seed=0):
    """Two sources that differ from each other (scale and offset) and a target; 3 classes."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 5)) * 3
    parts, ys, sds = [], [], []
    for d, (scale, offset) in {1: (1.0, 0.0), 2: (2.0, 4.0), -2: (1.5, -2.0)}.items():
        y = np.arange(n) % 3
        parts.append((centres[y] + rng.normal(size=(n, 5))) * scale + offset)
        ys.append(y if d > 0 else np.full(n, -1))
        sds.append(np.full(n, d))
    yt = np.arange(n) % 3
    return np.vstack(parts), np.concatenate(ys), np.concatenate(sds), yt


class Recorder(AdaptThenClassify):
    """Remembers the domains it was fitted on."""

    def fit(self, X, y, *, sample_domain=None):
        self.seen_domains_ = np.unique(sample_domain)
        return super().fit(X, y, sample_domain=sample_domain)


def test_pooling_gives_the_estimator_one_source_and_keeps_the_target():
    X, y, sd, yt = two_sources()
    model = PooledSources(Recorder(CORAL(), LogisticRegression())).fit(X, y, sample_domain=sd)
    assert model.estimator_.seen_domains_.tolist() == [-2, 1] and model.n_sources_ == 2
    assert model.predict(X[sd < 0]).shape == (60,)
    np.testing.assert_array_equal(model.predict(X[sd < 0], sample_domain=sd[sd < 0]), model.predict(X[sd < 0]))
    assert list(model.classes_) == [0, 1, 2]


def test_one_model_per_source_sees_that_source_and_the_target_and_the_probabilities_average():
    X, y, sd, yt = two_sources()
    ens = PerSourceEnsemble(Recorder(CORAL(), LogisticRegression())).fit(X, y, sample_domain=sd)
    assert ens.source_domains_.tolist() == [1, 2]
    assert [m.seen_domains_.tolist() for m in ens.estimators_] == [[-2, 1], [-2, 2]]
    Xt = X[sd < 0]
    mean = np.mean([m.predict_proba(Xt) for m in ens.estimators_], axis=0)
    np.testing.assert_allclose(ens.predict_proba(Xt), mean)
    np.testing.assert_array_equal(ens.predict(Xt), ens.classes_[mean.argmax(1)])


def test_members_without_probabilities_vote_and_missing_classes_stay_zero():
    X, y, sd, _ = two_sources()
    y = y.copy()
    y[(sd == 2) & (y == 2)] = 1  # source 2 has no class 2
    ens = PerSourceEnsemble(EasyTL()).fit(X, y, sample_domain=sd)
    assert list(ens.classes_) == [0, 1, 2] and list(ens.estimators_[1].classes_) == [0, 1]
    proba = ens.predict_proba(X[sd < 0])
    assert set(np.unique(proba)) <= {0.0, 0.5, 1.0}
    np.testing.assert_allclose(proba.sum(1), 1.0)


def test_the_registry_switch_builds_each_way_and_refuses_others():
    X, y, sd, yt = two_sources()
    native = make_method("coral")
    pooled = make_method("coral", sources="pooled")
    per = make_method("coral", sources="per-source")
    assert isinstance(native, DomainScaled) and isinstance(pooled.estimator, DomainScaled)
    assert isinstance(per, PerSourceEnsemble)
    for model in (native, pooled, per):
        assert np.mean(model.fit(X, y, sample_domain=sd).predict(X[sd < 0]) == yt) > 0.6
    assert len(native.estimator_.adapter_.source_domains_) == 2  # CORAL: one map per source natively
    with pytest.raises(ValueError, match=r"sources must be one of \['native', 'pooled', 'per-source'\]; got 'mixed'"):
        make_method("coral", sources="mixed")


def test_no_labelled_source_is_refused_by_both():
    X, y, sd, _ = two_sources()
    for meta in (PooledSources(), PerSourceEnsemble()):
        with pytest.raises(ValueError, match="needs labelled source rows"):
            meta.fit(X, np.full(len(X), -1), sample_domain=sd)


def test_the_ensemble_predicts_target_rows_only():
    X, y, sd, _ = two_sources()
    ens = PerSourceEnsemble().fit(X, y, sample_domain=sd)
    Xt = X[sd < 0]
    np.testing.assert_array_equal(ens.predict(Xt, sample_domain=sd[sd < 0]), ens.predict(Xt))
    with pytest.raises(ValueError, match=r"predicts target rows \(sample_domain < 0\); got source domains \[1\]"):
        ens.predict(X[:5], sample_domain=sd[:5])
