"""Optimal-transport domain adaptation through POT: the class-regularised entropic mapping
(Courty et al., TPAMI 2017) and JDOT (Courty et al., NeurIPS 2017).

POT (``pot``, the field's library) solves the transport problems; featx adds the cost
normalisation, the memory plan (a sampled plan past ``max_memory``), the out-of-sample map
and the scikit-learn shells. POT is imported when a plan is solved, not with featx; POT
itself loads torch when torch is installed (its backends), about 4 s once per process.
"""

from __future__ import annotations

import logging
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, OneToOneFeatureMixin
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from featx.adapt._base import BaseAdapter
from featx.domains import check_labelled_source
from featx.adapt._kernel import rbf_kernel, scale_gamma, squared_distances

logger = logging.getLogger(__name__)

#: JDOT's ``reg="auto"`` candidates (ridge penalties, by GCV on the labelled source)
RIDGE_ALPHAS = tuple(10.0 ** k for k in range(-2, 5))
#: JDOT's classifiers: linear ridge, or kernel ridge with the RBF kernel
JDOT_KERNELS = ("linear", "rbf")
#: network-simplex pivots of one exact plan (POT's default, 1e5, stops short of the optimum
#: past about 1,000 rows a side)
_EMD_MAX_ITER = 10_000_000
#: float64 n_s x n_t arrays a plan's solve holds at once (cost, kernel, plan, temporaries)
_PLAN_ARRAYS = 6


def _pot():
    import ot  # a dependency; imported here so that importing featx does not load it (or torch)

    return ot


def plan_bytes(n_source: int, n_target: int) -> int:
    """Memory (bytes) of one transport solve between ``n_source`` and ``n_target`` rows:
    about six dense float64 :math:`n_s \\times n_t` arrays (cost, Gibbs kernel, plan and
    the solver's temporaries)."""
    return 8 * _PLAN_ARRAYS * int(n_source) * int(n_target)


def plan_rows(n_source: int, n_target: int, max_memory: float, owner: str) -> tuple[int, int]:
    """How many source and target rows a plan may hold within ``max_memory``: all of them
    when :func:`plan_bytes` fits, else both sides shrunk by the same factor (a sampled
    plan, logged). Raises ``ValueError`` when not even 10 rows a side fit."""
    if plan_bytes(n_source, n_target) <= max_memory:
        return int(n_source), int(n_target)
    f = np.sqrt(max_memory / plan_bytes(n_source, n_target))
    m_s, m_t = int(n_source * f), int(n_target * f)
    if min(m_s, m_t) < 10:
        raise ValueError(f"{owner}: a transport plan of {n_source} x {n_target} rows needs about "
                         f"{plan_bytes(n_source, n_target) / 2**30:.2f} GiB and even 10 rows a side do not fit "
                         f"max_memory={max_memory / 2**30:.3f} GiB; raise max_memory.")
    logger.warning("%s: the %d x %d transport plan needs about %.1f GiB (max_memory %.1f GiB); solving on a "
                   "sample of %d source and %d target rows", owner, n_source, n_target,
                   plan_bytes(n_source, n_target) / 2**30, max_memory / 2**30, m_s, m_t)
    return m_s, m_t


def _sample(n: int, m: int, rng) -> np.ndarray:
    return np.arange(n) if m >= n else np.sort(rng.choice(n, size=m, replace=False))


def normalised_cost(Xs, Xt) -> np.ndarray:
    """Squared Euclidean cost :math:`M_{ij} = \\lVert x^s_i - x^t_j \\rVert^2` divided by its
    median, so the entropic regulariser means the same on features of any dimension or
    scale (POT's ``norm="median"``)."""
    M = squared_distances(Xs, Xt)
    scale = np.median(M)
    return M / scale if scale > 0 else M


