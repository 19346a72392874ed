"""Every registry model, fitted on source rows and an unlabelled target sample, predicts new target
rows one at a time as it predicts them together: what it learned of the target is stored at fit."""

import numpy as np
import pytest

from featx.adapt import MIN_DOMAIN_ROWS, DomainScaled
from featx.methods import list_methods, make_method
from featx.data import make_shifted_domains

FEATURE_MODELS = [*list_methods("head"), *(m for m in list_methods("alignment") if m != "none")]
DEEP = {"dann", "cdan-e", "mcc"}


def shifted(n=40, d=6, seed=0):
    X, y, sd, y_target = make_shifted_domains(2 * n, n, d, 3, shift=1.0, random_state=seed)
    return X[sd > 0], y[sd > 0], X[sd < 0], y_target


@pytest.mark.parametrize("name", FEATURE_MODELS)
def test_new_target_rows_are_predicted_alike_one_at_a_time_and_together(name):
    Xs, ys, Xt, yt = shifted()
    fit_rows, new = Xt[:30], Xt[30:]  # the target sample seen at fit; new images of the same domain
    model = make_method(name, tune=False)
    if name in DEEP:
        model.set_params(estimator__max_iter=50)
    X = np.vstack([Xs, fit_rows])
    y = np.r_[ys, np.full(len(fit_rows), -1)]
    sd = np.r_[np.ones(len(Xs), int), np.full(len(fit_rows), -2)]
    model.fit(X, y, sample_domain=sd)
    together = model.predict(new)
    alone = np.concatenate([model.predict(row[None]) for row in new])
    np.testing.assert_array_equal(alone, together)
    if hasattr(model, "predict_proba"):
        one = np.vstack([model.predict_proba(row[None]) for row in new])
        np.testing.assert_allclose(one, model.predict_proba(new), rtol=0, atol=1e-6)


def test_a_domain_too_small_for_its_own_moments_is_refused_with_the_counts():
    Xs, ys, Xt, _ = shifted()
    small = Xt[:MIN_DOMAIN_ROWS - 1]
    X, y = np.vstack([Xs, small]), np.r_[ys, np.full(len(small), -1)]
    sd = np.r_[np.ones(len(Xs), int), np.full(len(small), -2)]
    with pytest.raises(ValueError, match=r"needs at least 10 rows in every target domain to estimate its mean and "
                                         r"spread; got \{-2: 9\}"):
        DomainScaled(how="zscore").fit(X, y, sample_domain=sd)
    for how in ("unit", "none"):  # no per-domain moments: any size
        DomainScaled(make_method("logreg", tune=False).estimator, how=how).fit(X, y, sample_domain=sd)
    enough = np.vstack([Xs, Xt[:MIN_DOMAIN_ROWS]])
    DomainScaled(how="zscore").fit(enough, np.r_[ys, np.full(MIN_DOMAIN_ROWS, -1)],
                                   sample_domain=np.r_[np.ones(len(Xs), int), np.full(MIN_DOMAIN_ROWS, -2)])
    few_labelled = np.r_[np.flatnonzero(ys == 0)[:2], np.flatnonzero(ys == 1)[:2], np.flatnonzero(ys == 2)[:1]]
    X, y = np.vstack([Xs[few_labelled], Xt[:20]]), np.r_[ys[few_labelled], np.full(20, -1)]
    sd = np.r_[np.ones(len(few_labelled), int), np.full(20, -2)]
    DomainScaled(how="zscore").fit(X, y, sample_domain=sd)  # a source is the labelled budget: any size
