"""CORAL: correlation alignment (Sun, Feng & Saenko, 2016)."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import OneToOneFeatureMixin

from featx.adapt._base import BaseAdapter


def _sym_power(C: np.ndarray, power: float) -> np.ndarray:
    """``C ** power`` for a symmetric positive definite matrix, by eigendecomposition."""
    w, V = np.linalg.eigh(C)
    w = np.clip(w, np.finfo(np.float64).tiny, None)
    return (V * w**power) @ V.T


def coral_maps(Xs: np.ndarray, Xt: np.ndarray, reg: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Whitening and re-colouring matrices of CORAL.

    .. math::

        C_S = \\operatorname{cov}(X_S) + \\lambda I, \\quad C_T = \\operatorname{cov}(X_T) + \\lambda I,
        \\quad X_S^{*} = X_S \\, C_S^{-1/2} \\, C_T^{1/2}

    so the second-order statistics of the mapped source match the target's (exactly when
    :math:`\\lambda \\to 0`). Target rows are left as they are.

    Parameters
    ----------
    Xs, Xt : ndarray of shape (n_source, d), (n_target, d)
    reg : float, default=1.0
        :math:`\\lambda`; the paper adds the identity (1.0).

    Returns
    -------
    whiten : ndarray (d, d)
        :math:`C_S^{-1/2}`.
    colour : ndarray (d, d)
        :math:`C_T^{1/2}`.

    References
    ----------
    .. [1] B. Sun, J. Feng, K. Saenko. "Return of Frustratingly Easy Domain Adaptation."
       AAAI 2016.
    """
    d = Xs.shape[1]
    cs = np.atleast_2d(np.cov(Xs, rowvar=False)) + reg * np.eye(d)
    ct = np.atleast_2d(np.cov(Xt, rowvar=False)) + reg * np.eye(d)
    return _sym_power(cs, -0.5), _sym_power(ct, 0.5)


class CORAL(OneToOneFeatureMixin, BaseAdapter):
    """Correlation alignment: re-colour source features with the target covariance.

    Parameters
    ----------
    reg : float, default=1.0
        Added to both covariance diagonals (the paper's choice is 1).

    Attributes
    ----------
    whiten_ : ndarray of shape (n_features, n_features)
        :math:`C_S^{-1/2}`.
    colour_ : ndarray of shape (n_features, n_features)
        :math:`C_T^{1/2}`.
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
        return X @ self.whiten_ @ self.colour_ if is_source else X