def class_regularised_plan(Xs, ys, Xt, reg_e, reg_cl, n_iter=10) -> np.ndarray:
    """Entropic transport plan with the class-based group-lasso regulariser.

    .. math::

        \\gamma^\\star = \\arg\\min_{\\gamma \\in \\Pi(a, b)} \\langle \\gamma, M \\rangle_F
        + \\varepsilon \\sum_{ij} \\gamma_{ij} \\log \\gamma_{ij}
        + \\eta \\sum_j \\sum_c \\lVert \\gamma_{\\mathcal{I}_c, j} \\rVert_p^{1/2}

    with uniform weights :math:`a = 1/n_s`, :math:`b = 1/n_t`, :math:`M` the median-normalised
    squared Euclidean cost and :math:`\\mathcal{I}_c` the source rows of class ``c``: a target
    row receives mass from source rows of few classes. Solved by majorisation-minimisation
    over Sinkhorn problems (POT's ``sinkhorn_lpl1_mm``, ``n_iter`` outer rounds of at most
    200 Sinkhorn updates each, so the target marginal is met to a few percent when the
    class proportions of the domains differ; POT's non-convergence warning for these capped
    inner loops is silenced). With ``ys`` None, plain entropic OT (marginals exact). When the
    Gibbs kernel :math:`e^{-M/\\varepsilon}` under- or overflows (an outlying row's costs far past
    the median, or the class term's weights, up to :math:`\\eta \\cdot 15.8`, over a small
    :math:`\\varepsilon`), the same rounds run on costs shifted row- and column-wise
    (:func:`shifted_cost`, the same plan), then in the log domain if that fails too, logged.

    Returns the plan, shape (n_s, n_t), rows summing to :math:`1/n_s`.

    References
    ----------
    .. [1] N. Courty, R. Flamary, D. Tuia, A. Rakotomamonjy. "Optimal Transport for Domain
       Adaptation." IEEE TPAMI 39(9), 2017.
    """
    ot = _pot()
    M = normalised_cost(Xs, Xt)
    a, b = np.full(len(Xs), 1.0 / len(Xs)), np.full(len(Xt), 1.0 / len(Xt))
    with warnings.catch_warnings(), np.errstate(all="ignore"):  # failures are detected below
        warnings.filterwarnings("ignore", message="Sinkhorn did not converge", category=UserWarning)
        warnings.filterwarnings("ignore", message="Warning: numerical errors", category=UserWarning)
        if ys is None:
            plan = ot.sinkhorn(a, b, M, reg_e)
        else:  # the MM rounds cap each inner Sinkhorn at 200 updates by design
            plan = ot.da.sinkhorn_lpl1_mm(a, np.asarray(ys), b, M, reg_e, eta=reg_cl, numItermax=n_iter)
    if np.isfinite(plan).all() and (plan.sum(axis=1) > 0).all():
        return plan
    logger.warning("entropic OT: exp(-cost / reg_e) under- or overflowed (largest cost %.3g times the median%s); "
                   "solving the same problem on costs shifted to a zero in every row and column", M.max(),
                   "" if ys is None else f", plus up to {reg_cl * _GROUP_WEIGHT_MAX:.3g} from the class term")
    for method in ("sinkhorn", "sinkhorn_log"):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.filterwarnings("ignore", message="Sinkhorn did not converge", category=UserWarning)
            warnings.filterwarnings("ignore", message="Warning: numerical errors", category=UserWarning)
            if ys is None:
                plan = ot.sinkhorn(a, b, shifted_cost(M), reg_e, method=method)
            else:
                plan = _group_lasso_mm(ot, a, np.asarray(ys), b, M, reg_e, reg_cl, n_iter, method=method)
        if np.isfinite(plan).all() and (plan.sum(axis=1) > 0).all():
            return plan
        if method == "sinkhorn":
            logger.warning("entropic OT: the shifted costs over- or underflowed too; solving in the log domain "
                           "(slower)")
    return plan


def shifted_cost(M) -> np.ndarray:
    """``M`` minus its row minima, then minus its column minima.

    The entropic plan :math:`\\mathrm{diag}(u) e^{-M/\\varepsilon} \\mathrm{diag}(v)` does not change
    when a constant is added to a row or a column of :math:`M` (the scalings :math:`u, v` absorb
    it), and the shifted Gibbs kernel holds a 1 in every row and every column, so no row or
    column underflows to zero however far its costs sit from the rest.
    """
    M = M - M.min(axis=1, keepdims=True)
    return M - M.min(axis=0, keepdims=True)


#: POT's majorisation of the class term: weights p (mass + eps)^(p - 1), p = 1/2, eps = 1e-3.
_GROUP_P, _GROUP_EPS = 0.5, 1e-3
_GROUP_WEIGHT_MAX = _GROUP_P * _GROUP_EPS ** (_GROUP_P - 1)


