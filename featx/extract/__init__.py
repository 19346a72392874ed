"""Batched, frozen-backbone extraction into the keyed HDF5 feature cache."""

from featx.extract._api import cache_key, default_cache_dir, extract_features, load_features
from featx.extract._cache import list_cache, remove_cache, verify_cache
from featx.extract._embedder import PROVENANCE_FIELDS, Embedder
from featx.extract._lookup import find_rows, key_settings
from featx.extract._reader import CacheReader, cache_info, read_cache

__all__ = [
    "PROVENANCE_FIELDS",
    "CacheReader",
    "Embedder",
    "cache_info",
    "cache_key",
    "default_cache_dir",
    "extract_features",
    "find_rows",
    "key_settings",
    "list_cache",
    "load_features",
    "read_cache",
    "remove_cache",
    "verify_cache",
]
