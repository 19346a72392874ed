"""The HDF5 feature cache: one file per key, crash-safe, resumable, checksummed.

Layout of ``<cache_dir>/<backbone>/<source>-<key16>.h5``::

    features   (n, d) float32, contiguous, uncompressed, storage allocated at creation
               (checksummed in blocks of ``chunk_rows`` rows, about 2 MiB each)
    status     (n,)   uint8, 0 = pending, 1 = done, 2 = skipped (an unreadable image)
    errors     (n,)   fixed-length bytes: why a skipped row was skipped (UTF-8, cut to 200 bytes)
    chunk_crc  (n_chunks,) int64, CRC-32 of each settled chunk's bytes (every row done or
               skipped; skipped rows are zeros), -1 = not yet
    ids, domains (n,) UTF-8 strings;  labels (n,) int64 (-1 = unlabelled);  classes (k,) strings
    stamps     (n,)   UTF-8 strings: each image's content stamp (file size + mtime, or a pixel
               hash), so a later key for an edited source can reuse the unchanged rows
    locations  (n,)   UTF-8 strings: each image file's absolute path ("" for in-memory images),
               so the same file listed in another source is found here (:mod:`._lookup`)
    attrs      key (JSON) and key_hash, provenance (versions, device, precision, time, ...)

Why it survives ``kill -9`` anywhere: the file is created complete (every dataset at its
final shape, storage allocated early, ids/labels/domains written) under a temporary name
and renamed into place, so after that the writer changes no HDF5 metadata at all, only raw
bytes at fixed offsets. Rows are written and flushed *before* their ``status`` flags are
set and flushed, so a row flagged done is always on disk; a skipped row's reason is
written before its flag in the same way. A resumed run recomputes exactly the pending rows
(skipped ones stay skipped: the image is part of the key, so a repaired file makes a new key).
Readers read ``status`` first and return only rows flagged done.
"""

from __future__ import annotations

import json
import logging
import os
import time
import zlib
from pathlib import Path

import numpy as np

from featx.extract._lock import uninterrupted
from featx.extract._reader import DONE, SKIPPED, block_problem, h5py_module

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2
REASON_BYTES = 200
# Checksum blocks of about 2 MiB: cheap to re-hash when a block settles. The features are stored
# contiguous and uncompressed: in benchmarks/cache_read.py (100k x 1280) contiguous storage read
# 1.5x faster than 2 MiB HDF5 chunks (warm 4.7 vs 3.2 GB/s, cold 2.1 vs 1.3), LZF saved nothing
# on float32 embeddings and gzip-1 saved 7% at a 25x slower read; fixed offsets keep writes in place.
_CHUNK_BYTES = 2 << 20


