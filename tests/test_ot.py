"""Optimal transport (POT): the plans' marginals, the class regulariser, the barycentric and
out-of-sample maps, the memory plan, OTMapping and JDOT."""

import logging
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from featx.adapt import (JDOT, AdaptThenClassify, OTMapping, barycentric_map, class_regularised_plan,
                         kernel_ridge_fit, shifted_cost)
from featx.adapt._jdot import kernel_ridge_loo, ridge_path  # private: JDOT's plumbing, tested as such
from featx.adapt._ot import plan_bytes, plan_rows  # private: OT's memory plan, tested as such
# private: the kernel of JDOT's ridge path, tested as such
from featx.adapt._kernel import rbf_kernel
from featx.methods import make_method
from featx.data import make_shifted_domains


def shifted(n_source=80, n_target=90, seed=0, shift=1.5):
    """Three classes in 6-d; the target translated and partly rotated (not z-scored, so the
    translation is there to undo)."""
    return make_shifted_domains(n_source, n_target, 6, 3, shift=shift, rotation=0.3, random_state=seed)


def test_plans_have_the_uniform_marginals():
    X, y, sd, _ = shifted()
    Xs, Xt = X[sd > 0], X[sd < 0]
    # POT's class-regularised solve stops its inner Sinkhorn loops at 200 rounds: the target
    # marginal is then met to a few percent when the class proportions differ (27/27/26 here
    # against 30/30/30), exactly for plain entropic OT
    for ys, rtol in ((None, 1e-6), (y[sd > 0], 0.03)):
        plan = class_regularised_plan(Xs, ys, Xt, 0.1, 1.0)
        assert plan.shape == (80, 90) and (plan >= 0).all()
        np.testing.assert_allclose(plan.sum(1), 1 / 80, rtol=1e-9)
        np.testing.assert_allclose(plan.sum(0), 1 / 90, rtol=rtol)


def _purity(plan, ys):
    """Mean, over target rows, of the largest share of its mass from one source class."""
    per_class = np.stack([plan[ys == c].sum(0) for c in np.unique(ys)])
    return float((per_class.max(0) / per_class.sum(0)).mean())


def test_the_class_regulariser_makes_each_target_row_draw_from_fewer_classes():
    X, y, sd, _ = shifted(shift=3.0)
    Xs, ys, Xt = X[sd > 0], y[sd > 0], X[sd < 0]
    plain = _purity(class_regularised_plan(Xs, None, Xt, 0.5, 0.0), ys)
    grouped = _purity(class_regularised_plan(Xs, ys, Xt, 0.5, 10.0), ys)
    assert grouped > plain + 0.05 and grouped > 0.9


def test_barycentric_map_sends_rows_to_their_partners_and_empty_rows_to_the_mean():
    Xt = np.arange(12.0).reshape(4, 3)
    plan = np.eye(4) / 4
    plan[3] = 0.0
    out = barycentric_map(plan, Xt)
    np.testing.assert_allclose(out[:3], Xt[:3])
    np.testing.assert_allclose(out[3], Xt.mean(0))


def test_after_the_mapping_the_source_mean_is_the_target_mean():
    X, y, sd, _ = shifted()
    Z = OTMapping(reg_cl=0.0).fit_transform(X, y, sample_domain=sd)  # marginals exact (see above)
    np.testing.assert_allclose(Z[sd > 0].mean(0), X[sd < 0].mean(0), atol=1e-6)
    Z = OTMapping().fit_transform(X, y, sample_domain=sd)
    np.testing.assert_allclose(Z[sd > 0].mean(0), X[sd < 0].mean(0), atol=0.1)
    np.testing.assert_array_equal(Z[sd < 0], X[sd < 0])  # target rows stay
    assert np.abs(X[sd > 0].mean(0) - X[sd < 0].mean(0)).max() > 0.5  # there was a gap to close


def test_rows_outside_the_plan_move_by_their_nearest_anchors_displacement():
    X, y, sd, _ = shifted()
    ot = OTMapping().fit(X, y, sample_domain=sd)
    train = ot.transform(X[sd > 0], sample_domain=sd[sd > 0])
    np.testing.assert_allclose(train, OTMapping().fit_transform(X, y, sample_domain=sd)[sd > 0])
    new = X[sd > 0][:5] + 1e-3
    moved = ot.transform(new, sample_domain=np.ones(5, int))
    np.testing.assert_allclose(moved - new, train[:5] - X[sd > 0][:5])


