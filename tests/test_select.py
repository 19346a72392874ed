"""Validators without target labels: their formulas, skada's numbers where skada has them,
the selection protocol, and that target labels reach the oracle and nothing else."""

import numpy as np
import pytest

from featx.methods import make_selected, selection_grid
from featx.data import make_shifted_domains
from featx.select import (
    ORACLE,
    VALIDATORS,
    check_validators,
    cross_entropy,
    deep_embedded_validation_risk,
    domain_density_ratio,
    importance_weighted_accuracy,
    mixval_score,
    prediction_entropy,
    select,
    soft_neighbourhood_density,
)


def shifted(n_source=90, n_target=120, seed=0, target_code=-2):
    """Three classes in 8-d; the target shifted and partly rotated."""
    X, y, sd, yt = make_shifted_domains(n_source, n_target, 8, 3, shift=1.0, rotation=0.6, random_state=seed)
    return X, y, np.where(sd < 0, target_code, sd), yt


# ---------------------------------------------------------------- formulas
def test_prediction_entropy_bounds():
    assert prediction_entropy(np.eye(4)) == 0.0
    assert prediction_entropy(np.full((5, 4), 0.25)) == pytest.approx(np.log(4))


def test_snd_is_higher_for_predictions_that_cluster():
    rng = np.random.default_rng(0)
    clustered = np.eye(3)[rng.integers(0, 3, 60)] * 0.9 + 0.1 / 3
    spread = rng.dirichlet(np.ones(3), 60)
    assert soft_neighbourhood_density(clustered) > soft_neighbourhood_density(spread)


def test_weights_and_weighted_scores():
    w = domain_density_ratio(np.array([0.5, 0.8, 0.2]), n_source=100, n_target=50)
    np.testing.assert_allclose(w, 2.0 * np.array([1.0, 4.0, 0.25]))
    correct = np.array([True, False, True, True])
    assert importance_weighted_accuracy(correct, np.ones(4)) == 0.75
    assert importance_weighted_accuracy(correct, np.array([0, 1, 0, 0])) == 0.0
    losses = np.array([0.2, 1.0, 0.5, 0.1])
    assert deep_embedded_validation_risk(losses, np.ones(4)) == pytest.approx(losses.mean())  # no variance: plain
    np.testing.assert_allclose(cross_entropy(np.array([[0.5, 0.5], [0.9, 0.1]]), np.array([0, 1])),
                               [np.log(2), -np.log(0.1)])


def test_dev_control_variate_keeps_the_mean_and_cuts_the_variance():
    rng = np.random.default_rng(0)
    plain, dev = [], []
    for _ in range(300):  # weights with mean 1, losses correlated with them
        w = rng.exponential(size=40)
        losses = 0.5 + 0.3 * w + rng.normal(scale=0.05, size=40)
        plain.append(np.mean(w * losses))
        dev.append(deep_embedded_validation_risk(losses, w))
    assert abs(np.mean(dev) - np.mean(plain)) < 0.1
    assert np.var(dev) < 0.5 * np.var(plain)


def test_mixval_score_counts_intra_and_inter_pairs():
    labels = np.array([0, 0, 1, 1])
    perm = np.array([1, 0, 3, 0])  # pairs: (0,0) (0,0) (1,1) (1,0): three intra, one inter
    assert mixval_score(labels, perm, 0.55, labels) == 1.0
    half = mixval_score(labels, perm, 0.55, np.array([0, 0, 1, 0]))  # intra 3/3, inter 0/1
    assert half == 0.5
    assert np.isnan(mixval_score(np.array([]), np.array([], int), 0.55, np.array([])))


# ---------------------------------------------------------------- skada's numbers
def _fitted_coral(target_code):
    X, y, sd, yt = shifted(target_code=target_code)
    model = make_selected("coral", {"reg": 10.0, "C": 1.0}).fit(X, y, sample_domain=sd)
    return model, X, y, sd


