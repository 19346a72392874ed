"""Subspace alignment (Fernando et al., 2013)."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin

from featx.adapt._base import BaseAdapter


def pca_basis(X: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and the top ``n_components`` principal directions (d, k) of ``X``, signs fixed
    so each direction's largest-magnitude entry is positive."""
    mean = X.mean(axis=0)
    _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
    basis = vt[:n_components].T
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
