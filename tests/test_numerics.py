"""Numerical properties every adapter and head keeps on awkward inputs: constant, duplicated and
all-zero columns, rank-deficient domains, n < d and n > d, float32 and float64.

The failure these pin (issue 16): after per-domain z-score, dead CNN channels are exact zeros;
an alignment map used to turn them into rounding noise of ~1e-23 whose values depend on the BLAS
kernel, and a head's StandardScaler blew that noise up to unit variance (NaN in float32 on
AVX-512, a silent accuracy loss elsewhere).
"""

import inspect

import numpy as np
import pytest
from sklearn.base import OneToOneFeatureMixin, clone
from sklearn.preprocessing import StandardScaler

from featx.adapt import BDA, CORAL, GFK, JDA, TCA, DomainStandardScaler, EasyTL, SubspaceAlignment, cov_power, pca_basis
from featx.classify import FlooredStandardScaler
from featx.domains import constant_columns, domain_moments
from featx.methods import list_methods, make_method
from featx.utils.discovery import all_estimators

from .conftest import quick_deep

ADAPTERS = [cls() for _, cls in all_estimators()
            if hasattr(cls, "transform") and "sample_domain" in inspect.signature(cls.fit).parameters]
IDS = [type(a).__name__ for a in ADAPTERS]


def awkward(n_s, n_t, d, dtype, seed=0, rank=None):
    """Two domains with a constant column (7.5), an all-zero column, a duplicated column and,
    with ``rank``, rows spanning only ``rank`` directions; the rest Gaussian and shifted."""
    rng = np.random.default_rng(seed)
    n = n_s + n_t
    if rank is None:
        X = rng.normal(size=(n, d))
    else:
        X = rng.normal(size=(n, rank)) @ rng.normal(size=(rank, d))
    X[n_s:] = 2.0 * X[n_s:] + 1.0
    X[:, 0] = 7.5
    X[:, 1] = 0.0
    X[:, 2] = X[:, 3]
    y = np.r_[np.arange(n_s) % 2, np.full(n_t, -1)]
    sd = np.r_[np.ones(n_s, int), np.full(n_t, -2)]
    return X.astype(dtype), y, sd