def test_unlabelled_source_rows_stay_out_of_the_plan_and_are_mapped_out_of_sample():
    X, y, sd, _ = shifted()
    y = y.copy()
    y[:10] = -1  # 10 unlabelled source rows
    ot = OTMapping().fit(X, y, sample_domain=sd)
    assert ot.plan_rows_ == [(70, 90)]
    assert ot.transform(X[:10], sample_domain=sd[:10]).shape == (10, 6)


def test_one_plan_per_source_domain_and_an_unknown_domain_is_refused():
    X, y, sd, _ = shifted()
    sd = sd.copy()
    sd[:40] = 0
    ot = OTMapping().fit(X, y, sample_domain=sd)
    assert ot.source_domains_.tolist() == [0, 1] and ot.plan_rows_ == [(40, 90), (40, 90)]
    with pytest.raises(ValueError, match=r"no plan for source domain 5; it was fitted on source domains \[0, 1\]"):
        ot.transform(X[:3], sample_domain=np.full(3, 5))


def test_without_target_rows_the_map_is_the_identity():
    X, y, sd, _ = shifted()
    Xs, ys = X[sd > 0], y[sd > 0]
    np.testing.assert_array_equal(OTMapping().fit_transform(Xs, ys), Xs)


def test_the_memory_plan_samples_rows_past_the_budget(caplog):
    assert plan_rows(100, 200, plan_bytes(100, 200), "X") == (100, 200)
    with caplog.at_level(logging.WARNING, logger="featx.adapt._ot"):
        m_s, m_t = plan_rows(100, 200, plan_bytes(100, 200) / 4, "X")
    assert (m_s, m_t) == (50, 100) and "solving on a sample of 50 source and 100 target rows" in caplog.text
    with pytest.raises(ValueError, match=r"even 10 rows a side do not fit max_memory"):
        plan_rows(100, 200, plan_bytes(5, 5), "X")
    X, y, sd, _ = shifted()
    ot = OTMapping(max_memory=plan_bytes(40, 45)).fit(X, y, sample_domain=sd)
    assert ot.plan_rows_ == [(40, 45)]
    assert np.isfinite(ot.transform(X, sample_domain=sd)).all()
    jdot = JDOT(max_memory=plan_bytes(40, 45)).fit(X, y, sample_domain=sd)
    assert jdot.plan_rows_ == (40, 45)


def _source_only(X, y, sd, yt):
    clf = LogisticRegression(max_iter=1000).fit(X[sd > 0], y[sd > 0])
    return np.mean(clf.predict(X[sd < 0]) == yt)


def test_ot_and_jdot_beat_the_source_only_classifier_on_a_translated_target():
    X, y, sd, yt = shifted(shift=3.0)
    base = _source_only(X, y, sd, yt)
    ot = AdaptThenClassify(OTMapping(), LogisticRegression(max_iter=1000)).fit(X, y, sample_domain=sd)
    jdot = JDOT().fit(X, y, sample_domain=sd)
    assert base < 0.8
    assert np.mean(ot.predict(X[sd < 0]) == yt) > base + 0.1
    assert np.mean(jdot.predict(X[sd < 0]) == yt) > base + 0.1


def test_jdot_picks_its_ridge_penalty_on_the_source_and_keeps_a_given_one():
    X, y, sd, _ = shifted()
    assert JDOT().fit(X, y, sample_domain=sd).reg_ in [10.0 ** k for k in range(-2, 5)]
    assert JDOT(reg=3.0).fit(X, y, sample_domain=sd).reg_ == 3.0
    Xs, ys = X[sd > 0], y[sd > 0]
    assert JDOT().fit(Xs, ys).plan_rows_ == (0, 0)  # no target: the source fit


