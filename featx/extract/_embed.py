"""Rows for any list of images: found in the cache wherever they were embedded, or computed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from featx.data import ImageFiles, SourceSubset, open_source
from featx.extract._lookup import find_rows
from featx.extract._reader import DONE, SKIPPED
from featx.runtime import ImageDecodeError


def unique_images(images):
    """``(source, rows)``: the images as a source listing each file once, and for every input
    the source row it maps to (a path given twice is embedded once)."""
    if isinstance(images, (list, tuple)) and images and all(isinstance(p, (str, os.PathLike)) for p in images):
        resolved = [Path(p).expanduser().resolve().as_posix() for p in images]
        order = list(dict.fromkeys(resolved))
        index = {p: i for i, p in enumerate(order)}
        return ImageFiles(order), np.array([index[p] for p in resolved], dtype=np.int64)
    source = open_source(images)
    return source, np.arange(len(source))


def embed_images(images, backbone, *, precision, fold_batchnorm, batch_size, device, num_workers, cache_dir,
                 progress) -> np.ndarray:
    """Features of every image, in input order, computing only those no cache file holds.

    Parameters
    ----------
    images : anything :func:`featx.data.open_source` takes
    backbone : Backbone
    precision, fold_batchnorm, batch_size, device, num_workers, cache_dir, progress
        As for :func:`featx.extract_features`.

    Returns
    -------
    ndarray of shape (n_images, n_features), float32

    Raises
    ------
    ImageDecodeError
        Naming every image that cannot be read (its reason stays in the cache).
    """
    from featx.extract._api import extract_features
    from featx.extract._key import cache_target
    from featx.extract._cache import default_cache_dir

    source, rows = unique_images(images)
    stamps, where = source.content_stamps(), source.locations()
    cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
    target = cache_target(backbone, source, precision, fold_batchnorm, stamps, False, cache_dir)
    found = find_rows(target.path.parent, target.key, source.ids, stamps, where)
    missing = np.flatnonzero(~found.found)
    if len(missing):  # computed now; the FeatureSet names its rows by id, its unreadable ones in "skipped"
        part = source if len(missing) == len(source) else SourceSubset(source, missing)
        fs = extract_features(part, backbone, cache_dir=cache_dir, batch_size=batch_size, device=device,
                              precision=precision, num_workers=num_workers, fold_batchnorm=fold_batchnorm,
                              progress=progress)
        if found.X.shape[1] != fs.X.shape[1]:
            found.X = np.zeros((len(source), fs.X.shape[1]), np.float32)
        index = {sid: i for i, sid in enumerate(source.ids)}
        done = np.array([index[sid] for sid in fs.ids], dtype=np.int64)
        found.X[done], found.status[done] = fs.X, DONE
        for sid, reason in fs.metadata["skipped"]:
            found.status[index[sid]], found.reasons[index[sid]] = SKIPPED, reason
    bad = np.flatnonzero(found.status != DONE)
    if len(bad):
        listed = "; ".join(f"{source.ids[i]} ({found.reasons[i]})" for i in bad[:5])
        raise ImageDecodeError(f"{len(bad)} of {len(source)} images cannot be read: {listed}"
                               f"{' ...' if len(bad) > 5 else ''}. Remove or repair them.")
    return found.X[rows]
