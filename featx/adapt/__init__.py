"""Domain alignment on features: scikit-learn estimators (numpy, scipy and sklearn only)."""

from featx.adapt._base import BaseAdapter
from featx.adapt._compose import AdaptThenClassify, labelled_source_mask
from featx.adapt._coral import CORAL, coral_maps
from featx.adapt._subspace import SubspaceAlignment, pca_basis, subspace_alignment

__all__ = [
    "CORAL",
    "AdaptThenClassify",
    "BaseAdapter",
    "SubspaceAlignment",
    "coral_maps",
    "labelled_source_mask",
    "pca_basis",
    "subspace_alignment",
]
