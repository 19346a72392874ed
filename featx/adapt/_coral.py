"""CORAL: correlation alignment (Sun, Feng & Saenko, 2016)."""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
from sklearn.base import OneToOneFeatureMixin

from featx.adapt._base import BaseAdapter


class CovPower(NamedTuple):
    """``scale * I + basis @ diag(gains) @ basis.T``: a power of a regularised covariance,
    kept in factored form so a ``d x d`` matrix is never needed when ``n < d``."""

    scale: float
    basis: np.ndarray
    gains: np.ndarray

    def apply(self, X: np.ndarray) -> np.ndarray:
        """``X @ matrix`` in O(n d r)."""
        return self.scale * X + ((X @ self.basis) * self.gains) @ self.basis.T

    def dense(self) -> np.ndarray:
        """The ``d x d`` matrix."""
        return self.scale * np.eye(len(self.basis)) + (self.basis * self.gains) @ self.basis.T


def cov_power(X: np.ndarray, reg: float, power: float) -> CovPower:
    """:math:`(\\operatorname{cov}(X) + \\lambda I)^p` in factored form.

    With the eigenpairs :math:`(e_i, v_i)` of the covariance (from ``eigh`` of the
    :math:`d \\times d` covariance when :math:`d \\le n`, else from the :math:`n \\times n`
    Gram matrix of the centred rows, :math:`v_i = X_c^\\top u_i / \\sqrt{(n - 1) e_i}`,
    at most ``n`` of them),

    .. math::

        (\\operatorname{cov}(X) + \\lambda I)^p = \\lambda^p I + \\sum_i \\big((e_i + \\lambda)^p - \\lambda^p\\big) v_i v_i^\\top,

    exact for any ``n`` and ``d``, in :math:`O(\\min(n, d)\\, n d)`. With :math:`\\lambda = 0`
    and :math:`p < 0` the null space is dropped (a pseudo-inverse power).
    """
    n, d = X.shape
    Xc = X - X.mean(axis=0)
    if d <= n:
        e, V = np.linalg.eigh(Xc.T @ Xc / max(n - 1, 1))
    else:  # eigenpairs of the n x n Gram matrix: 8x faster than an SVD at 1000 x 4096
        e, U = np.linalg.eigh(Xc @ Xc.T / max(n - 1, 1))
        keep = e > max(float(e.max(initial=0.0)), np.finfo(np.float64).tiny) * 1e-12
        e, U = e[keep], U[:, keep]
        V = (Xc.T @ U) / np.sqrt(e * max(n - 1, 1))
    e = np.clip(e, 0.0, None)
    total = e + reg
    floor = max(float(total.max(initial=0.0)), 1.0) * d * np.finfo(np.float64).eps
    scale = reg**power if reg > 0 else 0.0
    powered = np.where(total > floor, np.maximum(total, floor) ** power, 0.0)
    return CovPower(float(scale), V, powered - scale)


def coral_maps(Xs: np.ndarray, Xt: np.ndarray, reg: float = 1.0) -> tuple[CovPower, CovPower]:
    """Whitening and re-colouring maps of CORAL.

    .. math::

        C_S = \\operatorname{cov}(X_S) + \\lambda I, \\quad C_T = \\operatorname{cov}(X_T) + \\lambda I,
        \\quad X_S^{*} = X_S \\, C_S^{-1/2} \\, C_T^{1/2}

    so the second-order statistics of the mapped source match the target's (exactly when
    :math:`\\lambda \\to 0`). Target rows are left as they are. Both powers come from
    :func:`cov_power`, so 4096-d features with a thousand rows per domain cost two
    Gram eigendecompositions, not two :math:`4096^3` ones.

    Parameters
    ----------
    Xs, Xt : ndarray of shape (n_source, d), (n_target, d)
    reg : float, default=1.0
        :math:`\\lambda`; the paper adds the identity (1.0).

    Returns
    -------
    whiten : CovPower
        :math:`C_S^{-1/2}`.
    colour : CovPower
        :math:`C_T^{1/2}`.

    References
    ----------
    .. [1] B. Sun, J. Feng, K. Saenko. "Return of Frustratingly Easy Domain Adaptation."
       AAAI 2016.
    """
    return cov_power(Xs, reg, -0.5), cov_power(Xt, reg, 0.5)


class CORAL(OneToOneFeatureMixin, BaseAdapter):
    """Correlation alignment: re-colour source features with the target covariance.

    Parameters
    ----------
    reg : float, default=1.0
        Added to both covariance diagonals (the paper's choice is 1).

    Attributes
    ----------
    whiten_ : CovPower
        :math:`C_S^{-1/2}` in factored form (``whiten_.dense()`` is the matrix).
    colour_ : CovPower
        :math:`C_T^{1/2}` in factored form.
    n_features_in_ : int

    References
    ----------
    .. [1] B. Sun, J. Feng, K. Saenko. "Return of Frustratingly Easy Domain Adaptation."
       AAAI 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from featx.adapt import CORAL
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(50, 3)), 3 * rng.normal(size=(50, 3))])
    >>> sd = np.r_[np.ones(50), -2 * np.ones(50)].astype(int)
    >>> Z = CORAL(reg=1e-6).fit_transform(X, sample_domain=sd)
    >>> bool(np.allclose(np.cov(Z[:50].T), np.cov(X[50:].T), atol=1e-6))
    True
    """

    def __init__(self, reg=1.0):
        self.reg = reg

    def _fit(self, Xs, Xt, ys):
        if not isinstance(self.reg, numbers.Real) or self.reg < 0:
            raise ValueError(f"The 'reg' parameter of CORAL must be a float >= 0. Got {self.reg!r} instead.")
        self.whiten_, self.colour_ = coral_maps(Xs, Xt, float(self.reg))

    def _map(self, X, is_source):
        return self.colour_.apply(self.whiten_.apply(X)) if is_source else X
