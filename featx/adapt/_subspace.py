"""Subspace alignment (Fernando et al., 2013)."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin

from featx.adapt._base import BaseAdapter


def pca_basis(X: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and the top ``n_components`` principal directions (d, k) of ``X``, signs fixed
    so each direction's largest-magnitude entry is positive.

    The directions are the top eigenvectors of the scatter matrix :math:`X_c^\top X_c`
    (or, when :math:`n < d`, :math:`X_c^\top u_i / \sqrt{\lambda_i}` from the Gram matrix
    :math:`X_c X_c^\top`), and only the ``k`` wanted eigenpairs are computed: 6x faster
    than a full SVD at 1,797 x 1280 with k = 30 (0.25 s vs 1.6 s here). Falls back to the SVD when the ``k``-th
    eigenvalue is (numerically) zero, i.e. when ``X`` has rank below ``k``.
    """
    import scipy.linalg

    mean = X.mean(axis=0)
    Xc = X - mean
    n, d = Xc.shape
    m = min(n, d)
    k = min(n_components, m)
    S = Xc.T @ Xc if d <= n else Xc @ Xc.T
    w, U = scipy.linalg.eigh(S, subset_by_index=[m - k, m - 1])
    w, U = w[::-1], U[:, ::-1]
    if w[-1] > max(float(w[0]), np.finfo(np.float64).tiny) * m * np.finfo(np.float64).eps * 1e3:
        basis = U if d <= n else (Xc.T @ U) / np.sqrt(w)
    else:
        basis = np.linalg.svd(Xc, full_matrices=False)[2][:k].T
    signs = np.sign(basis[np.abs(basis).argmax(axis=0), np.arange(basis.shape[1])])
    return mean, basis * np.where(signs == 0, 1.0, signs)


def subspace_size(estimator, Xs, Xt, cap: int) -> int:
    """Validated ``estimator.n_components``: an int in ``[1, min(d, n_s, n_t)]``, or for
    ``None`` ``min(cap, d, n_s - 1, n_t - 1)`` (at least 1)."""
    limit = min(Xs.shape[1], Xs.shape[0], Xt.shape[0])
    k = estimator.n_components
    if k is None:
        return max(1, min(cap, Xs.shape[1], Xs.shape[0] - 1, Xt.shape[0] - 1))
    if not isinstance(k, numbers.Integral) or not 1 <= k <= limit:
        raise ValueError(
            f"The 'n_components' parameter of {type(estimator).__name__} must be an int in [1, {limit}] "
            f"(min of n_features and the rows per domain) or None. Got {k!r} instead."
        )
    return int(k)


def subspace_alignment(Ps: np.ndarray, Pt: np.ndarray) -> np.ndarray:
    """The alignment matrix of subspace alignment.

    .. math::

        M = P_S^\\top P_T = \\arg\\min_M \\lVert P_S M - P_T \\rVert_F

    Source rows are mapped to :math:`(x - \\mu_S) P_S M`, target rows to
    :math:`(x - \\mu_T) P_T`, so both live in the target subspace's coordinates.

    References
    ----------
    .. [1] B. Fernando, A. Habrard, M. Sebban, T. Tuytelaars. "Unsupervised Visual Domain
       Adaptation Using Subspace Alignment." ICCV 2013.
    """
    return Ps.T @ Pt


class SubspaceAlignment(ClassNamePrefixFeaturesOutMixin, BaseAdapter):
    """Align the source PCA subspace onto the target's.

    Parameters
    ----------
    n_components : int, optional
        Subspace dimension; default ``min(n_features, n_source - 1, n_target - 1, 100)``
        (at least 1).

    Attributes
    ----------
    mean_source_, mean_target_ : ndarray of shape (n_features,)
    components_source_, components_target_ : ndarray of shape (n_features, n_components_)
        :math:`P_S` and :math:`P_T`.
    M_ : ndarray of shape (n_components_, n_components_)
        :math:`P_S^\\top P_T`.
    n_components_ : int

    References
    ----------
    .. [1] B. Fernando, A. Habrard, M. Sebban, T. Tuytelaars. "Unsupervised Visual Domain
       Adaptation Using Subspace Alignment." ICCV 2013.
    """

    def __init__(self, n_components=None):
        self.n_components = n_components

    def _fit(self, Xs, Xt, ys):
        k = subspace_size(self, Xs, Xt, cap=100)
        self.mean_source_, self.components_source_ = pca_basis(Xs, k)
        self.mean_target_, self.components_target_ = pca_basis(Xt, k)
        self.M_ = subspace_alignment(self.components_source_, self.components_target_)
        self.n_components_ = int(k)

    @property
    def _n_features_out(self) -> int:
        return self.n_components_

    def _map(self, X, is_source):
        if is_source:
            return (X - self.mean_source_) @ self.components_source_ @ self.M_
        return (X - self.mean_target_) @ self.components_target_
