"""Batched, frozen-backbone extraction into the keyed HDF5 feature cache."""

from featx.extract._api import cache_key, default_cache_dir, extract_features, load_features
from featx.extract._cache import list_cache, remove_cache, verify_cache
from featx.extract._reader import CacheReader, cache_info, read_cache
from featx.runtime import ImageDecodeError, resolve_device

__all__ = [
    "CacheReader",
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
