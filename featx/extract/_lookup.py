"""Finding rows already embedded: the same image through the same network, in any cache file.

A cache file belongs to one data source, but the same image can be listed by many: a
training folder, then a list of new paths that includes some of its files, or a predict
call tomorrow on a file embedded today. A row is identified without reading the image:

- a file by its absolute path and content stamp (size and modification time in
  nanoseconds): one ``stat``, so a lookup of 100,000 cached images reads no image bytes.
  An edited file changes its stamp and is computed again; a copied or moved file is computed
  once more (its path changed), which costs time but is never stale;
- an image held in memory by its stamp, a SHA-256 of its RGB pixels and size;
- within one source, by its id and stamp (the lookup an edited folder's new key relies on).

Hashing file contents instead would also find copies, but would read every byte of every
image on every call, a fully cached call included.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from featx.extract._reader import DONE, block_problem, h5py_module

logger = logging.getLogger(__name__)


@dataclass
class FoundRows:
    """What :func:`find_rows` found for each asked row.

    Attributes
    ----------
    found : ndarray of bool, shape (n,)
    status : ndarray of uint8, shape (n,)
        1 done, 2 skipped (an unreadable image), 0 not found.
    X : ndarray of float32, shape (n, d)
        The features of done rows (zeros elsewhere; ``d`` is 0 when nothing was found).
    reasons : list of str
        Why a skipped row was skipped (``""`` elsewhere).
    """

    found: np.ndarray
    status: np.ndarray
    X: np.ndarray
    reasons: list


def key_settings(key: dict) -> dict:
    """The part of a cache key that says how rows were computed: everything but the data source."""
    return {k: v for k, v in key.items() if k != "source"}


def row_identities(sid: str, stamp: str, location: str) -> list[tuple]:
    """The names one row goes by: its id with its stamp, and its file with its stamp (a file)
    or its pixel hash (an image in memory, ``location == ""``)."""
    return [("id", sid, stamp), ("at", location, stamp) if location else ("px", stamp)]


def find_rows(folder, key: dict, ids, stamps, locations, *, exclude=None) -> FoundRows:
    """Look up rows in the cache files of ``folder`` made with ``key``'s settings.

    Parameters
    ----------
    folder : Path
        A backbone's cache folder (``<cache_dir>/<backbone>``).
    key : dict
        A cache key (:func:`featx.extract.cache_key`); files whose key differs in anything but
        the data source are not read.
    ids, stamps, locations : sequence of str
        The asked rows' ids, content stamps and locations
        (:meth:`featx.data.ImageSource.locations`).
    exclude : Path, optional
        A file not to read (the one being filled).

    Returns
    -------
    FoundRows
        A donor's rows are used only where the checksums of the blocks holding them match; a
        file that fails is logged and passed over.
    """
    n = len(ids)
    want = {}
    for r, (sid, stamp, where) in enumerate(zip(ids, stamps, locations)):
        for ident in row_identities(sid, stamp, where):
            want.setdefault(ident, r)
    out = FoundRows(np.zeros(n, bool), np.zeros(n, np.uint8), np.zeros((n, 0), np.float32), [""] * n)
    same = key_settings(key)
    for other in sorted(Path(folder).glob("*.h5")) if Path(folder).is_dir() else []:
        if out.found.all():
            break
        if exclude is not None and other == Path(exclude):
            continue
        try:
            _take_from(other, same, want, out)
        except (OSError, KeyError, ValueError) as exc:
            logger.debug("%s is no donor: %s", other, exc)
    return out


def _take_from(path: Path, same: dict, want: dict, out: FoundRows) -> None:
    h5py = h5py_module()
    with h5py.File(path, "r", locking=False) as f:
        if key_settings(json.loads(f.attrs["key"])) != same or "stamps" not in f:
            return
        status = f["status"][:]
        ids, stamps = f["ids"].asstr()[:], f["stamps"].asstr()[:]
        where = f["locations"].asstr()[:] if "locations" in f else None
        pairs = []  # (row of this file, asked row)
        for j in np.flatnonzero(status != 0):
            for ident in row_identities(ids[j], stamps[j], where[j]) if where is not None else [("id", ids[j],
                                                                                                   stamps[j])]:
                r = want.get(ident)
                if r is not None and not out.found[r]:
                    pairs.append((j, r))
                    break
        if not pairs:
            return
        theirs, ours = (np.asarray(c, dtype=np.int64) for c in zip(*pairs))
        order = np.argsort(theirs, kind="stable")
        theirs, ours = theirs[order], ours[order]
        bad = _failed_chunks(f, theirs, status)
        if bad:  # the damaged blocks are passed over; the sound ones still give their rows
            logger.warning("not reusing %d block(s) of %s: %s (see `featx cache verify`)", len(bad), path,
                           next(iter(bad.values())))
            keep = ~np.isin(theirs // int(f.attrs["chunk_rows"]), list(bad))
            theirs, ours = theirs[keep], ours[keep]
            if not len(theirs):
                return
        first = np.r_[True, theirs[1:] != theirs[:-1]]
        X = f["features"][theirs[first]][np.cumsum(first) - 1]
        reasons = f["errors"][theirs[first]][np.cumsum(first) - 1]
    if out.X.shape[1] != X.shape[1]:
        out.X = np.zeros((len(out.found), X.shape[1]), np.float32)
    done = status[theirs] == DONE
    out.X[ours[done]] = X[done]
    out.status[ours] = status[theirs]
    for r, reason, d in zip(ours, reasons, done):
        out.reasons[r] = "" if d else reason.decode("utf-8", "replace")
    out.found[ours] = True
    logger.info("found %d rows in %s", len(ours), path)


def _failed_chunks(f, rows, status) -> dict[int, str]:
    """The problem of each checksum block holding ``rows`` that fails (settled blocks only; rows of
    a block still being written are trusted as readers trust them: flagged only after their bytes)."""
    size = int(f.attrs["chunk_rows"])
    crc = f["chunk_crc"][:]
    problems = {}
    for c in np.unique(rows // size):
        lo, hi = int(c) * size, min(len(status), (int(c) + 1) * size)
        if crc[c] < 0:
            continue
        if problem := block_problem(int(c), lo, f["features"][lo:hi], int(crc[c])):
            problems[int(c)] = problem
    return problems
