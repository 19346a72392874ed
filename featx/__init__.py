"""featx: frozen pretrained features, cached in HDF5, for scikit-learn.

A fully frozen backbone turns images into embeddings once; the embeddings are cached in
HDF5, keyed by everything that produced them, and handed to scikit-learn as a
:class:`FeatureSet`.

``import featx`` does not import torch: the extraction API is loaded on first use.
"""

from featx._version import __version__
from featx.features import FeatureSet

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

_LAZY = {
    "Embedder": "featx.extract",
    "extract_features": "featx.extract",
    "load_features": "featx.extract",
    "create_backbone": "featx.backbones",
    "list_backbones": "featx.backbones",
    "make_method": "featx.methods",
    "rank": "featx.transferability",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'featx' has no attribute {name!r}")
