"""MEDA: manifold embedded distribution alignment (Wang et al., ACM MM 2018)."""

from __future__ import annotations

import numbers

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from featx.domains import check_labelled_source
from featx.adapt._gfk import geodesic_flow_factor
from featx.adapt._kernel import rbf_kernel, squared_distances
from featx.adapt._subspace import pca_basis, subspace_size
from featx.adapt._tca import mmd_vectors
from featx.domains import MASKED_LABEL, unit_rows


def cosine_knn_laplacian(Z: np.ndarray, n_neighbors: int) -> sparse.csr_matrix:
    """Normalised graph Laplacian :math:`L = I - D^{-1/2} W D^{-1/2}` of the cosine k-NN graph.

    :math:`W_{ij} = \\cos(z_i, z_j)` when :math:`z_j` is among the ``n_neighbors + 1`` rows most
    similar to :math:`z_i` (itself included, as the reference code's ``lapgraph``), symmetrised
    by the larger of :math:`W_{ij}, W_{ji}`; :math:`D` holds the row sums of :math:`W`.
    :math:`\\operatorname{tr}(F^\\top L F)` is small when rows that are near on the manifold get
    similar predictions :math:`F`.

    References
    ----------
    .. [1] J. Wang, W. Feng, Y. Chen, H. Yu, M. Huang, P. S. Yu. "Visual Domain Adaptation with
       Manifold Embedded Distribution Alignment." ACM Multimedia 2018.
    """
    U = unit_rows(np.asarray(Z, dtype=np.float64))
    n = len(U)
    k = min(int(n_neighbors) + 1, n)
    S = U @ U.T
    nearest = np.argpartition(-S, k - 1, axis=1)[:, :k]
    rows = np.repeat(np.arange(n), k)
    W = sparse.csr_matrix((S[rows, nearest.ravel()], (rows, nearest.ravel())), shape=(n, n))
    W = W.maximum(W.T)
    degree = np.asarray(W.sum(axis=1)).ravel()
    scale = sparse.diags(1.0 / np.sqrt(np.maximum(degree, np.finfo(float).tiny)))
    return (sparse.identity(n, format="csr") - scale @ W @ scale).tocsr()


def linear_a_distance(Xa: np.ndarray, Xb: np.ndarray, random_state=0) -> float:
    """Proxy A-distance :math:`2 (1 - 2 \\epsilon)` with :math:`\\epsilon` the training error of
    a linear SVM (liblinear, C = 1) told ``Xa`` from ``Xb``: MEDA's (and its reference code's)
    measure of how far apart two sets are; 0 when either set is empty.

    References
    ----------
    .. [1] S. Ben-David, J. Blitzer, K. Crammer, F. Pereira. "Analysis of Representations for
       Domain Adaptation." NeurIPS 2006.
    """
    from sklearn.svm import LinearSVC

    if not len(Xa) or not len(Xb):
        return 0.0
    X = np.vstack([Xa, Xb])
    d = np.r_[np.zeros(len(Xa)), np.ones(len(Xb))]
    error = np.mean(LinearSVC(C=1.0, random_state=random_state).fit(X, d).predict(X) != d)
    return float(2.0 * (1.0 - 2.0 * error))


def adaptive_balance(Zs, ys, Zt, yt, random_state=0) -> float:
    """MEDA's dynamic distribution alignment: the weight of the conditional terms,

    .. math::

        \\mu = \\frac{\\bar d_c}{\\bar d_c + d_m}

    with :math:`d_m` the A-distance between the domains and :math:`\\bar d_c` the mean over
    classes of the A-distance between the source rows of class ``c`` and the target rows
    pseudo-labelled ``c`` (:func:`linear_a_distance`); clipped to [0, 1], below 1e-3 it is 0.
    """
    marginal = linear_a_distance(Zs, Zt, random_state)
    per_class = [linear_a_distance(Zs[ys == c], Zt[yt == c], random_state) for c in np.unique(ys)]
    conditional = float(np.mean(per_class))
    total = conditional + marginal
    mu = conditional / total if total > 0 else 0.0
    return 0.0 if mu < 1e-3 else min(mu, 1.0)


