"""Several labelled source domains: pool them into one, or fit one model per source and
average the models' predictions."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from featx.adapt._compose import AdaptThenClassify
from featx.domains import DEFAULT_SOURCE, check_labelled_source, check_sample_domain


def _default(estimator):
    return AdaptThenClassify() if estimator is None else estimator


def mean_member_proba(estimators, classes, inputs, kwargs=None) -> np.ndarray:
    """Mean over fitted ``estimators`` of their class probabilities on their ``inputs`` (one
    array each), columns in ``classes``; a member without ``predict_proba`` votes one-hot."""
    kwargs = kwargs or {}
    out = np.zeros((len(inputs[0]), len(classes)))
    for est, X in zip(estimators, inputs):
        if hasattr(est, "predict_proba"):
            out[:, np.searchsorted(classes, est.classes_)] += est.predict_proba(X, **kwargs)
        else:
            out[np.arange(len(X)), np.searchsorted(classes, est.predict(X, **kwargs))] += 1.0
    return out / len(estimators)


class PooledSources(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Every source domain treated as one: ``sample_domain >= 0`` becomes
    :data:`featx.domains.DEFAULT_SOURCE` before ``estimator`` sees it (so per-domain scaling
    and per-source maps see one source); target rows keep their codes.

    Parameters
    ----------
    estimator : domain-aware classifier, optional
        Default :class:`featx.adapt.AdaptThenClassify` (CORAL then logistic regression).

    Attributes
    ----------
    estimator_ : fitted clone of ``estimator``
    classes_ : ndarray
    n_sources_ : int
        Source domains that were pooled.
    """

    __metadata_request__fit = {"sample_domain": True}
    __metadata_request__predict = {"sample_domain": True}

    def __init__(self, estimator=None):
        self.estimator = estimator

    @staticmethod
    def _pool(sd):
        return np.where(sd >= 0, DEFAULT_SOURCE, sd)

    def fit(self, X, y, *, sample_domain=None):
        """Fit ``estimator`` with the source domains pooled.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels; ``-1`` for unlabelled target rows.
        sample_domain : array-like of shape (n_samples,), optional
            Source ``>= 0`` (several), target ``< 0``; inferred from ``y == -1`` when absent.

        Returns
        -------
        self
        """
        X, y, sd, _ = check_labelled_source(self, X, y, sample_domain)
        self.n_sources_ = len(np.unique(sd[sd >= 0]))
        self.estimator_ = clone(_default(self.estimator)).fit(X, y, sample_domain=self._pool(sd))
        self.classes_ = self.estimator_.classes_
        return self

    def predict(self, X, sample_domain=None):
        """Labels of rows ``X`` (as target rows without ``sample_domain``)."""
        check_is_fitted(self)
        sd = None if sample_domain is None else self._pool(check_sample_domain(X, None, sample_domain))
        return self.estimator_.predict(X, sample_domain=sd) if sd is not None else self.estimator_.predict(X)


class PerSourceEnsemble(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """One model per source domain, each fitted on that source's rows and every target row;
    the prediction averages the members' class probabilities (a vote for members without
    ``predict_proba``). With one source it is that source's model.

    This is the multi-source baseline of the literature (one adapted model per source,
    combined), the alternative to pooling every source into one (:class:`PooledSources`).

    Parameters
    ----------
    estimator : domain-aware classifier, optional
        Default :class:`featx.adapt.AdaptThenClassify`.

    Attributes
    ----------
    estimators_ : list
        One fitted clone per source domain, in the order of ``source_domains_``.
    source_domains_ : ndarray of int
    classes_ : ndarray
        Every class of any source.
    """

    __metadata_request__fit = {"sample_domain": True}

    def __init__(self, estimator=None):
        self.estimator = estimator

    def fit(self, X, y, *, sample_domain=None):
        """Fit one clone of ``estimator`` per source domain (with all target rows).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels; ``-1`` for unlabelled target rows.
        sample_domain : array-like of shape (n_samples,), optional
            Source ``>= 0`` (several), target ``< 0``; inferred from ``y == -1`` when absent.

        Returns
        -------
        self
        """
        X, y, sd, keep = check_labelled_source(self, X, y, sample_domain)
        self.classes_ = np.unique(y[keep])
        self.source_domains_ = np.unique(sd[keep])
        self.estimators_ = []
        for d in self.source_domains_:
            rows = (sd == d) | (sd < 0)
            self.estimators_.append(clone(_default(self.estimator)).fit(X[rows], y[rows], sample_domain=sd[rows]))
        return self

    def predict_proba(self, X, sample_domain=None):
        """Mean of the members' class probabilities (a member's one-hot vote when it has no
        ``predict_proba``), columns in ``classes_``. Rows are target rows: ``sample_domain``,
        when given, must be target codes (``< 0``); each member was fitted on one source only."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        if sample_domain is not None:
            sd = check_sample_domain(X, None, sample_domain)
            if (sd >= 0).any():
                raise ValueError("PerSourceEnsemble predicts target rows (sample_domain < 0); got source domains "
                                 f"{np.unique(sd[sd >= 0]).tolist()}.")
        return mean_member_proba(self.estimators_, self.classes_, [X] * len(self.estimators_))

    def predict(self, X, sample_domain=None):
        """The class of the largest mean probability (target rows, as :meth:`predict_proba`)."""
        proba = self.predict_proba(X, sample_domain)
        return self.classes_[proba.argmax(axis=1)]