def test_kernel_ridge_in_closed_form_matches_scikit_learn_and_brute_force_leave_one_out():
    from sklearn.kernel_ridge import KernelRidge

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(40, 4)), rng.normal(size=(40, 3))
    path = ridge_path(rbf_kernel(X, X, 0.3))
    dual, fitted = kernel_ridge_fit(path, Y, 0.5)
    reference = KernelRidge(alpha=0.5, kernel="rbf", gamma=0.3).fit(X, Y)
    np.testing.assert_allclose(dual, reference.dual_coef_, atol=1e-10)
    np.testing.assert_allclose(fitted, reference.predict(X), atol=1e-10)
    loo = []
    for i in range(len(X)):
        rest = np.arange(len(X)) != i
        model = KernelRidge(alpha=0.5, kernel="rbf", gamma=0.3).fit(X[rest], Y[rest])
        loo.append(np.mean((model.predict(X[i:i + 1]) - Y[i]) ** 2))
    np.testing.assert_allclose(kernel_ridge_loo(path, Y, [0.5]), [np.mean(loo)], rtol=1e-8)


def test_rbf_jdot_beats_the_source_only_classifier_and_predicts_with_its_dual_coefficients():
    X, y, sd, yt = shifted(shift=3.0)
    base = _source_only(X, y, sd, yt)
    jdot = JDOT(kernel="rbf", reg=1.0).fit(X, y, sample_domain=sd)
    assert jdot.model_ is None and jdot.dual_coef_.shape == (len(jdot.X_fit_), 3)
    assert np.mean(jdot.predict(X[sd < 0]) == yt) > base + 0.1
    scores = rbf_kernel(X[:5].astype(float), jdot.X_fit_, jdot.gamma_) @ jdot.dual_coef_
    np.testing.assert_allclose(jdot.decision_function(X[:5]), scores)
    assert jdot.gamma_ == pytest.approx(1 / (X.shape[1] * X.var()))
    assert JDOT(kernel="rbf", gamma=0.5).fit(X, y, sample_domain=sd).gamma_ == 0.5
    assert JDOT(kernel="rbf").fit(X, y, sample_domain=sd).reg_ in [10.0 ** k for k in range(-2, 5)]  # LOO
    Xs, ys = X[sd > 0], y[sd > 0]
    source_only = JDOT(kernel="rbf", reg=1.0).fit(Xs, ys)
    assert source_only.plan_rows_ == (0, 0) and len(source_only.X_fit_) == len(Xs)


def test_jdots_binary_scores_follow_scikit_learns_convention():
    X, y, sd, _ = shifted()
    keep = (y != 2)
    jdot = JDOT().fit(X[keep], y[keep], sample_domain=sd[keep])
    d = jdot.decision_function(X[:7])
    assert d.shape == (7,)
    np.testing.assert_array_equal(jdot.predict(X[:7]), jdot.classes_[(d > 0).astype(int)])


def test_the_registry_builds_both():
    X, y, sd, yt = shifted(shift=3.0)
    for name in ("ot", "jdot", "jdot-rbf"):
        model = make_method(name).fit(X, y, sample_domain=sd)
        assert np.mean(model.predict(X[sd < 0]) == yt) > 0.5


@pytest.mark.parametrize(("make", "message"), [
    (lambda: OTMapping(reg_e=0), r"'reg_e' parameter of OTMapping must be a float in the range \(0\.0, inf\)\. Got 0"),
    (lambda: OTMapping(reg_cl=-1.0),
     r"'reg_cl' parameter of OTMapping must be a float in the range \[0\.0, inf\)\. Got -1\.0"),
    (lambda: OTMapping(n_iter=0), r"'n_iter' parameter of OTMapping must be an int in the range \[1, inf\)\. Got 0"),
    (lambda: OTMapping(max_memory=0),
     r"'max_memory' parameter of OTMapping must be a float in the range \(0\.0, inf\)\. Got 0"),
    (lambda: JDOT(alpha=-1.0), r"'alpha' parameter of JDOT must be a float in the range \[0\.0, inf\)\. Got -1\.0"),
    (lambda: JDOT(reg="gcv"),
     r"'reg' parameter of JDOT must be a float in the range \(0\.0, inf\) or a str among {'auto'}\. Got 'gcv'"),
    (lambda: JDOT(n_iter=1.5), r"'n_iter' parameter of JDOT must be an int in the range \[1, inf\)\. Got 1\.5"),
    (lambda: JDOT(kernel="poly"), r"'kernel' parameter of JDOT must be a str among \{.*'rbf'.*\}\. Got 'poly'"),
    (lambda: JDOT(kernel="rbf", gamma=0.0),
     r"'gamma' parameter of JDOT must be a float in the range \(0\.0, inf\) or None\. Got 0\.0"),
])
def test_bad_parameters_say_what_was_expected(make, message):
    X, y, sd, _ = shifted()
    with pytest.raises(ValueError, match=message):
        make().fit(X, y, sample_domain=sd)


