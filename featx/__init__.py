"""featx: frozen pretrained features, cached in HDF5, for scikit-learn.

A fully frozen backbone turns images into embeddings once; the embeddings are cached in
HDF5, keyed by everything that produced them, and handed to scikit-learn as a
:class:`FeatureSet`.

``import featx`` does not import torch: the extraction API is loaded on first use.
"""

from featx._version import __version__
from featx.features import FeatureSet
from featx.utils.lazy import lazy_getattr

__all__ = [
    "Embedder",
    "FeatureSet",
    "__version__",
    "create_backbone",
    "extract_features",
    "list_backbones",
    "load_features",
    "make_method",
    "rank",
]

__getattr__ = lazy_getattr(__name__, {
    "Embedder": "featx.extract",
    "extract_features": "featx.extract",
    "load_features": "featx.extract",
    "create_backbone": "featx.backbones",
    "list_backbones": "featx.backbones",
    "make_method": "featx.methods",
    "rank": "featx.transferability",
})
