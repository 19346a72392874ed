"""PACE: one aligned classifier per block of columns, self-trained on target pseudo-labels that
the whole ensemble gives (Liao, Tsiligkaridis & Kulis, arXiv:2205.13508, 2022)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted, validate_data

from featx.adapt._blocks import used_block_slices
from featx.adapt._sources import mean_member_proba
from featx.domains import check_labelled_source
from featx.utils.pseudo_labels import SCHEDULE_CONSTRAINTS, self_training_rounds

__all__ = ["PACE"]


class PACE(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Ensemble pseudo-labelling: each block of columns (a backbone's layer, or one backbone of
    several side by side) gets its own alignment and classifier, and every classifier is
    refitted on the labelled source rows plus the target rows the *ensemble* labels.

    On block :math:`b` the adapter maps the rows to :math:`Z_b` (CORAL by default, fitted once
    on the source and target rows) and the classifier :math:`h_b` is fitted on the labelled
    source rows. Each round then averages the blocks' target probabilities,
    :math:`\\bar p(x) = \\frac{1}{B} \\sum_b h_b(Z_b(x))`, labels each target row with the
    arg-max of :math:`\\bar p`, keeps the class-balanced most confident share of them
    (:func:`featx.utils.pseudo_labels.class_balanced_selection`, the schedule of
    :class:`featx.classify.ClassBalancedSelfTraining`) and refits every :math:`h_b` with the
    settings its first fit chose on those shared labels, until the chosen rows and their labels
    repeat. This is PACE's covariance alignment + ensemble pseudo-labels recipe; unlike
    :class:`BlockEnsemble` of self-training members, a block that transfers badly is taught by
    the ensemble instead of by itself.

    Parameters
    ----------
    adapter : transformer or "passthrough", optional
        Fitted on each block's columns with ``fit_transform(X, y, sample_domain=...)``;
        default :class:`CORAL`. ``"passthrough"``: no alignment.
    classifier : classifier with ``predict_proba``, optional
        Default ``LogisticRegression(max_iter=1000)``; a
        :class:`featx.classify.TunedClassifier` tunes once, on the source rows.
    blocks : sequence of int, optional
        Width of each block, in column order (:func:`block_slices`); default one block.
    use : sequence of int, optional
        Indices of the blocks that get a member; default all of them.
    start, step, max_portion : float, default=0.2, 0.05, 0.5
        The share of each predicted class pseudo-labelled in the first round, its growth per
        round and its cap.
    max_iter : int, default=10
        Pseudo-label rounds at most.

    Attributes
    ----------
    adapters_ : list
        Each used block's fitted adapter (``"passthrough"`` for none).
    classifiers_ : list
        Each used block's classifier after the last round.
    slices_ : list of slice
    pseudo_labels_ : ndarray
        The ensemble's labels of the target rows after the last round.
    n_iter_ : int
        Fits per block: 1 + the rounds that refitted.
    classes_ : ndarray
    n_features_in_ : int

    References
    ----------
    .. [1] C. Liao, T. Tsiligkaridis, B. Kulis. "Pick up the PACE: Fast and Simple Domain
       Adaptation via Ensemble Pseudo-Labeling." arXiv:2205.13508, 2022.
    .. [2] Y. Zou, Z. Yu, B. V. K. V. Kumar, J. Wang. "Unsupervised Domain Adaptation for
       Semantic Segmentation via Class-Balanced Self-Training." ECCV 2018.
    """

    __metadata_request__fit = {"sample_domain": True}
    __metadata_request__predict = {"sample_domain": True}
    __metadata_request__predict_proba = {"sample_domain": True}

    _parameter_constraints: dict = dict(SCHEDULE_CONSTRAINTS)

    def __init__(self, adapter=None, classifier=None, *, blocks=None, use=None, start=0.2, step=0.05,
                 max_portion=0.5, max_iter=10):
        self.adapter = adapter
        self.classifier = classifier
        self.blocks = blocks
        self.use = use
        self.start = start
        self.step = step
        self.max_portion = max_portion
        self.max_iter = max_iter

    def fit(self, X, y, *, sample_domain=None):
        """Align each block, fit its classifier on the source, then self-train every classifier
        on the ensemble's target pseudo-labels.

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
        from featx.adapt._coral import CORAL

        self._validate_params()
        X, y, sd, keep = check_labelled_source(self, X, y, sample_domain)
        if isinstance(self.adapter, str) and self.adapter != "passthrough":
            raise ValueError(f"PACE's adapter must be a transformer or 'passthrough'; got {self.adapter!r}.")
        self.slices_ = used_block_slices(self.blocks, self.use, X.shape[1])
        self.classes_ = np.unique(y[keep])
        target, ys = sd < 0, y[keep]
        classifier = self.classifier if self.classifier is not None else LogisticRegression(max_iter=1000)
        self.adapters_, self.classifiers_, settings, sources, targets = [], [], [], [], []
        for s in self.slices_:
            if isinstance(self.adapter, str):
                adapter, Z = "passthrough", X[:, s]
            else:
                adapter = clone(self.adapter if self.adapter is not None else CORAL())
                Z = adapter.fit_transform(X[:, s], y, sample_domain=sd)
            first = clone(classifier).fit(Z[keep], ys)
            if not hasattr(first, "predict_proba"):
                raise ValueError(f"PACE needs a classifier with predict_proba; got {type(first).__name__}.")
            self.adapters_.append(adapter)
            self.classifiers_.append(first)
            settings.append(getattr(first, "estimator_", first))  # a TunedClassifier's choice
            sources.append(Z[keep])
            targets.append(Z[target])

        def ensemble_proba():
            return mean_member_proba(self.classifiers_, self.classes_, targets)

        def refit(chosen, labels):
            self.classifiers_ = [clone(c).fit(np.vstack([Zs, Zt[chosen]]), np.r_[ys, labels])
                                 for c, Zs, Zt in zip(settings, sources, targets)]

        self.n_iter_ = 1
        if target.any():
            _, self.n_iter_ = self_training_rounds(ensemble_proba, refit, self.classes_, start=self.start,
                                                   step=self.step, max_portion=self.max_portion,
                                                   max_iter=self.max_iter)
        self.pseudo_labels_ = (self.classes_[ensemble_proba().argmax(axis=1)] if target.any()
                               else np.empty(0, dtype=self.classes_.dtype))
        return self

    def predict_proba(self, X, sample_domain=None):
        """Mean of the blocks' class probabilities, rows mapped as target (or by
        ``sample_domain``), columns in ``classes_``."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        inputs = [X[:, s] if isinstance(a, str) else a.transform(X[:, s], sample_domain=sample_domain)
                  for a, s in zip(self.adapters_, self.slices_)]
        return mean_member_proba(self.classifiers_, self.classes_, inputs)

    def predict(self, X, sample_domain=None):
        """The class of the largest mean probability."""
        proba = self.predict_proba(X, sample_domain)
        return self.classes_[proba.argmax(axis=1)]
