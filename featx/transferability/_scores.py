"""Transferability scores: how well frozen features (and labels) predict a head's accuracy.

Each score is a pure function of features ``X`` (n, d) and integer labels ``y`` (n,), or of
a source model's class probabilities; higher means "expected to transfer better". numpy,
scipy and scikit-learn only.
"""

from __future__ import annotations

import numpy as np


def _check_xy(X, y, what="X"):
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"expected {what} of shape (n, d) and y of shape (n,); got {X.shape} and {y.shape}.")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{what} holds NaN or infinite values.")
    classes, y = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"a transferability score needs at least 2 classes; got {len(classes)}.")
    return X, y, len(classes)


def _logme_one(s2, z, y_norm2, n, d, tol=1e-3, max_iter=100):
    """Evidence per sample of one target column (see :func:`logme`), with ``s2`` the squared
    singular values of X and ``z = U^T y``."""
    alpha, beta = 1.0, 1.0
    for _ in range(max_iter):
        gamma = np.sum(beta * s2 / (alpha + beta * s2))
        m2 = np.sum((beta * np.sqrt(s2) * z / (alpha + beta * s2)) ** 2)
        res2 = np.sum((alpha * z / (alpha + beta * s2)) ** 2) + max(y_norm2 - np.sum(z ** 2), 0.0)
        new_alpha, new_beta = gamma / max(m2, 1e-12), (n - gamma) / max(res2, 1e-12)
        done = abs(new_alpha - alpha) / alpha < tol and abs(new_beta - beta) / beta < tol
        alpha, beta = new_alpha, new_beta
        if done:
            break
    m2 = np.sum((beta * np.sqrt(s2) * z / (alpha + beta * s2)) ** 2)
    res2 = np.sum((alpha * z / (alpha + beta * s2)) ** 2) + max(y_norm2 - np.sum(z ** 2), 0.0)
    log_det = np.sum(np.log(alpha + beta * s2)) + (d - len(s2)) * np.log(alpha)
    evidence = (n * np.log(beta) + d * np.log(alpha) - n * np.log(2 * np.pi) - beta * res2 - alpha * m2
                - log_det) / 2
    return evidence / n


def logme(X, y) -> float:
    """LogME: the maximum log evidence of a Bayesian linear model from features to one-hot labels.

    For each class :math:`c`, with :math:`t = 1[y = c]`, a Gaussian prior
    :math:`w \\sim N(0, \\alpha^{-1} I)` and noise :math:`t | X w \\sim N(Xw, \\beta^{-1} I)`,

    .. math::

        \\mathcal L(\\alpha, \\beta) = \\tfrac n2 \\log\\beta + \\tfrac d2 \\log\\alpha
        - \\tfrac n2 \\log 2\\pi - \\tfrac\\beta2 \\lVert Xm - t\\rVert^2 - \\tfrac\\alpha2 \\lVert m\\rVert^2
        - \\tfrac12 \\log\\lvert \\alpha I + \\beta X^\\top X\\rvert,
        \\quad m = \\beta (\\alpha I + \\beta X^\\top X)^{-1} X^\\top t,

    maximised over :math:`\\alpha, \\beta` by MacKay's fixed point
    (:math:`\\gamma = \\sum_i \\beta\\sigma_i / (\\alpha + \\beta\\sigma_i)`,
    :math:`\\alpha = \\gamma / \\lVert m\\rVert^2`, :math:`\\beta = (n - \\gamma) / \\lVert Xm - t\\rVert^2`)
    in the SVD basis of :math:`X`; the score is :math:`\\mathcal L / n` averaged over classes
    (You et al., "LogME: Practical Assessment of Pre-trained Models for Transfer Learning",
    ICML 2021).
    """
    X, y, k = _check_xy(X, y)
    n, d = X.shape
    u, s, _ = np.linalg.svd(X, full_matrices=False)
    s2 = s ** 2
    keep = s2 > s2.max() * 1e-12 if len(s2) else s2 > 0
    u, s2 = u[:, keep], s2[keep]
    out = []
    for c in range(k):
        t = (y == c).astype(np.float64)
        out.append(_logme_one(s2, u.T @ t, float(t @ t), n, d))
    return float(np.mean(out))


