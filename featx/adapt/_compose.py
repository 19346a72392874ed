"""Adapter -> classifier, with the classifier fitted on labelled source rows only."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from featx.domains import MASKED_LABEL, check_labelled_source


def _classifier_has(method):
    def check(self):
        clf = getattr(self, "classifier_", None)
        if clf is None:
            clf = self.classifier if self.classifier is not None else LogisticRegression()
        return hasattr(clf, method)

    return check


class AdaptThenClassify(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Fit a domain adapter on all rows, then a classifier on the adapted labelled source rows.

    A routed scikit-learn ``Pipeline`` would train its classifier on every row, learning the
    masked label ``-1`` as a class; this meta-estimator keeps target rows out of the
    classifier's fit.

    Parameters
    ----------
    adapter : transformer, list of transformers, or "passthrough", optional
        A featx adapter (``fit(X, y, sample_domain=...)``); default :class:`CORAL`. A list
        chains adapters, each fitted on the previous one's output (e.g.
        ``[DomainStandardScaler(), CORAL()]``). ``"passthrough"``: no alignment, the
        classifier alone on labelled source rows.
    classifier : classifier, optional
        Any scikit-learn classifier; default ``LogisticRegression(max_iter=1000)``. A classifier
        whose ``uses_unlabelled`` attribute is true (e.g.
        :class:`featx.classify.ClassBalancedSelfTraining`) also gets the adapted target rows,
        labelled ``-1``.

    Attributes
    ----------
    adapter_ : fitted clone of ``adapter`` (a list for a list), or ``"passthrough"``
    classifier_ : fitted clone of ``classifier``
    classes_ : ndarray
    n_features_in_ : int
    """

    __metadata_request__fit = {"sample_domain": True}
    __metadata_request__predict = {"sample_domain": True}
    __metadata_request__predict_proba = {"sample_domain": True}
    __metadata_request__score = {"sample_domain": True}

    def __init__(self, adapter=None, classifier=None):
        self.adapter = adapter
        self.classifier = classifier

    def fit(self, X, y, *, sample_domain=None):
        """Fit the adapter on every row and the classifier on labelled source rows.

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
        from featx.adapt._coral import CORAL

        X, y, sd, keep = check_labelled_source(self, X, y, sample_domain)
        if isinstance(self.adapter, str):
            if self.adapter != "passthrough":
                raise ValueError(f"adapter must be an estimator, a list of them or 'passthrough'; got "
                                 f"{self.adapter!r}.")
            self.adapter_, Z = "passthrough", X
        elif isinstance(self.adapter, (list, tuple)):
            if not self.adapter:
                raise ValueError("adapter is an empty list; give at least one adapter or 'passthrough'.")
            self.adapter_, Z = [clone(a) for a in self.adapter], X
            for step in self.adapter_:
                Z = step.fit_transform(Z, y, sample_domain=sd)
        else:
            self.adapter_ = clone(self.adapter if self.adapter is not None else CORAL())
            Z = self.adapter_.fit_transform(X, y, sample_domain=sd)
        self.classifier_ = clone(self.classifier if self.classifier is not None else LogisticRegression(max_iter=1000))
        if getattr(self.classifier_, "uses_unlabelled", False) and y.dtype.kind in "iuf":  # target rows too, as -1
            rows = keep | (sd < 0)
            self.classifier_.fit(Z[rows], np.where(keep[rows], y[rows], MASKED_LABEL))
        else:
            self.classifier_.fit(Z[keep], y[keep])
        self.classes_ = self.classifier_.classes_
        return self

    def _adapted(self, X, sample_domain):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        if isinstance(self.adapter_, str):
            return X
        for step in self.adapter_ if isinstance(self.adapter_, list) else [self.adapter_]:
            X = step.transform(X, sample_domain=sample_domain)
        return X

    def predict(self, X, *, sample_domain=None):
        """Classes of rows mapped as target (or by ``sample_domain``)."""
        Z = self._adapted(X, sample_domain)
        return self.classifier_.predict(Z)

    @available_if(_classifier_has("predict_proba"))
    def predict_proba(self, X, *, sample_domain=None):
        """Class probabilities, when the classifier has them."""
        Z = self._adapted(X, sample_domain)
        return self.classifier_.predict_proba(Z)

    @available_if(_classifier_has("decision_function"))
    def decision_function(self, X, *, sample_domain=None):
        """Decision scores, when the classifier has them."""
        Z = self._adapted(X, sample_domain)
        return self.classifier_.decision_function(Z)

    def score(self, X, y, sample_weight=None, *, sample_domain=None):
        """Accuracy on ``X`` (rows mapped as target unless ``sample_domain`` says otherwise)."""
        from sklearn.metrics import accuracy_score

        return accuracy_score(y, self.predict(X, sample_domain=sample_domain), sample_weight=sample_weight)
