"""One model per block of columns (a backbone's layer, or one backbone of several whose
embeddings were concatenated), the models' class probabilities averaged."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from featx.adapt._compose import AdaptThenClassify
from featx.adapt._sources import mean_member_proba
from featx.domains import check_labelled_source

__all__ = ["BlockEnsemble", "block_slices", "used_block_slices"]


def block_slices(blocks, n_features: int) -> list[slice]:
    """The column slice of each block, from the blocks' widths in column order.

    ``blocks = (w_1, ..., w_k)`` with every ``w_i >= 1`` and ``sum(w) == n_features``; block
    ``i`` is columns ``[w_1 + ... + w_{i-1}, w_1 + ... + w_i)`` (the order in which
    :class:`featx.backbones.Backbone` concatenates its layers, ``layer_dims``). ``None`` is
    one block of every column.

    Raises
    ------
    ValueError
        If a width is not a positive int, or the widths do not add up to ``n_features``.

    Examples
    --------
    >>> block_slices((2, 3), 5)
    [slice(0, 2, None), slice(2, 5, None)]
    """
    if blocks is None:
        return [slice(0, n_features)]
    widths = list(blocks) if not isinstance(blocks, (str, bytes)) else None
    if not widths or not all(isinstance(w, numbers.Integral) and not isinstance(w, bool) and w >= 1 for w in widths):
        raise ValueError(f"blocks must be a non-empty sequence of positive ints (each block's width); got {blocks!r}.")
    if sum(widths) != n_features:
        raise ValueError(f"blocks' widths {widths} add up to {sum(widths)} columns; X has {n_features}.")
    ends = np.cumsum(widths)
    return [slice(int(e - w), int(e)) for w, e in zip(widths, ends)]


def used_block_slices(blocks, use, n_features: int) -> list[slice]:
    """The column slices of the blocks in ``use`` (indices into :func:`block_slices`; ``None``:
    every block), in the order of ``use``.

    Raises
    ------
    ValueError
        As :func:`block_slices`, or if ``use`` is not distinct block indices.
    """
    slices = block_slices(blocks, n_features)
    if use is None:
        return slices
    indices = list(use) if not isinstance(use, (str, bytes)) else None
    if (not indices or len(set(indices)) != len(indices)
            or not all(isinstance(i, numbers.Integral) and not isinstance(i, bool) and 0 <= i < len(slices)
                       for i in indices)):
        raise ValueError(f"use must be distinct block indices in [0, {len(slices)}); got {use!r}.")
    return [slices[i] for i in indices]


class BlockEnsemble(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """One clone of ``estimator`` per block of columns, the class probabilities averaged.

    Late fusion over a backbone's layers (``blocks`` = the cache's ``layer_dims``) or over
    several backbones' embeddings side by side: each block gets its own model (its own
    per-domain scaling, alignment and head when ``estimator`` is one of
    :func:`featx.make_method`'s), so CORAL aligns each layer's covariance on its own rather
    than one 1,800-d covariance, and a layer that transfers badly is outvoted instead of
    diluting the others' features. With pseudo-labelling members this is the alignment +
    pseudo-labels + ensembling recipe of PACE (Liao et al. 2022), except that each member
    pseudo-labels from its own predictions, not from the ensemble's (:class:`PACE` shares
    the ensemble's). With one block in ``use``
    it is that block's model: a layer chosen out of a multi-layer extraction.

    Parameters
    ----------
    estimator : domain-aware classifier, optional
        Default :class:`featx.adapt.AdaptThenClassify` (CORAL then logistic regression). A
        plain classifier works too when ``fit`` and ``predict`` get no ``sample_domain``.
    blocks : sequence of int, optional
        Width of each block, in column order (see :func:`block_slices`); default one block of
        every column.
    use : sequence of int, optional
        Indices of the blocks that get a model; default all of them.

    Attributes
    ----------
    estimators_ : list
        One fitted clone per used block, in the order of ``use``.
    slices_ : list of slice
        The columns of each used block.
    classes_ : ndarray
    n_features_in_ : int

    References
    ----------
    .. [1] C. Liao, T. Tsiligkaridis, B. Kulis. "Pick up the PACE: Fast and Simple Domain
       Adaptation via Ensemble Pseudo-Labeling." arXiv:2205.13508, 2022.
    """

    __metadata_request__fit = {"sample_domain": True}
    __metadata_request__predict = {"sample_domain": True}
    __metadata_request__predict_proba = {"sample_domain": True}

    def __init__(self, estimator=None, *, blocks=None, use=None):
        self.estimator = estimator
        self.blocks = blocks
        self.use = use

    def fit(self, X, y, *, sample_domain=None):
        """Fit one clone of ``estimator`` on the columns of each used block.

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
        X, y, sd, keep = check_labelled_source(self, X, y, sample_domain)
        self.slices_ = used_block_slices(self.blocks, self.use, X.shape[1])
        self.classes_ = np.unique(y[keep])
        # members infer the domains from y == -1 as this did when none are given, so a plain
        # classifier (no sample_domain) can be a member of a single-domain ensemble
        kwargs = {} if sample_domain is None else {"sample_domain": sd}
        member = AdaptThenClassify() if self.estimator is None else self.estimator
        self.estimators_ = [clone(member).fit(X[:, s], y, **kwargs) for s in self.slices_]
        return self

    def predict_proba(self, X, sample_domain=None):
        """Mean of the members' class probabilities (a member's one-hot vote when it has no
        ``predict_proba``), columns in ``classes_``; ``sample_domain`` is passed to every member."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        kwargs = {} if sample_domain is None else {"sample_domain": sample_domain}
        return mean_member_proba(self.estimators_, self.classes_, [X[:, s] for s in self.slices_], kwargs)

    def predict(self, X, sample_domain=None):
        """The class of the largest mean probability."""
        proba = self.predict_proba(X, sample_domain)
        return self.classes_[proba.argmax(axis=1)]