def leep(probs, y) -> float:
    """LEEP: log expected empirical prediction of a source classifier's outputs.

    With :math:`\\theta(x_i)` the source model's probabilities over its classes :math:`z`,
    :math:`\\hat P(y, z) = \\frac1n \\sum_{i: y_i = y} \\theta_z(x_i)` and
    :math:`\\hat P(y | z) = \\hat P(y, z) / \\hat P(z)`,

    .. math::

        T = \\frac1n \\sum_i \\log \\sum_z \\hat P(y_i | z)\\, \\theta_z(x_i)

    (Nguyen et al., "LEEP: A New Measure to Evaluate Transferability of Learned
    Representations", ICML 2020). At most 0; higher transfers better.
    """
    P, y, k = _check_xy(probs, y, "probs")
    if np.any(P < 0) or not np.allclose(P.sum(1), 1.0, atol=1e-4):
        raise ValueError("probs must be rows of class probabilities (non-negative, summing to 1).")
    n = len(y)
    joint = np.zeros((k, P.shape[1]))
    np.add.at(joint, y, P)
    joint /= n
    cond = joint / np.maximum(joint.sum(0, keepdims=True), 1e-300)  # P(y | z)
    eep = np.einsum("iz,iz->i", P, cond[y])
    return float(np.mean(np.log(np.maximum(eep, 1e-300))))


def nce(source_labels, y) -> float:
    """NCE: negative conditional entropy of the target labels given the source model's labels.

    .. math::

        \\mathrm{NCE} = -H(Y \\mid Z) = \\sum_{y, z} \\hat P(y, z) \\log \\hat P(y \\mid z)

    with :math:`z_i` the source model's predicted class of :math:`x_i` (Tran et al.,
    "Transferability and Hardness of Supervised Classification Tasks", ICCV 2019).
    At most 0.
    """
    z = np.asarray(source_labels)
    y = np.asarray(y)
    if z.shape != y.shape or z.ndim != 1:
        raise ValueError(f"expected source_labels and y of the same shape (n,); got {z.shape} and {y.shape}.")
    _, zi = np.unique(z, return_inverse=True)
    _, yi = np.unique(y, return_inverse=True)
    joint = np.zeros((yi.max() + 1, zi.max() + 1))
    np.add.at(joint, (yi, zi), 1.0)
    joint /= len(y)
    pz = joint.sum(0, keepdims=True)
    nz = joint > 0
    return float(np.sum(joint[nz] * np.log((joint / pz)[nz])))