def meda_coefficients(K, Y, M_vectors, M_weights, L, n_source, lam, rho, eta) -> np.ndarray:
    """The structural-risk minimiser of MEDA in the kernel's span, :math:`f = K \\beta`:

    .. math::

        \\beta = \\big((E + \\lambda M + \\rho L) K + \\eta I\\big)^{-1} E Y

    where :math:`E` is diagonal with 1 on the labelled source rows, :math:`Y` their one-hot
    labels (zero rows for the target), :math:`M = \\sum_a w_a e_a e_a^\\top / \\lVert\\cdot\\rVert_F`
    the (marginal and class-conditional) MMD matrix from its rank-one factors, and :math:`L`
    the manifold Laplacian: squared loss on the source, :math:`\\eta`-regularised, with the
    aligned distributions and the manifold smoothness as penalties (Eq. 9 of the paper); no
    factors: no MMD term.
    :math:`M K` is built from the factors (:math:`O(n^2 a)`), never as an :math:`n \\times n`
    product of dense matrices.
    """
    n = len(K)
    A = rho * np.asarray(L @ K)
    if len(M_vectors):
        V = np.stack(M_vectors)  # (a, n)
        w = np.asarray(M_weights, dtype=np.float64)
        fro = np.sqrt(max(float(w @ ((V @ V.T) ** 2) @ w), np.finfo(float).tiny))
        A += (V.T * (lam * w / fro)) @ (V @ K)  # lambda M K
    A[:n_source] += K[:n_source]  # E K: the source rows
    A[np.diag_indices(n)] += eta
    B = np.zeros_like(Y, dtype=np.float64)
    B[:n_source] = Y[:n_source]
    return np.linalg.solve(A, B)


