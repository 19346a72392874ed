"""JDOT (Courty et al., NeurIPS 2017): exact optimal transport on features and labels alternated
with a classifier of the target, a ridge regression or the reference code's kernel ridge; the
kernel ridge path and its leave-one-out errors are small pure functions here."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from featx.adapt._kernel import rbf_kernel, scale_gamma, squared_distances
from featx.adapt._ot import plan_rows, pot_module, sample_rows
from featx.domains import check_labelled_source

#: JDOT's ``reg="auto"`` candidates (ridge penalties, by GCV on the labelled source)
RIDGE_ALPHAS = tuple(10.0 ** k for k in range(-2, 5))
#: JDOT's classifiers: linear ridge, or kernel ridge with the RBF kernel
JDOT_KERNELS = ("linear", "rbf")
#: network-simplex pivots of one exact plan (POT's default, 1e5, stops short of the optimum
#: past about 1,000 rows a side)
EMD_MAX_ITER = 10_000_000


def ridge_path(K: np.ndarray):
    """The eigendecomposition :math:`K = U \\operatorname{diag}(s) U^\\top` of a kernel matrix
    (negative round-off eigenvalues set to 0), reused for every penalty of
    :func:`kernel_ridge_fit` and :func:`kernel_ridge_loo`."""
    s, U = np.linalg.eigh(K)
    return np.clip(s, 0.0, None), U


def kernel_ridge_fit(path, Y: np.ndarray, reg: float) -> tuple[np.ndarray, np.ndarray]:
    """Kernel ridge regression's dual coefficients :math:`A = (K + \\lambda I)^{-1} Y` and the
    fitted values :math:`K A = U \\operatorname{diag}(s / (s + \\lambda)) U^\\top Y` from
    :func:`ridge_path` (Saunders, Gammerman & Vovk, ICML 1998)."""
    s, U = path
    UtY = U.T @ Y
    return U @ (UtY / (s + reg)[:, None]), U @ (UtY * (s / (s + reg))[:, None])


def kernel_ridge_loo(path, Y: np.ndarray, regs) -> np.ndarray:
    """Leave-one-out mean squared error of kernel ridge regression for every penalty in
    ``regs``, in closed form: with the hat matrix :math:`H = K (K + \\lambda I)^{-1}`,
    :math:`e_i = (y_i - (HY)_i) / (1 - H_{ii})` (the ridge LOO identity; Rifkin & Lippert,
    "Notes on regularized least squares", MIT 2007)."""
    s, U = path
    UtY, U2 = U.T @ Y, U ** 2
    out = []
    for reg in regs:
        shrink = s / (s + reg)
        hat_diag = np.minimum(U2 @ shrink, 1.0 - 1e-12)
        residual = Y - U @ (UtY * shrink[:, None])
        out.append(np.mean((residual / (1.0 - hat_diag)[:, None]) ** 2))
    return np.array(out)


def jdot_plan_cost(C_features, Y_source, scores_target, alpha) -> np.ndarray:
    """JDOT's joint cost :math:`C_{ij} = \\alpha\\, d(x^s_i, x^t_j) + \\lVert y^s_i - f(x^t_j) \\rVert^2`
    (squared loss between the one-hot source label and the classifier's target scores;
    ``C_features`` already normalised)."""
    return alpha * C_features + squared_distances(Y_source, scores_target)


class JDOT(ClassifierMixin, BaseEstimator):
    """Joint distribution optimal transport (Courty et al., NeurIPS 2017), its own classifier.

    Alternates, ``n_iter`` times, an exact transport plan :math:`\\gamma` (POT's ``emd``)
    between the labelled source rows and the target rows under the joint cost
    :func:`jdot_plan_cost`, and a ridge regression :math:`f` from target features to the
    transported one-hot labels :math:`\\hat{Y}^t = n_t \\gamma^\\top Y^s` (the paper's squared
    loss; a linear model, or with ``kernel="rbf"`` kernel ridge regression on the target rows,
    the reference code's ``jdot_krr``). The first plan uses the feature cost alone (:math:`f = 0`),
    as in the reference code. ``predict`` is the arg-max of :math:`f`. Several source
    domains are pooled into one source distribution.

    Parameters
    ----------
    alpha : float, default=1.0
        Weight of the feature distance (divided by its maximum, as in the reference code)
        against the label loss.
    reg : float or "auto", default="auto"
        Ridge penalty of :math:`f`. ``"auto"``: chosen on the labelled source rows by
        generalised cross-validation (``RidgeCV``, :data:`RIDGE_ALPHAS`), or for the RBF
        kernel by closed-form leave-one-out (:func:`kernel_ridge_loo`) on them; no target
        label read.
    kernel : {"linear", "rbf"}, default="linear"
        The classifier: linear ridge, or kernel ridge with
        :math:`k(a, b) = \\exp(-\\gamma \\lVert a - b \\rVert^2)`.
    gamma : float, optional
        The RBF kernel's width; default :math:`1 / (d \\operatorname{Var}(X))` over both
        domains' rows (scikit-learn's ``"scale"``, as featx's kernel methods).
    n_iter : int, default=10
        Plan / classifier rounds.
    max_memory : float, default=2**30
        Bytes the plan may take; past it, a random sample of rows of both domains.
    random_state : int or None, default=0

    Attributes
    ----------
    classes_ : ndarray
    model_ : Ridge or None
        The final linear :math:`f` (``None`` for the RBF kernel).
    dual_coef_, X_fit_ : ndarray or None
        The RBF kernel's :math:`f(x) = k(x, X_\\text{fit}) A` (``None`` for the linear one).
    gamma_ : float or None
        The RBF kernel's width used.
    reg_ : float
        The ridge penalty used.
    plan_rows_ : tuple of int
    n_features_in_ : int

    References
    ----------
    .. [1] N. Courty, R. Flamary, A. Habrard, A. Rakotomamonjy. "Joint distribution optimal
       transportation for domain adaptation." NeurIPS 2017.
    """

    __metadata_request__fit = {"sample_domain": True}

    _parameter_constraints: dict = {
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "reg": [Interval(numbers.Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "kernel": [StrOptions(set(JDOT_KERNELS))],
        "gamma": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "n_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_memory": [Interval(numbers.Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(self, alpha=1.0, reg="auto", *, kernel="linear", gamma=None, n_iter=10, max_memory=2**30,
                 random_state=0):
        self.alpha = alpha
        self.reg = reg
        self.kernel = kernel
        self.gamma = gamma
        self.n_iter = n_iter
        self.max_memory = max_memory
        self.random_state = random_state

    def fit(self, X, y, *, sample_domain=None):
        """Fit the plans and the classifier.

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
        Xs, Xt = np.asarray(X[keep], dtype=np.float64), np.asarray(X[sd < 0], dtype=np.float64)
        self.classes_, codes = np.unique(y[keep], return_inverse=True)
        Ys = np.eye(len(self.classes_))[codes]
        rng = check_random_state(self.random_state)
        m_s, m_t = plan_rows(len(Xs), len(Xt), self.max_memory, type(self).__name__) if len(Xt) >= 2 else (len(Xs), 0)
        si, ti = sample_rows(len(Xs), m_s, rng), sample_rows(len(Xt), m_t, rng)
        Xs, Ys, Xt = Xs[si], Ys[si], Xt[ti]
        rbf = self.kernel == "rbf"
        self.gamma_ = (scale_gamma(np.vstack([Xs, Xt])) if self.gamma is None else float(self.gamma)) if rbf else None
        self.model_ = self.dual_coef_ = self.X_fit_ = None
        if rbf:
            source_path = ridge_path(rbf_kernel(Xs, Xs, self.gamma_))
            regs = RIDGE_ALPHAS if self.reg == "auto" else (float(self.reg),)
            self.reg_ = float(regs[int(np.argmin(kernel_ridge_loo(source_path, Ys, regs)))])
        else:
            self.reg_ = float(RidgeCV(alphas=RIDGE_ALPHAS).fit(Xs, Ys).alpha_ if self.reg == "auto" else self.reg)
        self.plan_rows_ = (len(si), len(ti))
        if len(Xt) < 2:  # no target: the source fit
            self._fit_classifier(Xs, Ys, source_path if rbf else None)
            self.plan_rows_ = (0, 0)
            return self
        C0 = squared_distances(Xs, Xt)
        C0 /= max(C0.max(), np.finfo(float).tiny)
        a, b = np.full(len(Xs), 1.0 / len(Xs)), np.full(len(Xt), 1.0 / len(Xt))
        ot, scores = pot_module(), np.zeros((len(Xt), Ys.shape[1]))
        target_path = ridge_path(rbf_kernel(Xt, Xt, self.gamma_)) if rbf else None
        for _ in range(self.n_iter):
            plan = ot.emd(a, b, jdot_plan_cost(C0, Ys, scores, float(self.alpha)), numItermax=EMD_MAX_ITER)
            scores = self._fit_classifier(Xt, len(Xt) * plan.T @ Ys, target_path)
        return self

    def _fit_classifier(self, X, Y, path):
        """Fit :math:`f` to ``(X, Y)`` (``path``: the RBF kernel's :func:`ridge_path` of ``X``);
        return its fitted values."""
        if path is None:
            self.model_ = Ridge(alpha=self.reg_).fit(X, Y)
            return self.model_.predict(X)
        self.dual_coef_, fitted = kernel_ridge_fit(path, Y, self.reg_)
        self.X_fit_ = X
        return fitted

    def _scores(self, X):
        check_is_fitted(self)
        X = np.asarray(validate_data(self, X, dtype=[np.float64, np.float32], reset=False), dtype=np.float64)
        if self.model_ is not None:
            return self.model_.predict(X)
        return rbf_kernel(X, self.X_fit_, self.gamma_) @ self.dual_coef_

    def decision_function(self, X):
        """:math:`f(X)`, one column per class; for two classes, as scikit-learn's binary
        convention, the second class's score minus the first's."""
        scores = self._scores(X)
        return scores[:, 1] - scores[:, 0] if len(self.classes_) == 2 else scores

    def predict(self, X):
        """The class of the largest score."""
        scores = self._scores(X)
        return self.classes_[scores.argmax(axis=1)]