def test_entropy_and_snd_match_skada():
    skada_metrics = pytest.importorskip("skada.metrics")
    from sklearn import config_context

    model, X, y, sd = _fitted_coral(-2)
    proba = model.predict_proba(X[sd < 0], sample_domain=sd[sd < 0])
    with config_context(enable_metadata_routing=True):
        ent = skada_metrics.PredictionEntropyScorer()(model, X, y, sample_domain=sd)
        snd = skada_metrics.SoftNeighborhoodDensity()(model, X, y, sample_domain=sd)
    # skada sums -p log p over every entry and averages over entries x classes... check its reduction:
    # PredictionEntropyScorer(reduction="mean") is np.mean over the (n, k) matrix of -p log p
    assert -ent == pytest.approx(prediction_entropy(proba) / proba.shape[1], rel=1e-6)
    assert snd == pytest.approx(soft_neighbourhood_density(proba), rel=1e-5)


def test_mixval_matches_skada_on_the_same_partners():
    skada_metrics = pytest.importorskip("skada.metrics")
    from sklearn import config_context

    model, X, y, sd = _fitted_coral(-1)  # skada scores the probes as domain -1
    target = sd < 0
    with config_context(enable_metadata_routing=True):
        theirs = skada_metrics.MixValScorer(alpha=0.55, random_state=3)(model, X, y, sample_domain=sd)
    perm = np.random.RandomState(3).permutation(int(target.sum()))
    labels = model.predict(X[target], sample_domain=sd[target])
    probes = 0.55 * X[target] + 0.45 * X[target][perm]
    ours = mixval_score(labels, perm, 0.55, model.predict(probes, sample_domain=sd[target]))
    assert ours == pytest.approx(theirs)


# ---------------------------------------------------------------- the protocol
def test_select_scores_every_configuration_and_the_oracle_bounds_every_pick():
    X, y, sd, yt = shifted()
    grid = selection_grid("coral")
    result = select(lambda p: make_selected("coral", p), grid, X, y, sd, y_target=yt)
    assert set(result.scores) == set(VALIDATORS) and set(result.picks) == {*VALIDATORS, ORACLE}
    for name, scores in result.scores.items():
        assert scores.shape == (len(grid),) and np.isfinite(scores).all(), name
    best = result.accuracy[result.picks[ORACLE]]
    assert best == result.accuracy.max()
    for name in VALIDATORS:
        assert 0.0 <= result.gap(name) <= best
        assert result.picked(name) in grid and result.seconds[name] > 0
    assert result.gap(ORACLE) == 0.0


def test_permuted_target_labels_move_the_oracle_and_nothing_else():
    X, y, sd, yt = shifted()
    grid = selection_grid("coral")
    build = lambda p: make_selected("coral", p)  # noqa: E731
    a = select(build, grid, X, y, sd, y_target=yt)
    b = select(build, grid, X, y, sd, y_target=np.random.default_rng(1).permutation(yt))
    for name in VALIDATORS:
        np.testing.assert_array_equal(a.scores[name], b.scores[name])
        assert a.picks[name] == b.picks[name]
    assert not np.array_equal(a.accuracy, b.accuracy)
    c = select(build, grid, X, y, sd)  # without target labels: no oracle at all
    assert c.accuracy is None and ORACLE not in c.picks and np.isnan(c.gap("source-cv"))


def test_validators_that_need_probabilities_or_folds_say_nan():
    X, y, sd, yt = shifted()
    svm = select(lambda p: make_selected("coral+linear-svm", p), [{"C": 0.1}], X, y, sd)
    assert np.isnan(svm.scores["entropy"]).all() and np.isnan(svm.scores["dev"]).all()
    assert np.isfinite(svm.scores["source-cv"]).all()
    one = np.r_[[np.flatnonzero(y == c)[0] for c in range(3)], np.flatnonzero(sd < 0)]  # one row per class
    few = select(lambda p: make_selected("coral", p), [{"reg": 10.0, "C": 1.0}], X[one], y[one], sd[one])
    assert np.isnan(few.scores["source-cv"]).all() and few.picks["source-cv"] is None
    assert np.isfinite(few.scores["entropy"]).all()
    hard = select(lambda p: make_selected("coral+1nn", p), selection_grid("coral+1nn"), X, y, sd)
    assert np.isnan(hard.scores["entropy"]).all() and hard.picks["entropy"] is None  # 0/1 probabilities
    assert np.isfinite(hard.scores["snd"]).all()


