"""A domain-aware classifier that scales each domain's rows itself, so a saved model is complete."""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from featx.domains import check_sample_domain, domain_moments, unit_rows

_HOW = ("zscore", "unit", "none")
#: Fewest rows a domain needs for its own moments under ``how="zscore"``: a standard deviation
#: estimated from n rows is off by about 1 / sqrt(2 (n - 1)) of itself (24% at 10 rows, 71% at 2),
#: and one row is mapped to the zero vector whatever it shows.
MIN_DOMAIN_ROWS = 10


def _default():
    from featx.adapt._compose import AdaptThenClassify

    return AdaptThenClassify()


class DomainScaled(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Scale every domain with its own statistics, then fit a domain-aware classifier.

    ``featx fit`` and :func:`featx.domains.scale_per_domain` scale each domain before
    alignment; this estimator does the same inside the model, so that a fitted model (for
    instance one saved with :func:`featx.persist.save_model`) maps new target rows exactly
    as its training rows were mapped.

    Parameters
    ----------
    estimator : estimator, optional
        A domain-aware classifier (``fit(X, y, sample_domain=...)``), e.g. from
        :func:`featx.make_method`; default :class:`AdaptThenClassify` (CORAL + logistic
        regression).
    how : {"zscore", "unit", "none"}, default="zscore"
        ``zscore``: each domain to zero mean and unit variance per feature with its own
        moments (:func:`featx.domains.domain_moments`), which matches the domains' first
        two moments; with a single domain there is nothing to match and the rows are left as
        they are (a head that needs standardised input standardises itself: on the
        hymenoptera images, nearest class mean with 5 labelled images per class scored 80.4%
        on features standardised with those 10 rows' moments and 92.8% on the features as
        they are). ``unit``: every row to unit length; ``none``: as given. Each target domain
        needs at least :data:`MIN_DOMAIN_ROWS` (10) rows for ``zscore``; a smaller one is
        refused (a target of one image would be standardised by its own moments and map to
        zero). A labelled source domain is not held to it: its size is the labelled budget
        that ``featx compare`` varies (1 to all images per class), and its rows' moments are
        what the heads are then trained on.
        The moments are learned at ``fit``: new rows of a domain (new target images, one at a
        time or many) are scaled with them, so a row's prediction does not depend on the
        rows predicted with it.

    Attributes
    ----------
    estimator_ : fitted clone of ``estimator``
    domains_ : ndarray of shape (n_domains,)
        The ``sample_domain`` values seen in ``fit``, sorted.
    means_, scales_ : ndarray of shape (n_domains, n_features)
        Each domain's moments (``zscore`` with two or more domains; zeros and ones otherwise).
    classes_ : ndarray
    n_features_in_ : int
    """

    __metadata_request__fit = {"sample_domain": True}
    __metadata_request__predict = {"sample_domain": True}

    _parameter_constraints: dict = {"estimator": [HasMethods(["fit", "predict"]), None],
                                    "how": [StrOptions(set(_HOW))]}

    def __init__(self, estimator=None, how="zscore"):
        self.estimator = estimator
        self.how = how

    def fit(self, X, y, *, sample_domain=None):
        """Learn each domain's moments and fit ``estimator`` on the scaled rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels, ``-1`` for unlabelled target rows.
        sample_domain : array-like of shape (n_samples,), optional
            Source ``>= 0``, target ``< 0``; inferred from ``y == -1`` when absent.

        Returns
        -------
        self
        """
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        sd = check_sample_domain(X, y, sample_domain)
        self.domains_ = np.unique(sd)
        n = X.shape[1]
        self.means_, self.scales_ = np.zeros((len(self.domains_), n)), np.ones((len(self.domains_), n))
        if self.how == "zscore" and len(self.domains_) > 1:
            counts = {int(d): int((sd == d).sum()) for d in self.domains_ if d < 0}
            small = {d: c for d, c in counts.items() if c < MIN_DOMAIN_ROWS}
            if small:
                raise ValueError(
                    f"Per-domain z-scoring needs at least {MIN_DOMAIN_ROWS} rows in every target domain to estimate "
                    f"its mean and spread; got {small} (sample_domain: rows). Give more images of that domain, or "
                    "scale otherwise (how='unit' or 'none'; featx fit --scale unit|none).")
            for k, d in enumerate(self.domains_):
                self.means_[k], self.scales_[k] = domain_moments(X[sd == d])
        self.estimator_ = clone(self.estimator if self.estimator is not None else _default())
        self.estimator_.fit(self._scaled(X, sd), y, sample_domain=sd)
        self.classes_ = self.estimator_.classes_
        return self

    def _scaled(self, X, sd):
        X = np.array(X, dtype=np.float64)
        if self.how == "unit":
            return unit_rows(X)
        for k, d in enumerate(self.domains_):
            rows = sd == d
            X[rows] = (X[rows] - self.means_[k]) / self.scales_[k]
        return X

    def _target_domain(self, n):
        targets = self.domains_[self.domains_ < 0]
        if len(targets) > 1:
            raise ValueError(f"The model was fitted on {len(targets)} target domains {targets.tolist()}; "
                             "pass sample_domain to say which one the rows come from.")
        return np.full(n, targets[0] if len(targets) else self.domains_[0])

    def predict(self, X, *, sample_domain=None):
        """Classes of rows scaled as the (single) target domain, or as ``sample_domain`` says.

        Without target rows in ``fit`` the rows are scaled as the first source domain.
        """
        return self._delegate("predict", X, sample_domain)

    @available_if(lambda self: hasattr(getattr(self, "estimator_", None) or self.estimator or _default(),
                                       "predict_proba"))
    def predict_proba(self, X, *, sample_domain=None):
        """Class probabilities (columns in ``classes_`` order), rows scaled as in :meth:`predict`;
        only when the wrapped classifier has them."""
        return self._delegate("predict_proba", X, sample_domain)

    def score(self, X, y, sample_weight=None, *, sample_domain=None):
        """Accuracy on ``X`` (rows scaled as the target unless ``sample_domain`` says otherwise)."""
        from sklearn.metrics import accuracy_score

        return accuracy_score(y, self.predict(X, sample_domain=sample_domain), sample_weight=sample_weight)

    def _delegate(self, name, X, sample_domain):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        call = getattr(self.estimator_, name)
        if sample_domain is None:
            return call(self._scaled(X, self._target_domain(len(X))))
        sd = check_sample_domain(X, None, sample_domain)
        unknown = np.setdiff1d(sd, self.domains_)
        if len(unknown):
            raise ValueError(f"sample_domain has values {unknown.tolist()} not seen in fit; "
                             f"expected values from {self.domains_.tolist()}.")
        Z = self._scaled(X, sd)
        if "sample_domain" in inspect.signature(call).parameters:
            return call(Z, sample_domain=sd)
        return call(Z)
