"""Optimal-transport domain adaptation through POT: the class-regularised entropic mapping
(Courty et al., TPAMI 2017); JDOT, which shares its plan helpers, is in ``_jdot.py``.

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
from sklearn.base import OneToOneFeatureMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils import check_random_state

from featx.adapt._base import BaseAdapter
from featx.adapt._kernel import squared_distances

logger = logging.getLogger(__name__)

#: float64 n_s x n_t arrays a plan's solve holds at once (cost, kernel, plan, temporaries)
_PLAN_ARRAYS = 6


def pot_module():
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


def sample_rows(n: int, m: int, rng) -> np.ndarray:
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
    ot = pot_module()
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

    _parameter_constraints: dict = {
        "reg_e": [Interval(numbers.Real, 0, None, closed="neither")],
        "reg_cl": [Interval(numbers.Real, 0, None, closed="left")],
        "n_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_memory": [Interval(numbers.Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(self, reg_e=0.1, reg_cl=1.0, *, n_iter=10, max_memory=2**30, random_state=0):
        self.reg_e = reg_e
        self.reg_cl = reg_cl
        self.n_iter = n_iter
        self.max_memory = max_memory
        self.random_state = random_state

    def _fit(self, Xs, Xt, ys):
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
            m_s, m_t = plan_rows(len(X_d), len(Xt), self.max_memory, type(self).__name__)
            si, ti = sample_rows(len(X_d), m_s, rng), sample_rows(len(Xt), m_t, rng)
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
