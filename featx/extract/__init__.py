"""Batched, frozen-backbone extraction into the keyed HDF5 feature cache.

Reading, listing, checking and removing cache files needs neither torch nor scikit-learn
(``featx cache ls`` starts in a fraction of a second); the extraction API and
:class:`Embedder` are imported on first use.
"""

from featx.extract._cache import default_cache_dir, list_cache, remove_cache, verify_cache
from featx.extract._key import cache_key
from featx.extract._lookup import find_rows, key_settings
from featx.extract._reader import CacheReader, cache_info, read_cache
from featx.utils.lazy import lazy_getattr

#: Names importing torch or scikit-learn, and the module each lives in (loaded on first use).
__getattr__ = lazy_getattr(__name__, {
    "extract_features": "._api",
    "load_features": "._api",
    "PROVENANCE_FIELDS": "._embedder",
    "Embedder": "._embedder",
})

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