class MEDA(ClassifierMixin, BaseEstimator):
    """Manifold embedded distribution alignment: a kernel classifier trained on the GFK
    manifold with adaptively balanced marginal and conditional MMD and a graph Laplacian,
    iterated with target pseudo-labels.

    ``fit`` embeds every row with the geodesic flow kernel of the source and target PCA
    subspaces (:func:`~featx.adapt.geodesic_flow_factor`, no centring, as the reference code),
    scales each row to unit length, builds the RBF kernel (:math:`\\sigma = 1`, the reference's
    choice for unit rows) and the cosine k-NN Laplacian over source and target rows, starts
    from 1-NN pseudo-labels and repeats ``n_iter`` times: estimate :math:`\\mu`
    (:func:`adaptive_balance`), solve :func:`meda_coefficients`, relabel the target. ``predict``
    embeds new rows the same way and evaluates :math:`k(x, X)\\beta`; on the target rows seen in
    ``fit`` it is the transductive labelling.

    Parameters
    ----------
    n_components : int, optional
        GFK subspace dimension ``d``; default ``min(20, n_features, n_source - 1, n_target - 1)``
        (the paper's 20 when the data allow).
    lam : float, default=10.0
        Weight :math:`\\lambda` of the MMD term (the paper's setting for Office-Caltech10).
    rho : float, default=1.0
        Weight :math:`\\rho` of the manifold (Laplacian) term; 0 drops it.
    eta : float, default=0.1
        Ridge :math:`\\eta` on the coefficients.
    n_neighbors : int, default=10
        Neighbours ``p`` of the k-NN graph.
    n_iter : int, default=10
        Pseudo-label rounds ``T``.
    mu : float in [0, 1] or None, default=None
        Conditional weight; ``None`` estimates it every round (dynamic distribution alignment).
    max_memory : float, default=2**31
        Bytes the ``n x n`` kernel, graph and system may use (estimated before allocating).
    random_state : int or None, default=0
        The linear SVMs of the A-distances.

    Attributes
    ----------
    components_ : ndarray of shape (n_features, 2k), k = ``n_components_``
        The factor of the geodesic flow kernel.
    n_components_ : int
    X_fit_ : ndarray of shape (n_fit, 2k)
        Embedded unit-length rows (source then target) the kernel is taken against.
    dual_coef_ : ndarray of shape (n_fit, n_classes)
        :math:`\\beta`.
    mu_ : list of float
        :math:`\\mu` of every round.
    pseudo_labels_ : ndarray
        The target rows' labels after the last round.
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int

    Notes
    -----
    Memory and time are :math:`O(n^2)` and :math:`O(n^3)` per round in the number of rows
    :math:`n`: about 4 dense :math:`n \\times n` arrays; ``fit`` refuses past ``max_memory``
    with the estimate rather than running out of memory.

    References
    ----------
    .. [1] J. Wang, W. Feng, Y. Chen, H. Yu, M. Huang, P. S. Yu. "Visual Domain Adaptation with
       Manifold Embedded Distribution Alignment." ACM Multimedia 2018.
    """

    __metadata_request__fit = {"sample_domain": True}

    _parameter_constraints: dict = {
        "lam": [Interval(numbers.Real, 0, None, closed="left")],
        "rho": [Interval(numbers.Real, 0, None, closed="left")],
        "eta": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "mu": [Interval(numbers.Real, 0, 1, closed="both"), None],
        "max_memory": [Interval(numbers.Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_components=None, *, lam=10.0, rho=1.0, eta=0.1, n_neighbors=10, n_iter=10, mu=None,
                 max_memory=2**31, random_state=0):
        self.n_components = n_components
        self.lam = lam
        self.rho = rho
        self.eta = eta
        self.n_neighbors = n_neighbors
        self.n_iter = n_iter
        self.mu = mu
        self.max_memory = max_memory
        self.random_state = random_state

    def fit(self, X, y, *, sample_domain=None):
        """Embed, align and train on the labelled source and the unlabelled target rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels; ``-1`` for unlabelled target rows.
        sample_domain : array-like of shape (n_samples,), optional
            Source ``>= 0``, target ``< 0``; inferred from ``y == -1`` when absent.

        Returns
        -------
        self
        """
        self._validate_params()
        X, y, sd, keep = check_labelled_source(self, X, y, sample_domain)
        Xs, ys = np.asarray(X[keep], np.float64), y[keep]
        Xt = np.asarray(X[sd < 0], np.float64)
        n = len(Xs) + len(Xt)
        need = 4 * n * n * 8
        if need > self.max_memory:
            raise ValueError(f"MEDA on {n} rows needs about {need / 2**30:.1f} GiB for its {n} x {n} kernel, graph "
                             f"and system, more than max_memory={self.max_memory / 2**30:.1f} GiB; pass fewer rows "
                             "or a larger max_memory.")
        self.classes_, codes = np.unique(ys, return_inverse=True)
        k = subspace_size(self, Xs, Xt if len(Xt) >= 2 else Xs, cap=20)
        Ps = pca_basis(Xs, k)[1]
        Pt = pca_basis(Xt, k)[1] if len(Xt) >= 2 else Ps  # no target subspace: the source's (no alignment)
        self.components_, self.n_components_ = geodesic_flow_factor(Ps, Pt), int(k)
        Zs, Zt = Xs @ self.components_, Xt @ self.components_
        Z = unit_rows(np.vstack([Zs, Zt]))
        K = rbf_kernel(Z, Z, 0.5)  # sigma = 1 on unit rows, as the reference code
        L = cosine_knn_laplacian(Z, self.n_neighbors) if self.rho > 0 else sparse.csr_matrix((n, n))
        Y = np.zeros((n, len(self.classes_)))
        Y[np.arange(len(ys)), codes] = 1.0
        is_source = np.r_[np.ones(len(ys), bool), np.zeros(len(Xt), bool)]
        pseudo = codes[np.argmin(squared_distances(Z[len(ys):], Z[: len(ys)]), axis=1)]  # 1-NN start
        self.mu_ = []
        for _ in range(self.n_iter if len(Xt) else 1):  # without target rows: no MMD, one solve
            vectors, weights = [], []
            if len(Xt):
                mu = adaptive_balance(Zs, codes, Zt, pseudo, self.random_state) if self.mu is None else float(self.mu)
                labels = np.r_[codes, np.full(len(Xt), MASKED_LABEL)]
                vectors = mmd_vectors(is_source, labels, np.r_[np.full(len(ys), MASKED_LABEL), pseudo])
                weights = [(1 - mu) * len(self.classes_)] + [mu] * (len(vectors) - 1)
                self.mu_.append(mu)
            beta = meda_coefficients(K, Y, vectors, weights, L, len(ys), self.lam, self.rho, self.eta)
            pseudo = np.argmax(K[len(ys):] @ beta, axis=1)
        self.X_fit_, self.dual_coef_ = Z, beta
        self.pseudo_labels_ = self.classes_[pseudo]
        return self

    def _scores(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        Z = unit_rows(np.asarray(X, np.float64) @ self.components_)
        return rbf_kernel(Z, self.X_fit_, 0.5) @ self.dual_coef_

    def decision_function(self, X) -> np.ndarray:
        """:math:`k(x, X_{fit}) \\beta`: shape (n_samples, n_classes), or (n_samples,) with two
        classes (the second class's score minus the first's, scikit-learn's convention)."""
        scores = self._scores(X)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def predict(self, X) -> np.ndarray:
        """Labels of the rows (as target rows)."""
        scores = self._scores(X)
        return self.classes_[np.argmax(scores, axis=1)]
