"""Domain alignment on features: scikit-learn estimators (numpy, scipy and sklearn only)."""

from featx.adapt._base import BaseAdapter
from featx.adapt._compose import AdaptThenClassify, labelled_source_mask
from featx.adapt._coral import CORAL, coral_maps
from featx.adapt._easytl import EasyTL, intra_domain_programming
from featx.adapt._tca import BDA, JDA, TCA, mmd_vectors, transfer_components
from featx.adapt._subspace import SubspaceAlignment, pca_basis, subspace_alignment

__all__ = [
    "CORAL",
    "AdaptThenClassify",
    "BDA",
    "JDA",
    "TCA",
    "EasyTL",
    "BaseAdapter",
    "SubspaceAlignment",
    "coral_maps",
    "intra_domain_programming",
    "labelled_source_mask",
    "mmd_vectors",
    "transfer_components",
    "pca_basis",
    "subspace_alignment",
]
