"""MEDA: the graph Laplacian, the A-distances, the coefficient solve, and the estimator."""

import numpy as np
import pytest
from scipy import sparse

from featx.adapt import MEDA, adaptive_balance, cosine_knn_laplacian, linear_a_distance, meda_coefficients, mmd_vectors
from featx.data import make_shifted_domains


def shifted(n_source=80, n_target=90, seed=0):
    """Three classes in 6-d; the target shifted and partly rotated, each domain z-scored as
    featx does by default."""
    X, y, sd, yt = make_shifted_domains(n_source, n_target, 6, 3, class_sep=2.0, shift=1.5, rotation=0.4,
                                        random_state=seed)
    for rows in (sd > 0, sd < 0):
        X[rows] = (X[rows] - X[rows].mean(0)) / X[rows].std(0)
    return X, y, sd, yt


def test_laplacian_is_symmetric_normalised_and_annihilates_the_degree_root():
    Z = np.random.default_rng(0).normal(size=(60, 5)) + 3.0  # positive cosines
    L = cosine_knn_laplacian(Z, 4)
    assert sparse.issparse(L) and abs(L - L.T).max() < 1e-12
    dense = L.toarray()
    W = np.eye(60) - dense  # D^-1/2 W D^-1/2
    assert (np.count_nonzero(W, axis=1) >= 5).all()  # itself and 4 neighbours at least
    eig = np.linalg.eigvalsh(dense)
    assert eig.min() > -1e-10 and eig.max() < 2 + 1e-10
    U = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    S = U @ U.T
    nearest = np.argsort(-S, axis=1)[:, :5]
    Wk = np.zeros_like(S)
    np.put_along_axis(Wk, nearest, np.take_along_axis(S, nearest, 1), 1)
    Wk = np.maximum(Wk, Wk.T)
    root = np.sqrt(Wk.sum(1))
    np.testing.assert_allclose(dense @ root, 0.0, atol=1e-10)


def test_a_distance_is_two_for_separable_sets_and_small_for_one_set():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(100, 3))
    assert linear_a_distance(a, a + 20.0) == pytest.approx(2.0)
    assert linear_a_distance(a, rng.normal(size=(100, 3))) < 0.6
    assert linear_a_distance(a, a[:0]) == 0.0
    X, y, sd, yt = shifted()
    mu = adaptive_balance(X[sd > 0], y[sd > 0], X[sd < 0], yt)
    assert 0.0 <= mu <= 1.0


def test_coefficients_solve_the_papers_linear_system():
    rng = np.random.default_rng(1)
    n_s, n_t, C = 12, 9, 3
    Z = rng.normal(size=(n_s + n_t, 4))
    K = np.exp(-((Z[:, None] - Z[None]) ** 2).sum(-1) / 2)
    ys, pseudo = np.arange(n_s) % C, np.arange(n_t) % C
    is_source = np.r_[np.ones(n_s, bool), np.zeros(n_t, bool)]
    vectors = mmd_vectors(is_source, np.r_[ys, -np.ones(n_t, int)], np.r_[-np.ones(n_s, int), pseudo])
    weights = [0.4 * C] + [0.6] * (len(vectors) - 1)
    L = cosine_knn_laplacian(Z, 3)
    Y = np.zeros((n_s + n_t, C))
    Y[np.arange(n_s), ys] = 1
    beta = meda_coefficients(K, Y, vectors, weights, L, n_s, 10.0, 1.0, 0.1)
    M = sum(w * np.outer(e, e) for w, e in zip(weights, vectors))
    M /= np.linalg.norm(M)
    E = np.diag(is_source.astype(float))
    A = (E + 10.0 * M + 1.0 * L.toarray()) @ K + 0.1 * np.eye(n_s + n_t)
    np.testing.assert_allclose(A @ beta, E @ Y, atol=1e-10)


def test_meda_adapts_to_a_shifted_target_and_predicts_its_own_transductive_labels():
    from sklearn.neighbors import KNeighborsClassifier

    X, y, sd, yt = shifted()
    model = MEDA().fit(X, y, sample_domain=sd)
    target = X[sd < 0]
    np.testing.assert_array_equal(model.predict(target), model.pseudo_labels_)
    assert len(model.mu_) == 10 and all(0 <= m <= 1 for m in model.mu_)
    baseline = KNeighborsClassifier(1).fit(X[sd > 0], y[sd > 0]).score(target, yt)
    assert np.mean(model.predict(target) == yt) > baseline
    fixed = MEDA(mu=0.5, rho=0.0, n_iter=2).fit(X, y, sample_domain=sd)
    assert fixed.mu_ == [0.5, 0.5]
    assert model.dual_coef_.shape == (len(X), 3) and model.components_.shape == (6, 2 * model.n_components_)


def test_meda_without_target_rows_is_a_manifold_regularised_kernel_classifier():
    X, y, sd, yt = shifted()
    source = sd > 0
    model = MEDA().fit(X[source], y[source])
    assert model.mu_ == [] and model.score(X[source], y[source]) > 0.9


@pytest.mark.parametrize("params, message", [
    ({"lam": -1.0}, r"'lam' parameter of MEDA must be a float in the range \[0\.0, inf\)\. Got -1\.0"),
    ({"eta": 0.0}, r"'eta' parameter of MEDA must be a float in the range \(0\.0, inf\)\. Got 0\.0"),
    ({"n_iter": 0}, r"'n_iter' parameter of MEDA must be an int in the range \[1, inf\)\. Got 0"),
    ({"n_neighbors": 2.5}, r"'n_neighbors' parameter of MEDA must be an int in the range \[1, inf\)\. Got 2\.5"),
    ({"mu": 1.5}, r"'mu' parameter of MEDA must be a float in the range \[0\.0, 1\.0\] or None\. Got 1\.5"),
    ({"max_memory": 1000}, r"MEDA on 170 rows needs about 0.0 GiB for its 170 x 170 kernel"),
])
def test_meda_errors(params, message):
    X, y, sd, _ = shifted()
    with pytest.raises(ValueError, match=message):
        MEDA(**params).fit(X, y, sample_domain=sd)
