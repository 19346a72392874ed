"""Reading cache files: one :class:`CacheReader` opens a file once for its status flags,
metadata and rows; the module's functions are thin calls of it."""

from __future__ import annotations

import json
import os
import zlib
from functools import cached_property
from pathlib import Path

import numpy as np

from featx.features import FeatureSet

DONE, SKIPPED = 1, 2


def h5py_module():
    """``h5py``, imported on first use (``featx.extract`` stays cheap to import)."""
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError("The feature cache needs h5py: pip install h5py") from exc
    return h5py


def decoded_attrs(f) -> dict:
    """A file's attributes as Python values, JSON-encoded ones decoded."""
    out = {}
    for k, v in f.attrs.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, str) and v[:1] in "[{":
            try:
                v = json.loads(v)
            except ValueError:
                pass
        out[k] = v
    return out


def block_problem(chunk: int, lo: int, block: np.ndarray, crc: int) -> str | None:
    """What is wrong with checksum block ``chunk`` (rows ``lo`` on, read as ``block``), given its
    stored CRC-32 ``crc``; ``None`` when it matches and is finite (NaN is never a feature)."""
    rows = f"chunk {chunk} (rows {lo}-{lo + len(block) - 1})"
    if zlib.crc32(np.ascontiguousarray(block).tobytes()) != crc:
        return f"{rows} does not match its checksum"
    if not np.isfinite(block).all():
        return f"{rows} holds NaN or inf"
    return None


def skipped_rows(f, status) -> list[tuple[str, str]]:
    """``(id, reason)`` of every skipped row."""
    rows = np.flatnonzero(status == SKIPPED)
    if not len(rows):
        return []
    ids = f["ids"].asstr()[:]
    return [(str(ids[i]), f["errors"][i].decode("utf-8", "replace")) for i in rows]