def _group_lasso_mm(ot, a, ys, b, M, reg_e, reg_cl, n_iter, n_inner=200, method="sinkhorn") -> np.ndarray:
    r"""The majorisation-minimisation of ``ot.da.sinkhorn_lpl1_mm`` (same weights, rounds and
    inner cap) with each inner problem solved by POT's Sinkhorn (``method``) on the shifted
    costs (:func:`shifted_cost`): round ``k`` solves entropic OT on :math:`M + \eta W^{(k)}` with
    :math:`W^{(k)}_{ij} = p\,(\sum_{i' \in \mathcal{I}_{c(i)}} \gamma^{(k-1)}_{i'j} + \epsilon)^{p-1}`
    (:math:`W^{(0)} = 0`), which stays finite where the Gibbs kernel of the raw cost underflows."""
    onehot = (ys[:, None] == np.unique(ys)[None, :]).astype(np.float64)  # (n_s, n_classes)
    W = np.zeros_like(M)
    for _ in range(n_iter):
        plan = ot.sinkhorn(a, b, shifted_cost(M + reg_cl * W), reg_e, method=method, numItermax=n_inner)
        class_mass = onehot.T @ plan  # (n_classes, n_t): mass each class sends to each target row
        W = onehot @ (_GROUP_P * (class_mass + _GROUP_EPS) ** (_GROUP_P - 1))
    return plan


def barycentric_map(plan, Xt) -> np.ndarray:
    """Each source row sent to the plan-weighted mean of the target rows it sends mass to:
    :math:`\\hat{x}^s_i = \\sum_j \\gamma_{ij} x^t_j / \\sum_j \\gamma_{ij}` (rows that send no
    mass, after underflow, go to the target mean). Computed about the target mean
    (:math:`\\bar{x}^t + \\sum_j \\gamma_{ij} (x^t_j - \\bar{x}^t) / \\sum_j \\gamma_{ij}`), so a
    column constant in the target maps to exactly that constant."""
    centre = Xt.mean(axis=0)
    mass = plan.sum(axis=1, keepdims=True)
    out = plan @ (Xt - centre)
    empty = mass[:, 0] <= 0
    out[~empty] /= mass[~empty]
    out[empty] = 0.0
    return out + centre


def _check_positive(owner, name, value, allow_zero=False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"The {name!r} parameter of {owner} must be a float {bound}. Got {value!r} instead.")


def _check_iter(owner, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"The 'n_iter' parameter of {owner} must be an int >= 1. Got {value!r} instead.")