def test_an_outlier_that_underflows_the_kernel_is_solved_on_shifted_costs(caplog):
    X, y, sd, _ = shifted()
    X = X.copy()
    X[0] = 1e4  # its costs are ~1e8 times the median: exp(-M / 0.1) is 0 on its whole row
    with caplog.at_level(logging.WARNING, logger="featx.adapt._ot"):
        Z = OTMapping().fit_transform(X, y, sample_domain=sd)
    assert np.isfinite(Z).all() and "costs shifted to a zero in every row and column" in caplog.text


def test_shifted_costs_give_the_same_plan_and_a_kernel_without_empty_rows():
    import ot

    rng = np.random.default_rng(0)
    M = rng.random((30, 40)) * 3 + rng.random((30, 1)) * 50 + rng.random((1, 40)) * 20
    S = shifted_cost(M)
    assert (S >= 0).all() and (S.min(axis=1) == 0).all() and (S.min(axis=0) == 0).all()
    a, b = np.full(30, 1 / 30), np.full(40, 1 / 40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(ot.sinkhorn(a, b, S, 1.0, method="sinkhorn_log"),
                                   ot.sinkhorn(a, b, M, 1.0, method="sinkhorn_log"), atol=1e-12)
        raw = ot.sinkhorn(a, b, M, 0.05)
        assert not np.isfinite(raw).all() or (raw.sum(axis=1) == 0).any()  # what the shift prevents
        assert np.isfinite(ot.sinkhorn(a, b, S, 0.05)).all()


def test_the_fallback_rounds_solve_pots_problem_and_keep_the_class_term(caplog):
    """Where POT's kernel is finite, the fallback's rounds give POT's plan; where it underflows
    (a small reg_e with a strong class term), the fallback still groups classes."""
    import ot

    # private: the fallback solver against POT's, tested as such
    from featx.adapt._ot import _group_lasso_mm, normalised_cost

    # a 40 x 45 draw: the log-domain Sinkhorn takes 2.5 s on it to converge, 9 s on 80 x 90
    X, y, sd, _ = shifted(n_source=40, n_target=45, shift=3.0)
    Xs, ys, Xt = X[sd > 0], y[sd > 0], X[sd < 0]
    M = normalised_cost(Xs, Xt)
    a, b = np.full(len(Xs), 1 / len(Xs)), np.full(len(Xt), 1 / len(Xt))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # inner problems solved to convergence: cut at POT's 200 iterations the two paths stop at
        # different iterates (2e-4 apart on an 80 x 90 draw), not at different solutions
        pot = ot.da.sinkhorn_lpl1_mm(a, ys, b, M, 0.5, eta=1.0, numItermax=10, numInnerItermax=5000)
        for method in ("sinkhorn", "sinkhorn_log"):
            np.testing.assert_allclose(_group_lasso_mm(ot, a, ys, b, M, 0.5, 1.0, 10, n_inner=5000, method=method),
                                       pot, atol=1e-9)
    X, y, sd, _ = shifted(shift=3.0)
    Xs, ys, Xt = X[sd > 0], y[sd > 0], X[sd < 0]
    with caplog.at_level(logging.WARNING, logger="featx.adapt._ot"):
        plan = class_regularised_plan(Xs, ys, Xt, 0.01, 10.0)
    assert "plus up to 158 from the class term" in caplog.text and np.isfinite(plan).all()
    plain = _purity(class_regularised_plan(Xs, None, Xt, 0.01, 0.0), ys)
    assert _purity(plan, ys) > 0.9 and _purity(plan, ys) >= plain