def chunk_rows(n: int, dim: int) -> int:
    """Rows per checksum block: the largest power of two with ``rows * dim * 4 <= 2 MiB``, at most ``n``."""
    rows = 1 << max(0, int(np.floor(np.log2(max(1, _CHUNK_BYTES // (4 * dim))))))
    return max(1, min(rows, n))


def _runs(idx: np.ndarray):
    """Split sorted indices into (start, stop, offset) runs of consecutive values."""
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    offset = 0
    for part in np.split(idx, breaks):
        yield int(part[0]), int(part[-1]) + 1, offset
        offset += len(part)


def create_cache_file(path: Path, *, key: dict, key_hash: str, dim: int, ids, labels, domains, classes, attrs,
                      stamps=None, locations=None):
    """Write a complete, empty cache file under a temporary name and rename it to ``path``."""
    h5py = h5py_module()
    n = len(ids)
    rows = chunk_rows(n, dim)
    n_chunks = -(-n // rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    strings = h5py.string_dtype("utf-8")
    with h5py.File(tmp, "w") as f:
        for name, shape, dtype, chunks, fill in (
            ("features", (n, dim), "f4", None, 0.0),
            ("status", (n,), "u1", None, 0),
            ("errors", (n,), f"S{REASON_BYTES}", None, b""),
            ("chunk_crc", (n_chunks,), "i8", None, -1),
        ):
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
            if chunks:
                dcpl.set_chunk(chunks)
            dcpl.set_fill_value(np.array(fill, dtype=dtype))
            space = h5py.h5s.create_simple(shape)
            h5py.h5d.create(f.id, name.encode(), h5py.h5t.py_create(np.dtype(dtype)), space, dcpl=dcpl)
        f.create_dataset("ids", data=np.array(ids, dtype=object), dtype=strings)
        f.create_dataset("domains", data=np.array(domains, dtype=object), dtype=strings)
        if stamps is not None:
            f.create_dataset("stamps", data=np.array(stamps, dtype=object), dtype=strings)
        if locations is not None:
            f.create_dataset("locations", data=np.array(locations, dtype=object), dtype=strings)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.int64))
        f.create_dataset("classes", data=np.array(list(classes), dtype=object), dtype=strings, shape=(len(classes),))
        f.attrs.update({k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in attrs.items()})
        f.attrs.update(
            format_version=FORMAT_VERSION,
            key=json.dumps(key, sort_keys=True),
            key_hash=key_hash,
            chunk_rows=rows,
            n_samples=n,
            n_features=dim,
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )
    os.replace(tmp, path)


class CacheWriter:
    """Fills the pending rows of an existing cache file.

    Parameters
    ----------
    path : Path
        A file made by :func:`create_cache_file`.
    key_hash : str
        The key the caller computed; a file made for another key raises ``ValueError``.
    """

    def __init__(self, path: Path, key_hash: str):
        h5py = h5py_module()
        self.path = Path(path)
        self._file = h5py.File(self.path, "r+", locking=False, rdcc_nbytes=16 << 20)
        found = self._file.attrs.get("key_hash")
        if found != key_hash:
            self._file.close()
            raise ValueError(f"Cache file {str(self.path)!r} was written for key {found}, not for key {key_hash}.")
        self._features = self._file["features"]
        self._status = self._file["status"]
        self._errors = self._file["errors"]
        self._crc = self._file["chunk_crc"]
        self._rows = int(self._file.attrs["chunk_rows"])
        self.done = self._status[:] != 0  # done or skipped: settled either way
        self._fill_missing_checksums(range(len(self._crc)))

    @property
    def status(self) -> np.ndarray:
        """Per-row flags as stored: 0 pending, 1 done, 2 skipped."""
        return self._status[:]

    @property
    def pending(self) -> np.ndarray:
        """Indices of rows neither computed nor skipped."""
        return np.flatnonzero(~self.done)

    def skip(self, idx, reasons) -> None:
        """Record rows ``idx`` as skipped: their reasons first, flushed, then their flags."""
        idx = np.asarray(idx, dtype=np.int64)
        if not len(idx):
            return
        with uninterrupted():
            for i, reason in zip(idx, reasons):
                self._errors[i] = _clip_utf8(str(reason), REASON_BYTES)
            self._file.flush()
            for i in idx:
                self._status[i] = SKIPPED
            self._file.flush()
            self.done[idx] = True
            self._fill_missing_checksums(np.unique(idx // self._rows))

    def write(self, idx, features: np.ndarray) -> None:
        """Store rows ``idx``, flush, then flag them done and flush again (Ctrl-C is held off
        until all of it is done: :func:`featx.extract._lock.uninterrupted`)."""
        idx = np.asarray(idx, dtype=np.int64)
        order = np.argsort(idx, kind="stable")
        idx, features = idx[order], np.ascontiguousarray(features[order], dtype=np.float32)
        runs = list(_runs(idx))
        with uninterrupted():  # Ctrl-C lands after the batch is committed
            for start, stop, off in runs:
                self._features[start:stop] = features[off : off + stop - start]
            self._file.flush()
            for start, stop, _ in runs:
                self._status[start:stop] = DONE
            self._file.flush()
            self.done[idx] = True
            self._fill_missing_checksums(np.unique(idx // self._rows))

    def _fill_missing_checksums(self, chunks) -> None:
        crc = self._crc[:]
        wrote = False
        for c in chunks:
            lo, hi = c * self._rows, min(len(self.done), (c + 1) * self._rows)
            if crc[c] < 0 and self.done[lo:hi].all():
                self._crc[c] = zlib.crc32(self._features[lo:hi].tobytes())
                wrote = True
        if wrote:
            self._file.flush()

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._file.id.valid:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _clip_utf8(text: str, limit: int) -> bytes:
    """``text`` as UTF-8 in at most ``limit`` bytes, never cutting a character in two."""
    data = text.encode("utf-8")
    return data if len(data) <= limit else data[:limit].decode("utf-8", "ignore").encode("utf-8")


def reuse_rows(writer: CacheWriter, path: Path, key: dict, ids, stamps, locations=None) -> int:
    """Fill pending rows of ``path`` from sibling cache files made with the same settings.

    A sibling qualifies when its key equals ``key`` in everything but the data source
    (same format, backbone, weights, layers, preprocessing, precision, folding). A pending
    row takes a sibling's finished (or skipped) row of the same image through the same
    network: the same id and content stamp, or the same file (``locations``) and stamp
    (:func:`featx.extract.find_rows`). So adding, removing or editing images recomputes only
    the new or edited ones, and a file listed in another source is not embedded twice.

    Returns
    -------
    int
        Rows filled.
    """
    from featx.extract._lookup import find_rows

    pending = np.flatnonzero(~writer.done)
    if not len(pending):
        return 0
    locations = [""] * len(ids) if locations is None else locations
    found = find_rows(Path(path).parent, key, [ids[i] for i in pending], [stamps[i] for i in pending],
                      [locations[i] for i in pending], exclude=Path(path))
    new = pending[found.found]
    done = found.status[found.found] == DONE
    if done.any():
        writer.write(new[done], found.X[found.found][done])
    skipped = np.flatnonzero(found.found)[~done]
    writer.skip(new[~done], [found.reasons[i] for i in skipped])
    return len(new)


def verify_cache(path) -> list[str]:
    """Check a cache file; return a list of problems (empty when it is sound).

    Checks that it opens, has every dataset with consistent shapes, that every complete
    chunk's CRC-32 matches its bytes, and that finished rows are finite.
    """
    h5py = h5py_module()
    problems = []
    try:
        f = h5py.File(path, "r", locking=False)
    except Exception as exc:
        return [f"cannot open as HDF5: {exc}"]
    with f:
        names = ("features", "status", "errors", "chunk_crc", "ids", "labels", "domains", "classes")
        try:
            missing = [k for k in names if k not in f]  # a damaged heap fails even this lookup
            if missing:
                return [f"missing datasets {missing}"]
            n, rows = int(f.attrs["n_samples"]), int(f.attrs["chunk_rows"])
            shapes = {k: f[k].shape[0] for k in ("features", "status", "ids", "labels", "domains")}
            if set(shapes.values()) != {n}:
                return [f"datasets disagree on the number of rows: {shapes}, expected {n}"]
            done = f["status"][:] != 0  # done or skipped
            crc = f["chunk_crc"][:]
            for c in range(len(crc)):
                lo, hi = c * rows, min(n, (c + 1) * rows)
                if not done[lo:hi].all():
                    continue
                if crc[c] < 0:
                    problems.append(f"chunk {c} (rows {lo}-{hi - 1}) is complete but has no checksum")
                elif problem := block_problem(c, lo, f["features"][lo:hi], int(crc[c])):
                    problems.append(problem)
        except Exception as exc:
            problems.append(f"cannot read: {exc}")
    return problems


def default_cache_dir() -> Path:
    """``$FEATX_CACHE_DIR`` if set, else ``./cache``."""
    return Path(os.environ.get("FEATX_CACHE_DIR", "cache"))


def list_cache(cache_dir) -> list[Path]:
    """Every cache file under ``cache_dir``, sorted."""
    root = Path(cache_dir)
    return sorted(root.rglob("*.h5")) if root.is_dir() else []


def remove_cache(path) -> None:
    """Delete a cache file with its lock and any temporary leftovers."""
    path = Path(path)
    if path.suffix != ".h5":
        raise ValueError(f"Refusing to remove {str(path)!r}: not a featx cache file (.h5).")
    for p in [path, path.with_name(path.name + ".lock"), *path.parent.glob(path.name + ".tmp*")]:
        p.unlink(missing_ok=True)