SHAPES = [(40, 30, 8, None), (12, 10, 40, None), (30, 25, 12, 4)]  # n > d, n < d, rank-deficient
SHAPE_IDS = ["n>d", "n<d", "rank4"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_s, n_t, d, rank", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("adapter", ADAPTERS, ids=IDS)
def test_adapters_are_finite_and_keep_constant_columns_constant(adapter, n_s, n_t, d, rank, dtype):
    X, y, sd = awkward(n_s, n_t, d, dtype, rank=rank)
    Z = clone(adapter).fit_transform(X, y, sample_domain=sd)
    assert Z.dtype == dtype and np.isfinite(Z).all()
    if isinstance(adapter, OneToOneFeatureMixin):  # columns 0 and 1 are constant in every domain
        for domain in (1, -2):
            rows = Z[sd == domain]
            assert (rows[:, :2] == rows[0, :2]).all(), type(adapter).__name__
        np.testing.assert_array_equal(Z[:, 1], Z[0, 1])


@pytest.mark.parametrize("n_s, n_t, d, rank", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("adapter", [a for a in ADAPTERS if not isinstance(a, OneToOneFeatureMixin)],
                         ids=[n for a, n in zip(ADAPTERS, IDS) if not isinstance(a, OneToOneFeatureMixin)])
def test_projections_ignore_columns_without_variance(adapter, n_s, n_t, d, rank):
    """Appending constant columns (7.5, 0, 1e-3) changes no projection: they carry no
    direction, so they get exact zeros in every basis vector. (TCA, JDA and BDA scale rows to
    unit length first by default, which a constant column does change, so there only the
    all-zero column is appended.)"""
    X, y, sd = awkward(n_s, n_t, d, np.float64, rank=rank)
    X = X[:, 3:]  # no constant or duplicated columns
    constants = [0.0] if "unit_length" in adapter.get_params() else [7.5, 0.0, 1e-3]
    wider = np.c_[X, np.tile(constants, (len(X), 1))]
    k = 3 if rank is None else 2  # the same output width for both inputs
    a = clone(adapter).set_params(n_components=k).fit_transform(X, y, sample_domain=sd)
    b = clone(adapter).set_params(n_components=k).fit_transform(wider, y, sample_domain=sd)
    assert a.shape == b.shape
    np.testing.assert_allclose(np.abs(a), np.abs(b), atol=1e-8)  # eigenvectors are unique up to sign


@pytest.mark.parametrize("adapter", [SubspaceAlignment(6), GFK(6), TCA(6), JDA(6, n_iter=2), BDA(6, n_iter=2)],
                         ids=["SA", "GFK", "TCA", "JDA", "BDA"])
def test_directions_the_data_do_not_span_are_exact_zeros(adapter):
    X, y, sd = awkward(30, 25, 12, np.float64, rank=3)
    Z = clone(adapter).fit_transform(X, y, sample_domain=sd)
    spanned = np.abs(Z).max(axis=0) > 0
    assert 1 <= spanned.sum() < Z.shape[1]
    assert not Z[:, ~spanned].any()  # exactly 0.0, not rounding noise


def test_coral_on_dead_channels_returns_exact_zeros():
    """The demo's case: columns that are exactly 0 in both domains stay exactly 0 after CORAL,
    whatever the BLAS kernel; before the fix they came out as ~1e-23 noise."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 60)) @ rng.normal(size=(60, 60))
    X[:, 40:] = 0.0
    sd = np.r_[np.ones(200, int), np.full(200, -2)]
    X[sd < 0] = X[sd < 0] * 1.7 + 0.3
    X[:, 40:] = 0.0
    Z = DomainStandardScaler().fit_transform(X, sample_domain=sd)
    assert not Z[:, 40:].any()
    for reg in (1.0, 0.1, 0.0):
        out = CORAL(reg=reg).fit_transform(Z, sample_domain=sd)
        assert not out[:, 40:].any(), reg


def test_constant_columns_floor_is_relative_to_the_data():
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=50), 1e-23 * rng.normal(size=50), 3.0 + 1e-17 * rng.normal(size=50),
              1e-3 * rng.normal(size=50)]
    assert constant_columns(X).tolist() == [False, True, True, False]
    assert constant_columns(X * 1e-9).tolist() == [False, True, True, False]  # no absolute epsilon
    assert constant_columns(X * 1e9).tolist() == [False, True, True, False]
    # float32 storage: a constant column that picked up float32 rounding
    f32 = np.c_[rng.normal(size=50), np.float32(0.1) + np.float32(1e-8) * rng.normal(size=50)].astype(np.float32)
    assert constant_columns(f32).tolist() == [False, True]
    mean, scale = domain_moments(X)
    assert scale[1] == scale[2] == 1.0 and scale[3] > 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_floored_scaler_keeps_noise_small_where_standard_scaler_amplifies_it(dtype):
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=(60, 3)), 1e-23 * rng.normal(size=60)].astype(dtype)
    ours = FlooredStandardScaler().fit(X)
    assert ours.scale_[3] == 1.0 and np.abs(ours.transform(X)[:, 3]).max() < 1e-20
    assert ours.transform(X).dtype == dtype
    if dtype == np.float64:  # what the heads used before: the noise becomes a unit-variance feature
        assert np.abs(StandardScaler().fit_transform(X)[:, 3]).max() > 0.5
    np.testing.assert_allclose(ours.transform(X)[:, :3], StandardScaler().fit_transform(X)[:, :3], rtol=1e-5)


def test_cov_power_gives_constant_columns_the_regulariser_only():
    rng = np.random.default_rng(1)
    X = np.c_[rng.normal(size=(30, 4)), np.full(30, 2.0)]
    for n, d in ((30, 5), (3, 5)):
        P = cov_power(X[:n], 0.5, -0.5).dense()
        np.testing.assert_array_equal(P[4, :4], 0.0)
        np.testing.assert_array_equal(P[:4, 4], 0.0)
        assert P[4, 4] == 0.5**-0.5


def test_pca_basis_is_zero_on_constant_columns():
    X, _, _ = awkward(40, 0, 8, np.float64)
    _, P = pca_basis(X, 5)
    assert not P[:2].any()


@pytest.mark.parametrize("method", [m for m in list_methods("alignment")])
def test_every_registry_model_on_dead_channels_is_finite(method):
    """Every alignment's default model (per-domain z-score + the tuned head) fits and predicts on
    float32 features with dead channels in both domains and more in one."""
    rng = np.random.default_rng(2)
    y = np.r_[np.arange(60) % 3, np.arange(50) % 3]
    X = (rng.normal(size=(110, 40)) + 2.0 * np.eye(40)[y]).clip(0, None).astype(np.float32)
    X[:, 30:] = 0.0
    X[60:, 25:30] = 0.0  # dead in the target only
    sd = np.r_[np.ones(60, int), np.full(50, -2)]
    model = quick_deep(make_method(method)).fit(X, np.where(sd < 0, -1, y), sample_domain=sd)
    pred = model.predict(X[sd < 0])
    assert pred.shape == (50,) and set(pred) <= {0, 1, 2}


def test_easytl_on_awkward_columns():
    X, y, sd = awkward(40, 30, 8, np.float32)
    pred = EasyTL().fit(X, y, sample_domain=sd).predict(X[sd < 0])
    assert pred.shape == (30,)