class CacheReader:
    """A cache file opened read-only, once, for everything a reader asks of it.

    ``status`` is read first and kept, so rows reported done are on disk whatever a
    concurrent writer does afterwards (writers flag a row only after its bytes are flushed).

    Parameters
    ----------
    path : str or Path
        The ``.h5`` file.

    Raises
    ------
    OSError
        If the file is missing or is not HDF5.

    Examples
    --------
    >>> with CacheReader(path) as cache:  # doctest: +SKIP
    ...     print(cache.n_done, cache.metadata["backbone"])
    ...     fs = cache.feature_set()
    """

    def __init__(self, path):
        self.path = Path(path)
        self._file = h5py_module().File(self.path, "r", locking=False)

    @classmethod
    def open_for(cls, path, key_hash: str) -> CacheReader | None:
        """A reader of ``path`` when it exists, opens and was made for ``key_hash``; else ``None``."""
        try:
            reader = cls(path)
        except OSError:
            return None
        if reader.key_hash != key_hash:
            reader.close()
            return None
        return reader

    @property
    def key_hash(self) -> str | None:
        value = self._file.attrs.get("key_hash")
        return value.decode() if isinstance(value, bytes) else value

    @cached_property
    def status(self) -> np.ndarray:
        """Per-row flags: 0 pending, 1 done, 2 skipped."""
        return self._file["status"][:]

    @cached_property
    def metadata(self) -> dict:
        """The key, provenance and format attributes."""
        return decoded_attrs(self._file)

    @property
    def n_rows(self) -> int:
        return len(self.status)

    @property
    def n_done(self) -> int:
        return int((self.status == DONE).sum())

    @property
    def complete(self) -> bool:
        """No row is pending (every one is done or skipped)."""
        return not (self.status == 0).any()

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return skipped_rows(self._file, self.status)

    @property
    def batch_size(self) -> int | None:
        """The batch size the file was made with (``None`` when it records none)."""
        value = self._file.attrs.get("batch_size")
        return int(value) if isinstance(value, (int, np.integer)) and value >= 1 else None

    def rows(self, idx) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """``status``, features and skip reasons (``""`` for a row not skipped) of rows ``idx``
        (sorted indices)."""
        idx = np.asarray(idx, dtype=np.int64)
        feats = self._file["features"]
        X = feats[:][idx] if len(idx) else np.zeros((0, feats.shape[1]), np.float32)
        status, errors = self.status[idx], self._file["errors"][:][idx]
        return status, X, [e.decode("utf-8", "replace") if s == SKIPPED else "" for s, e in zip(status, errors)]

    def feature_set(self, *, partial: bool = False) -> FeatureSet:
        """The finished rows as a :class:`FeatureSet` (all rows unless ``partial``; see :func:`read_cache`)."""
        done = self.status == DONE
        if not self.complete and not partial:
            raise ValueError(
                f"Cache file {str(self.path)!r} is incomplete: {int(done.sum())} of {done.size} rows are done. "
                "Run the same extraction again to finish it, or read it with partial=True."
            )
        f = self._file
        X = f["features"][:]
        self._check_blocks(X)
        fs = FeatureSet(
            X=X,
            y=f["labels"][:],
            ids=np.array(f["ids"].asstr()[:], dtype=object),
            domains=np.array(f["domains"].asstr()[:], dtype=object),
            classes=tuple(f["classes"].asstr()[:]),
            metadata={**self.metadata, "path": str(self.path), "skipped": self.skipped},
        )
        return fs if done.all() else fs.subset(done)

    def _check_blocks(self, X: np.ndarray) -> None:
        """Refuse features whose settled blocks fail their checksums (blocks whose checksum a
        writer has not stored yet are trusted, as their flags are)."""
        size, crc = int(self._file.attrs["chunk_rows"]), self._file["chunk_crc"][:]
        for c in np.flatnonzero(crc >= 0):
            lo = int(c) * size
            problem = block_problem(int(c), lo, X[lo : lo + size], int(crc[c]))
            if problem:
                raise OSError(f"Cache file {str(self.path)!r} is damaged: {problem}. Delete it with "
                              f"`featx cache rm {self.path}` (or featx.extract.remove_cache) and extract again.")

    def info(self) -> dict:
        """Provenance and progress, no feature data read (see :func:`cache_info`)."""
        return {**self.metadata, "n_done": self.n_done, "skipped": self.skipped, "path": str(self.path),
                "size_bytes": os.path.getsize(self.path)}

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_cache(path, *, partial: bool = False) -> FeatureSet:
    """Load a cache file as a :class:`FeatureSet`.

    Parameters
    ----------
    path : str or Path
        The ``.h5`` file.
    partial : bool, default=False
        Return only the finished rows of an incomplete file instead of raising.

    Returns
    -------
    FeatureSet
        ``metadata`` holds the file's key and provenance, its ``path`` and the ``skipped``
        ``(id, reason)`` pairs.
    """
    with CacheReader(path) as cache:
        return cache.feature_set(partial=partial)


def cache_info(path) -> dict:
    """Provenance and progress of a cache file (no feature data is read).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict
        The file's attributes plus ``n_done``, ``skipped``, ``path`` and ``size_bytes``.
    """
    with CacheReader(path) as cache:
        return cache.info()


def read_rows(path, key_hash: str, idx) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """``status``, features and skip reasons of rows ``idx`` (sorted) of a cache file;
    ``None`` when the file is missing, unreadable or made for another key."""
    reader = CacheReader.open_for(path, key_hash)
    if reader is None:
        return None
    with reader:
        try:
            return reader.rows(idx)
        except (OSError, KeyError):
            return None


def read_status(path, key_hash: str) -> np.ndarray | None:
    """The ``status`` flags of a cache file, ``None`` when missing, unreadable or of another key."""
    reader = CacheReader.open_for(path, key_hash)
    if reader is None:
        return None
    with reader:
        try:
            return reader.status
        except (OSError, KeyError):
            return None


def recorded_batch_size(path) -> int | None:
    """The batch size a cache file was made with, ``None`` when there is no readable file
    or it records none (resuming with the same batches keeps features bit-identical)."""
    try:
        with CacheReader(path) as cache:
            return cache.batch_size
    except (OSError, KeyError):
        return None
