"""Shared shell of the alignment transformers: domain handling, validation, fit_transform."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from featx.domains import DEFAULT_TARGET, check_sample_domain


class BaseAdapter(TransformerMixin, BaseEstimator):
    """Base of featx's domain-alignment transformers.

    Subclasses implement ``_fit(X_source, X_target, y_source)`` and ``_map(X, is_source)``;
    with no target rows, ``X_target`` is ``X_source`` (the same object) and ``y_source`` is
    ``None`` when no ``y`` was given. During ``_fit``, ``self._source_domain`` holds the
    domain of each source row, for adapters that treat several sources one by one (they
    override ``_map_domain(X, domain)``). ``fit``
    accepts ``sample_domain`` (source ``>= 0``, target ``< 0``), infers it from ``y == -1``
    when absent, and fits a single-domain (identity-like) map when there is no target.
    ``transform`` maps rows by their domain and treats rows as target when no domain is
    given; ``fit_transform`` maps the training rows by their own domains.
    """

    __metadata_request__fit = {"sample_domain": True}
    __metadata_request__transform = {"sample_domain": True}
    #: scikit-learn's parameter constraints, checked when ``fit`` starts (``_validate_params``);
    #: a parameter not listed is not checked there.
    _parameter_constraints: dict = {}

    def fit(self, X, y=None, *, sample_domain=None):
        """Fit the alignment on source and target rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), optional
            Labels; ``-1`` marks unlabelled target rows (used to infer domains).
        sample_domain : array-like of shape (n_samples,), optional
            Domain of each row: source ``>= 0``, target ``< 0``.

        Returns
        -------
        self
        """
        self._validate_params()
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        sd = check_sample_domain(X, y, sample_domain)
        Xs, Xt = np.asarray(X[sd >= 0], dtype=np.float64), np.asarray(X[sd < 0], dtype=np.float64)
        if len(Xs) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 source rows (sample_domain >= 0); got {len(Xs)}.")
        if len(Xt) == 0:
            Xt = Xs  # single domain: the map degenerates to (near) identity
        elif len(Xt) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 target rows (sample_domain < 0); got 1.")
        self._source_domain = sd[sd >= 0]
        try:
            self._fit(Xs, Xt, None if y is None else np.asarray(y)[sd >= 0])
        finally:
            del self._source_domain
        return self

    def transform(self, X, *, sample_domain=None):
        """Map rows into the aligned space: source rows by the source map, target rows by the
        target map. Without ``sample_domain`` every row is treated as target."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        sd = np.full(len(X), DEFAULT_TARGET) if sample_domain is None else check_sample_domain(X, None, sample_domain)
        out = np.empty((len(X), self._n_features_out), dtype=X.dtype)
        for domain in np.unique(sd):
            rows = sd == domain
            out[rows] = self._map_domain(np.asarray(X[rows], dtype=np.float64), int(domain))
        return out

    def _map_domain(self, X, domain):
        """Rows of one domain; by default every source by the source map, every target by the target's."""
        return self._map(X, domain >= 0)

    def fit_transform(self, X, y=None, *, sample_domain=None):
        """Fit, then map the training rows by their own domains."""
        self._validate_params()
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        sd = check_sample_domain(X, y, sample_domain)
        return self.fit(X, y, sample_domain=sd).transform(X, sample_domain=sd)

    @property
    def _n_features_out(self) -> int:
        """Width of the transformed rows."""
        return self.n_features_in_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
