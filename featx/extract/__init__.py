"""Batched, frozen-backbone extraction into the keyed HDF5 feature cache."""

from featx.extract._api import cache_key, default_cache_dir, extract_features, load_features
from featx.extract._cache import cache_info, list_cache, read_cache, remove_cache, verify_cache
from featx.extract._device import resolve_device
from featx.extract._loader import ImageDecodeError

__all__ = [
    "ImageDecodeError",
    "cache_info",
    "cache_key",
    "default_cache_dir",
    "extract_features",
    "list_cache",
    "load_features",
    "read_cache",
    "remove_cache",
    "resolve_device",
    "verify_cache",
]