def nleep(X, y, *, component_ratio: int = 5, variance: float = 0.8, covariance_type: str = "diag",
          random_state=0) -> float:
    """NLEEP: LEEP with a Gaussian mixture's soft assignments in place of a source classifier.

    The features are reduced by PCA to the components holding ``variance`` of the variance,
    a Gaussian mixture of ``component_ratio`` x (number of classes) components is fitted to
    them, and its posteriors :math:`\\pi(x_i)` are scored by :func:`leep` (Li et al.,
    "Ranking Neural Checkpoints", CVPR 2021). The mixture is capped at ``n // 2`` components;
    ``covariance_type="diag"`` (the paper's is full) keeps it to seconds on wide features.
    """
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    X, y, k = _check_xy(X, y)
    Z = PCA(n_components=variance, svd_solver="full", random_state=random_state).fit_transform(X)
    n_comp = max(2, min(component_ratio * k, len(X) // 2))
    gmm = GaussianMixture(n_comp, covariance_type=covariance_type, reg_covar=1e-4, random_state=random_state)
    return leep(gmm.fit(Z).predict_proba(Z), y)


def h_score(X, y, *, shrinkage: str | float | None = "ledoit-wolf") -> float:
    """H-score: how much of the features' variance the class means explain.

    .. math::

        H(f) = \\operatorname{tr}\\big(\\Sigma_f^{-1}\\, \\Sigma_{E[f|y]}\\big)

    with :math:`\\Sigma_f` the features' covariance and :math:`\\Sigma_{E[f|y]}` the covariance
    of each row's class mean (Bao et al., "An Information-Theoretic Approach to
    Transferability in Task Transfer Learning", ICIP 2019). ``shrinkage`` regularises
    :math:`\\Sigma_f`: Ledoit-Wolf's (default, as Ibrahim et al., "Newer is not always better",
    ICLR 2023, recommend: the plain inverse is unstable when d approaches n), a fixed
    coefficient in [0, 1], or ``None`` for the pseudo-inverse of the paper.
    """
    from sklearn.covariance import ledoit_wolf

    X, y, k = _check_xy(X, y)
    Xc = X - X.mean(0)
    if shrinkage is None:
        inv = np.linalg.pinv(np.cov(Xc, rowvar=False, bias=True), hermitian=True)
    else:
        if shrinkage == "ledoit-wolf":
            cov = ledoit_wolf(Xc, assume_centered=True)[0]
        elif isinstance(shrinkage, (int, float)) and 0 <= shrinkage <= 1:
            emp = np.cov(Xc, rowvar=False, bias=True)
            cov = (1 - shrinkage) * emp + shrinkage * np.trace(emp) / emp.shape[0] * np.eye(emp.shape[0])
        else:
            raise ValueError(f"shrinkage must be 'ledoit-wolf', a number in [0, 1] or None; got {shrinkage!r}.")
        inv = np.linalg.pinv(cov, hermitian=True)
    means = np.zeros((k, X.shape[1]))
    np.add.at(means, y, Xc)
    means /= np.bincount(y, minlength=k)[:, None]
    g = means[y]
    cov_g = g.T @ g / len(g)
    return float(np.trace(inv @ cov_g))


def gbc(X, y, *, n_components: int = 64, random_state=0) -> float:
    """GBC: Gaussian Bhattacharyya coefficient, the (negative) overlap of the classes.

    After PCA to ``n_components`` dimensions, each class is a Gaussian with diagonal
    covariance; for every pair,

    .. math::

        D_B = \\tfrac18 (\\mu_i - \\mu_j)^\\top \\Sigma^{-1} (\\mu_i - \\mu_j)
        + \\tfrac12 \\log \\frac{\\lvert\\Sigma\\rvert}{\\sqrt{\\lvert\\Sigma_i\\rvert \\lvert\\Sigma_j\\rvert}},
        \\quad \\Sigma = \\tfrac{\\Sigma_i + \\Sigma_j}2,
        \\qquad \\mathrm{GBC} = -\\sum_{i \\ne j} e^{-D_B(i, j)}

    (Pandy et al., "Transferability Estimation using Bhattacharyya Class Separability",
    CVPR 2022). At most 0: 0 when the classes do not overlap.
    """
    from sklearn.decomposition import PCA

    X, y, k = _check_xy(X, y)
    q = min(n_components, X.shape[1], len(X) - 1)
    Z = PCA(n_components=q, random_state=random_state).fit_transform(X) if q < X.shape[1] else X
    mu = np.stack([Z[y == c].mean(0) for c in range(k)])
    var = np.stack([Z[y == c].var(0) for c in range(k)]) + 1e-6 * Z.var(0).mean() + 1e-12
    total = 0.0
    for i in range(k):
        for j in range(i + 1, k):
            v = (var[i] + var[j]) / 2
            db = np.sum((mu[i] - mu[j]) ** 2 / v) / 8 + 0.5 * (
                np.sum(np.log(v)) - 0.5 * (np.sum(np.log(var[i])) + np.sum(np.log(var[j]))))
            total += 2 * np.exp(-db)
    return float(-total)


def knn_accuracy(X, y, *, n_neighbors: int = 5) -> float:
    """Leave-one-out accuracy of a k-NN vote on L2-normalised features (cosine neighbours).

    The plain baseline that critical studies of transferability scores find hard to beat
    (Agostinelli et al., "How stable are transferability metrics evaluations?", ECCV 2022).
    Ties go to the nearest neighbour's class.
    """
    X, y, k = _check_xy(X, y)
    Xn = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    kk = min(n_neighbors, len(X) - 1)
    correct = 0
    for start in range(0, len(X), 1024):
        sims = Xn[start:start + 1024] @ Xn.T
        rows = np.arange(sims.shape[0])
        sims[rows, start + rows] = -np.inf  # leave each row out of its own vote
        nn = np.argsort(-sims, axis=1)[:, :kk]
        votes = np.zeros((len(nn), k))
        np.add.at(votes, (np.repeat(rows, kk), y[nn].ravel()), 1.0)
        votes[rows, y[nn[:, 0]]] += 0.5  # ties: the nearest neighbour's class
        correct += int(np.sum(votes.argmax(1) == y[start:start + len(nn)]))
    return correct / len(X)