class OTMapping(OneToOneFeatureMixin, BaseAdapter):
    """Class-regularised entropic optimal-transport mapping (OT-GL, Courty et al. 2017).

    For each source domain, a transport plan to the target (:func:`class_regularised_plan`,
    the labelled source rows' classes in the group-lasso term) moves every source row to
    the barycentre of the target rows it is coupled with (:func:`barycentric_map`); a head
    trained on the moved source rows then classifies target rows, which are left as they
    are. Source rows that were not in the plan (new rows, unlabelled source rows, rows
    outside a sampled plan) move by the displacement of their nearest planned row of the
    same domain (Ferradans et al. 2014), so the map applies to any source row. Without
    target rows the map is the identity.

    Parameters
    ----------
    reg_e : float, default=0.1
        Entropic regulariser :math:`\\varepsilon` on the median-normalised cost (POT's
        examples' value): smaller is closer to exact OT and sharper, larger spreads mass.
    reg_cl : float, default=1.0
        Weight :math:`\\eta` of the class-based regulariser; 0 gives plain entropic OT.
    n_iter : int, default=10
        Majorisation-minimisation rounds of the class-regularised solve.
    max_memory : float, default=2**30
        Bytes one plan may take (:func:`plan_bytes`); past it the plan is solved on a random
        sample of the rows of both domains (:func:`plan_rows`) and the other rows move
        out of sample.
    random_state : int, RandomState or None, default=0
        The sample of a sampled plan.

    Attributes
    ----------
    source_domains_ : ndarray of int
    anchors_ : list of ndarray
        Per source domain, the planned source rows.
    displacements_ : list of ndarray
        Per source domain, where the plan moved each anchor minus the anchor.
    plan_rows_ : list of tuple of int
        Per source domain, the (source, target) rows its plan held.
    n_features_in_ : int

    References
    ----------
    .. [1] N. Courty, R. Flamary, D. Tuia, A. Rakotomamonjy. "Optimal Transport for Domain
       Adaptation." IEEE TPAMI 39(9), 2017.
    .. [2] S. Ferradans, N. Papadakis, G. Peyre, J.-F. Aujol. "Regularized discrete optimal
       transport." SIAM J. Imaging Sciences 7(3), 2014.
    """

    def __init__(self, reg_e=0.1, reg_cl=1.0, *, n_iter=10, max_memory=2**30, random_state=0):
        self.reg_e = reg_e
        self.reg_cl = reg_cl
        self.n_iter = n_iter
        self.max_memory = max_memory
        self.random_state = random_state

    def _fit(self, Xs, Xt, ys):
        name = type(self).__name__
        _check_positive(name, "reg_e", self.reg_e)
        _check_positive(name, "reg_cl", self.reg_cl, allow_zero=True)
        _check_iter(name, self.n_iter)
        _check_positive(name, "max_memory", self.max_memory)
        rng = check_random_state(self.random_state)
        self.source_domains_ = np.unique(self._source_domain)
        self.anchors_, self.displacements_, self.plan_rows_ = [], [], []
        for d in self.source_domains_:
            rows = self._source_domain == d
            X_d, y_d = Xs[rows], None if ys is None else ys[rows]
            labelled = np.ones(len(X_d), bool) if y_d is None or y_d.dtype.kind not in "iuf" else y_d != -1
            if y_d is not None and labelled.sum() >= 2:
                X_d, y_d = X_d[labelled], y_d[labelled]
            else:
                y_d = None
            if Xt is Xs:  # no target rows: nothing to transport to, the identity
                self.anchors_.append(X_d[:1])
                self.displacements_.append(np.zeros_like(X_d[:1]))
                self.plan_rows_.append((0, 0))
                continue
            m_s, m_t = plan_rows(len(X_d), len(Xt), self.max_memory, name)
            si, ti = _sample(len(X_d), m_s, rng), _sample(len(Xt), m_t, rng)
            codes = None if y_d is None or self.reg_cl == 0 else np.unique(y_d[si], return_inverse=True)[1]
            plan = class_regularised_plan(X_d[si], codes, Xt[ti], float(self.reg_e), float(self.reg_cl),
                                          int(self.n_iter))
            self.anchors_.append(X_d[si])
            self.displacements_.append(barycentric_map(plan, Xt[ti]) - X_d[si])
            self.plan_rows_.append((len(si), len(ti)))

    @property
    def _n_features_out(self) -> int:
        return self.n_features_in_

    def _map_domain(self, X, domain):
        if domain < 0:
            return X
        k = np.searchsorted(self.source_domains_, domain)
        if k == len(self.source_domains_) or self.source_domains_[k] != domain:
            raise ValueError(f"OTMapping has no plan for source domain {domain}; it was fitted on source domains "
                             f"{self.source_domains_.tolist()}.")
        nearest = squared_distances(X, self.anchors_[k]).argmin(axis=1)
        return X + self.displacements_[k][nearest]


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
        name = type(self).__name__
        _check_positive(name, "alpha", self.alpha, allow_zero=True)
        if not (isinstance(self.reg, str) and self.reg == "auto"):
            _check_positive(name, "reg", self.reg)
        _check_iter(name, self.n_iter)
        _check_positive(name, "max_memory", self.max_memory)
        if self.kernel not in JDOT_KERNELS:
            raise ValueError(f"{name}'s kernel must be one of {list(JDOT_KERNELS)}; got {self.kernel!r}.")
        if self.gamma is not None:
            _check_positive(name, "gamma", self.gamma)
        X, y, sd, keep = check_labelled_source(self, X, y, sample_domain)
        Xs, Xt = np.asarray(X[keep], dtype=np.float64), np.asarray(X[sd < 0], dtype=np.float64)
        self.classes_, codes = np.unique(y[keep], return_inverse=True)
        Ys = np.eye(len(self.classes_))[codes]
        rng = check_random_state(self.random_state)
        m_s, m_t = plan_rows(len(Xs), len(Xt), self.max_memory, name) if len(Xt) >= 2 else (len(Xs), 0)
        si, ti = _sample(len(Xs), m_s, rng), _sample(len(Xt), m_t, rng)
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
        ot, scores = _pot(), np.zeros((len(Xt), Ys.shape[1]))
        target_path = ridge_path(rbf_kernel(Xt, Xt, self.gamma_)) if rbf else None
        for _ in range(self.n_iter):
            plan = ot.emd(a, b, jdot_plan_cost(C0, Ys, scores, float(self.alpha)), numItermax=_EMD_MAX_ITER)
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
