"""Data sources: image folders, CSV manifests, in-memory images and built-in sets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from featx.data._builtin import BUILTIN_SOURCES, load_digits_images, load_shifted_digits_images
from featx.data._images import IMAGE_EXTENSIONS, RESAMPLE, resize_and_crop, to_rgb
from featx.data._files import ImageFiles, ImageFolder, Manifest
from featx.data._sources import ConcatSource, ImageSource, InMemoryImages, SourceSubset
from featx.data._synthetic import make_shifted_domains

__all__ = [
    "IMAGE_EXTENSIONS",
    "RESAMPLE",
    "ConcatSource",
    "ImageFiles",
    "ImageFolder",
    "ImageSource",
    "InMemoryImages",
    "Manifest",
    "SourceSubset",
    "load_digits_images",
    "load_shifted_digits_images",
    "make_shifted_domains",
    "open_source",
    "resize_and_crop",
    "to_rgb",
]


def open_source(spec, labels=None, **kwargs) -> ImageSource:
    """Turn a data specification into a source.

    Parameters
    ----------
    spec : str, Path, ImageSource, sequence or ndarray
        ``builtin:<name>`` (``builtin:digits``), a folder (:class:`ImageFolder`), a ``.csv``
        manifest (:class:`Manifest`), an image file or a list of image files
        (:class:`ImageFiles`), a list of PIL images or an image array (N, H, W[, C])
        (:class:`InMemoryImages`), or a source, returned as is.
    labels : sequence, optional
        One label per image, only for a list of files, a list of images or an array (a folder
        or manifest carries its own).
    **kwargs
        Passed to the source's constructor (``allow_outside_root=True`` for a manifest whose
        paths leave its folder, say).

    Returns
    -------
    ImageSource

    Raises
    ------
    ValueError
        For a specification of none of these kinds, an empty list, a list mixing files and
        images, or ``labels`` given with a folder, manifest or built-in set.
    """
    if isinstance(spec, ImageSource):
        _no_labels(labels, spec)
        return spec
    if isinstance(spec, np.ndarray):
        return InMemoryImages(spec, labels, **kwargs)
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise ValueError("Expected images to read; got an empty list.")
        paths = [_path_like(s) for s in spec]
        if any(paths) and not all(paths):
            raise ValueError("A list of images must be all image files (paths) or all images (PIL or arrays); "
                             "got a mix of both.")
        return (ImageFiles if all(paths) else InMemoryImages)(spec, labels, **kwargs)
    if not _path_like(spec):
        raise ValueError(f"Cannot read images from a {type(spec).__name__}: expected an image folder, a .csv "
                         "manifest, image file paths, PIL images, an image array or builtin:<name>.")
    text = str(spec)
    if text.startswith("builtin:"):
        name = text.split(":", 1)[1]
        if name not in BUILTIN_SOURCES:
            raise ValueError(f"Unknown built-in data set {name!r}; expected one of {sorted(BUILTIN_SOURCES)}.")
        return _no_labels(labels, BUILTIN_SOURCES[name](**kwargs))
    path = Path(text)
    if path.is_dir():
        return _no_labels(labels, ImageFolder(path, **kwargs))
    if path.suffix.lower() == ".csv" and path.is_file():
        return _no_labels(labels, Manifest(path, **kwargs))
    if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file():
        return ImageFiles([path], labels, **kwargs)
    raise ValueError(
        f"Cannot read data from {text!r}: expected an image folder, a .csv manifest (path,label[,domain]), "
        f"an image file ({', '.join(IMAGE_EXTENSIONS)}) or builtin:<name> with name in {sorted(BUILTIN_SOURCES)}."
    )


def _path_like(x) -> bool:
    return isinstance(x, (str, os.PathLike))


def _no_labels(labels, source: ImageSource) -> ImageSource:
    if labels is not None:
        raise ValueError(f"Labels come from the data source itself ({type(source).__name__}: folder names, a "
                         "manifest's label column); pass labels only with a list of files or images, or an array.")
    return source