def test_select_checks_its_inputs():
    X, y, sd, yt = shifted()
    build = lambda p: make_selected("coral", p)  # noqa: E731
    with pytest.raises(ValueError, match=r"The grid is empty"):
        select(build, [], X, y, sd)
    with pytest.raises(ValueError, match=r"Unknown validators \['oracle'\]"):
        select(build, [{}], X, y, sd, validators="oracle")
    with pytest.raises(ValueError, match=r"y_target must label the 120 target rows; got 3 labels"):
        select(build, [{}], X, y, sd, y_target=[0, 1, 2])
    with pytest.raises(ValueError, match=r"Target rows must be unlabelled"):
        select(build, [{}], X, np.r_[y[:90], yt], sd)
    with pytest.raises(ValueError, match=r"needs labelled source rows and target rows; got 90 and 0"):
        select(build, [{}], X[:90], y[:90], sd[:90])
    with pytest.raises(ValueError, match=r"features must have one row per row of X \(210\); got 5"):
        select(build, [{}], X, y, sd, features=X[:5])
    assert check_validators("entropy, source-cv") == ["source-cv", "entropy"]
    with pytest.raises(ValueError, match=r"has no selectable parameters \['gamma'\]"):
        make_selected("coral", {"gamma": 1.0})


def test_selection_grids_cover_every_alignment_and_head():
    from featx.methods import list_methods

    for name in [*list_methods("alignment"), *list_methods("head")]:
        if name in ("none",):
            continue
        grid = selection_grid(name)
        assert grid, name
        for params in grid[:2]:  # every point builds
            make_selected(name, params)


def test_the_oracle_can_score_a_separate_test_set():
    X, y, sd, yt = shifted()
    target = np.flatnonzero(sd < 0)
    build = lambda p: make_selected("coral", p)  # noqa: E731
    grid = [{"reg": 1.0, "C": 1.0}, {"reg": 100.0, "C": 0.01}]
    on_target = select(build, grid, X, y, sd, validators="entropy", y_target=yt)
    on_test = select(build, grid, X, y, sd, validators="entropy", test=(X[target], yt))
    np.testing.assert_allclose(on_test.accuracy, on_target.accuracy)
    assert set(on_test.seconds) == {"entropy", ORACLE}
    with pytest.raises(ValueError, match=r"either as y_target .* or as test=\(X, y\); got both"):
        select(build, grid, X, y, sd, y_target=yt, test=(X[target], yt))


def test_an_infeasible_configuration_is_skipped_not_fatal():
    X, y, sd, yt = shifted()
    result = select(lambda p: make_selected("sa", p), [{"n_components": 50, "C": 1.0}, {"n_components": 4, "C": 1.0}],
                    X, y, sd, y_target=yt)
    assert list(result.errors) == [0] and "n_components" in result.errors[0]
    assert all(np.isnan(s[0]) for s in result.scores.values()) and result.picks[ORACLE] == 1


def test_features_and_mix_let_select_drive_models_of_other_inputs():
    """Row ids as X: the domain classifier reads ``features``, MixVal's probes come from ``mix``;
    the scores are those of the same model on the feature rows."""
    X, y, sd, yt = shifted()
    ids = np.arange(len(X))

    class OnIds:
        def __init__(self, params):
            self.model = make_selected("coral", params)

        def fit(self, rows, y, sample_domain=None):
            self.model.fit(X[rows], y, sample_domain=sample_domain)
            self.classes_ = self.model.classes_
            return self

        def _rows(self, rows):
            return rows(X) if callable(rows) else X[rows]

        def predict(self, rows, sample_domain=None):
            return self.model.predict(self._rows(rows), sample_domain=sample_domain)

        def predict_proba(self, rows, sample_domain=None):
            return self.model.predict_proba(self._rows(rows), sample_domain=sample_domain)

    def mix(a, b, alpha):
        return lambda table: alpha * table[a] + (1 - alpha) * table[b]

    grid = selection_grid("coral")[:4]
    direct = select(lambda p: make_selected("coral", p), grid, X, y, sd, y_target=yt)
    on_ids = select(OnIds, grid, ids, y, sd, y_target=yt, features=X, mix=mix)
    for name in VALIDATORS:
        np.testing.assert_allclose(on_ids.scores[name], direct.scores[name], err_msg=name)
    np.testing.assert_allclose(on_ids.accuracy, direct.accuracy)
