"""Domain alignment on features: scikit-learn estimators (numpy, scipy and sklearn only)."""

from featx.adapt._base import BaseAdapter
from featx.adapt._blocks import BlockEnsemble, block_slices
from featx.adapt._compose import AdaptThenClassify
from featx.adapt._coral import CORAL, CovPower, coral_maps, cov_power
from featx.adapt._easytl import EasyTL, intra_domain_programming
from featx.adapt._gfk import GFK, geodesic_flow_factor
from featx.adapt._kernel import FeatureMap
from featx.adapt._meda import MEDA, adaptive_balance, cosine_knn_laplacian, linear_a_distance, meda_coefficients
from featx.adapt._jdot import JDOT, kernel_ridge_fit
from featx.adapt._ot import OTMapping, barycentric_map, class_regularised_plan, shifted_cost
from featx.adapt._pace import PACE
from featx.adapt._sources import PerSourceEnsemble, PooledSources
from featx.adapt._scale import DomainStandardScaler
from featx.adapt._scaled import MIN_DOMAIN_ROWS, DomainScaled
from featx.adapt._tca import BDA, JDA, TCA, mmd_vectors, transfer_components
from featx.adapt._subspace import SubspaceAlignment, pca_basis, subspace_alignment

__all__ = [
    "CORAL",
    "AdaptThenClassify",
    "BDA",
    "BlockEnsemble",
    "JDA",
    "TCA",
    "EasyTL",
    "MEDA",
    "JDOT",
    "OTMapping",
    "PACE",
    "PerSourceEnsemble",
    "PooledSources",
    "GFK",
    "BaseAdapter",
    "DomainStandardScaler",
    "DomainScaled",
    "MIN_DOMAIN_ROWS",
    "SubspaceAlignment",
    "coral_maps",
    "cov_power",
    "CovPower",
    "FeatureMap",
    "adaptive_balance",
    "barycentric_map",
    "block_slices",
    "class_regularised_plan",
    "cosine_knn_laplacian",
    "geodesic_flow_factor",
    "intra_domain_programming",
    "kernel_ridge_fit",
    "linear_a_distance",
    "meda_coefficients",
    "shifted_cost",
    "mmd_vectors",
    "transfer_components",
    "pca_basis",
    "subspace_alignment",
]
