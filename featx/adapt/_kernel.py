"""Kernel feature maps with a memory budget: linear (primal) or RBF through Nystrom landmarks."""

from __future__ import annotations

import logging

import numpy as np
from sklearn.utils import check_random_state

logger = logging.getLogger(__name__)

_BYTES = 8  # float64


def squared_distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """:math:`\\lVert a - b \\rVert^2` for all row pairs, in one (n, m) buffer."""
    K = A @ B.T
    K *= -2.0
    K += (A**2).sum(1)[:, None]
    K += (B**2).sum(1)[None, :]
    return np.maximum(K, 0.0, out=K)


def rbf_kernel(A: np.ndarray, B: np.ndarray, gamma: float) -> np.ndarray:
    """:math:`k(a, b) = \\exp(-\\gamma \\lVert a - b \\rVert^2)` for all row pairs."""
    K = squared_distances(A, B)
    K *= -gamma
    return np.exp(K, out=K)


def scale_gamma(X: np.ndarray) -> float:
    """The RBF width :math:`\\gamma = 1 / (d \\operatorname{Var}(X))` (scikit-learn's
    ``gamma="scale"``), 1 for constant data."""
    var = X.var()
    return 1.0 / (X.shape[1] * var) if var > 0 else 1.0


def feature_map_bytes(n: int, d: int, kernel: str, n_landmarks: int) -> int:
    """Peak bytes of building the feature map and solving the eigenproblem in it.

    Counts the float64 copies of the input (source and target parts, then stacked: 2 n d);
    linear adds three (d, d) matrices; rbf adds the (n, r) cross-kernel, the (n, r) map and
    four (r, r) matrices. No (n, n) matrix is ever formed unless ``r == n``.
    """
    if kernel == "linear":
        return _BYTES * (2 * n * d + 3 * d * d)
    r = n_landmarks
    return _BYTES * (2 * n * d + 2 * n * r + 4 * r * r)


def plan_landmarks(n: int, d: int, n_landmarks, max_memory: float, owner: str) -> int:
    """Number of landmarks for an RBF map: every row (exact kernel) when that fits
    ``max_memory`` and ``n_landmarks`` is None, else ``n_landmarks`` or the most that fit.

    Raises ``ValueError`` when an explicit ``n_landmarks`` does not fit the budget.
    """
    if n_landmarks is not None:  # an int >= 1: the estimator's parameter constraints
        r = min(int(n_landmarks), n)
        need = feature_map_bytes(n, d, "rbf", r)
        if need > max_memory:
            raise ValueError(
                f"{owner} with kernel='rbf', {n} rows and n_landmarks={r} needs about {need / 2**30:.1f} GiB, "
                f"over max_memory={max_memory / 2**30:.1f} GiB; lower n_landmarks or raise max_memory."
            )
        return r
    if feature_map_bytes(n, d, "rbf", n) <= max_memory:
        return n
    # largest r with 2*n*d + 2*n*r + 4*r^2 <= budget (in float64 words)
    budget = max_memory / _BYTES - 2 * n * d
    r = int((-2 * n + np.sqrt(4 * n * n + 16 * max(budget, 0))) / 8)
    if r < 10:
        raise ValueError(
            f"{owner} with kernel='rbf' on {n} rows of {d} features does not fit max_memory="
            f"{max_memory / 2**30:.2f} GiB even with 10 Nystrom landmarks; raise max_memory."
        )
    logger.warning(
        "%s: the exact %d x %d kernel needs about %.1f GiB (max_memory %.1f GiB); using a Nystrom "
        "approximation with %d landmarks", owner, n, n, feature_map_bytes(n, d, "rbf", n) / 2**30,
        max_memory / 2**30, r,
    )
    return r


class FeatureMap:
    """``phi(X)`` with ``phi(X) phi(Y)^T`` equal to (or, with landmarks, approximating) the kernel.

    linear: ``phi(X) = X``. rbf: Nystrom (Williams & Seeger, 2001),
    :math:`\\phi(X) = K(X, L) \\, K(L, L)^{-1/2}` for landmark rows ``L``; with every
    training row as a landmark, :math:`\\phi \\phi^\\top = K` exactly on those rows.
    """

    def __init__(self, X: np.ndarray, kernel: str, gamma, n_landmarks: int, random_state):
        self.kernel = kernel
        if kernel == "linear":
            return
        self.gamma = scale_gamma(X) if gamma is None else float(gamma)
        rng = check_random_state(random_state)
        idx = np.arange(len(X)) if n_landmarks >= len(X) else np.sort(rng.choice(len(X), n_landmarks, replace=False))
        self.landmarks = X[idx]
        w, V = np.linalg.eigh(rbf_kernel(self.landmarks, self.landmarks, self.gamma))
        keep = w > w.max() * 1e-10
        self.normaliser = V[:, keep] / np.sqrt(w[keep])

    def __call__(self, X: np.ndarray) -> np.ndarray:
        if self.kernel == "linear":
            return X
        return rbf_kernel(X, self.landmarks, self.gamma) @ self.normaliser
