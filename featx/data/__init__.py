"""Data sources: image folders, CSV manifests, in-memory images and built-in sets."""

from __future__ import annotations

from pathlib import Path

from featx.data._builtin import BUILTIN_SOURCES, load_digits_images, load_shifted_digits_images
from featx.data._images import IMAGE_EXTENSIONS, RESAMPLE, resize_and_crop, to_rgb
from featx.data._sources import ConcatSource, ImageFolder, ImageSource, InMemoryImages, Manifest, SourceSubset

__all__ = [
    "IMAGE_EXTENSIONS",
    "RESAMPLE",
    "ConcatSource",
    "ImageFolder",
    "ImageSource",
    "InMemoryImages",
    "Manifest",
    "SourceSubset",
    "load_digits_images",
    "load_shifted_digits_images",
    "open_source",
    "resize_and_crop",
    "to_rgb",
]


def open_source(spec, **kwargs) -> ImageSource:
    """Turn a data specification into a source.

    Parameters
    ----------
    spec : str, Path or ImageSource
        ``builtin:<name>`` (``builtin:digits``), a folder (:class:`ImageFolder`), a ``.csv``
        manifest (:class:`Manifest`), or a source, returned as is.
    **kwargs
        Passed to the source's constructor.

    Returns
    -------
    ImageSource
    """
    if isinstance(spec, ImageSource):
        return spec
    text = str(spec)
    if text.startswith("builtin:"):
        name = text.split(":", 1)[1]
        if name not in BUILTIN_SOURCES:
            raise ValueError(f"Unknown built-in data set {name!r}; expected one of {sorted(BUILTIN_SOURCES)}.")
        return BUILTIN_SOURCES[name](**kwargs)
    path = Path(text)
    if path.is_dir():
        return ImageFolder(path, **kwargs)
    if path.suffix.lower() == ".csv" and path.is_file():
        return Manifest(path, **kwargs)
    raise ValueError(
        f"Cannot read data from {text!r}: expected an image folder, a .csv manifest "
        f"(path,label[,domain]) or builtin:<name> with name in {sorted(BUILTIN_SOURCES)}."
    )
