"""Per-domain standardisation: each domain to zero mean and unit variance."""

from __future__ import annotations

from sklearn.base import OneToOneFeatureMixin

from featx.adapt._base import BaseAdapter
from featx.domains import domain_moments


class DomainStandardScaler(OneToOneFeatureMixin, BaseAdapter):
    """Standardise source and target rows each with their own domain's moments.

    .. math::

        z = (x - \\mu_S) / \\sigma_S \\text{ for source rows}, \\qquad
        z = (x - \\mu_T) / \\sigma_T \\text{ for target rows},

    matching the first two moments of every feature across domains. It is the usual first
    step of shallow domain adaptation on Office-Caltech and MNIST-USPS features, and the
    feature-space analogue of AdaBN (Li, Wang, Shi, Liu & Hou, "Revisiting batch
    normalization for practical domain adaptation", ICLR-W 2017), which re-estimates
    batch-norm statistics on the target domain. Unlike CORAL it also removes the shift of
    the means, which is the larger part of many shifts seen by a frozen network.

    Attributes
    ----------
    mean_source_, scale_source_, mean_target_, scale_target_ : ndarray of shape (n_features,)
        Per-feature moments of each domain (a zero deviation stored as 1). Without target
        rows the target moments are the source's.
    n_features_in_ : int
    """

    def _fit(self, Xs, Xt, y_source):
        self.mean_source_, self.scale_source_ = domain_moments(Xs)
        self.mean_target_, self.scale_target_ = domain_moments(Xt)

    def _map(self, X, is_source):
        if is_source:
            return (X - self.mean_source_) / self.scale_source_
        return (X - self.mean_target_) / self.scale_target_
