"""Where a spectrum ends: the eigen-directions of a data matrix that carry variance, and the
columns that carry any (shared by every adapter, so none of them turns rounding noise into data)."""

from __future__ import annotations

import numpy as np

from featx.domains import constant_columns


def varying_columns(X: np.ndarray) -> np.ndarray:
    """Columns of ``X`` that are not constant (:func:`featx.domains.constant_columns`).

    Adapters solve their eigenproblems on these columns only and give the others exact
    zeros in every basis vector, so a column without variance in the fitted data cannot
    receive the rounding noise of the others.
    """
    return ~constant_columns(X)


def carries_variance(eigenvalues: np.ndarray, size: int) -> np.ndarray:
    """Eigenvalues of a symmetric positive semi-definite matrix of order ``size`` that are
    not rounding noise.

    .. math::

        e_i > 100 \\, m \\, \\varepsilon \\, \\max_k e_k

    A symmetric eigensolver is accurate to about :math:`m \\varepsilon \\max_k e_k` in
    every eigenvalue (:math:`\\varepsilon` of float64), so anything below a hundred times
    that is a direction the data do not span; adapters drop those directions (exact zeros)
    instead of dividing by them.
    """
    e = np.asarray(eigenvalues, dtype=np.float64)
    top = float(np.max(e, initial=0.0))
    return e > max(100 * size * np.finfo(np.float64).eps * top, np.finfo(np.float64).tiny)


def embed_rows(basis: np.ndarray, rows: np.ndarray, n_rows: int) -> np.ndarray:
    """``basis`` (one row per ``True`` in ``rows``) padded with zero rows to ``n_rows``."""
    out = np.zeros((n_rows, basis.shape[1]), dtype=basis.dtype)
    out[rows] = basis
    return out
