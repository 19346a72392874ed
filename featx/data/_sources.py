"""Data sources: where samples come from, with stable ids, labels and domain names.

Every source has the same small interface, :class:`ImageSource`: ``len(source)``,
``ids``, ``labels`` (index into ``classes``, ``-1`` where unknown), ``classes``,
``domains``, ``load(i)`` returning an RGB PIL image, ``fingerprint()`` (changes whenever a
sample, label or domain changes) and ``describe()`` (JSON-able provenance). Sources are
plain picklable objects, so DataLoader workers can decode from them. The sources of image
files (a folder, a manifest, a list of files) are in ``_files.py``.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
from PIL import Image

from featx.data._images import to_rgb


def _sort_classes(names):
    names = sorted(set(names))
    try:
        return sorted(names, key=int)
    except ValueError:
        return names


def encode_labels(labels, classes=None):
    """Map label strings (``None``/empty for unknown) to indices into sorted classes."""
    known = [lab for lab in labels if lab not in (None, "")]
    classes = tuple(classes) if classes is not None else tuple(_sort_classes(known))
    index = {c: i for i, c in enumerate(classes)}
    missing = sorted(set(known) - set(index))
    if missing:
        raise ValueError(f"Labels {missing[:5]} are not among the classes {list(classes)[:10]}.")
    y = np.array([index[lab] if lab not in (None, "") else -1 for lab in labels], dtype=np.int64)
    return y, classes


class ImageSource:
    """Base class of data sources; subclasses fill the attributes in ``__init__``.

    Attributes
    ----------
    ids : list of str
        Stable, unique sample ids.
    labels : ndarray of int64
        Index into ``classes``, ``-1`` for unlabelled samples.
    classes : tuple of str
        Class names.
    domains : list of str
        Domain name of each sample.
    name : str
        Short human-readable name, used in cache file names.
    """

    ids: list[str]
    labels: np.ndarray
    classes: tuple[str, ...]
    domains: list[str]
    name: str

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, i: int) -> Image.Image:  # pragma: no cover - abstract
        """Open sample ``i`` as a PIL image (not yet converted) that the caller closes."""
        raise NotImplementedError

    def content_stamps(self) -> list[str]:  # pragma: no cover - abstract
        """One string per sample that changes when the sample's pixels may have changed
        (file size and modification time, or a hash of in-memory pixels)."""
        raise NotImplementedError

    def fingerprint(self, stamps=None) -> str:
        """Hash of every sample's id, content stamp, label and domain (``stamps``: the
        :meth:`content_stamps` already computed)."""
        h = hashlib.sha256()
        stamps = self.content_stamps() if stamps is None else stamps
        for sid, stamp, lab, dom in zip(self.ids, stamps, self.labels, self.domains):
            lab = self.classes[lab] if lab >= 0 else ""
            h.update(f"{sid}\0{stamp}\0{lab}\0{dom}\n".encode())
        return h.hexdigest()

    def describe(self) -> dict:
        """JSON-able description of the source for cache provenance."""
        return {"type": type(self).__name__, "name": self.name, "n_samples": len(self)}

    def locations(self) -> list[str]:
        """Where each sample lives: its file's absolute path, ``""`` for an image held in
        memory. With :meth:`content_stamps` it identifies a row across sources, so an image
        embedded once (in a training folder, say) is found again when listed elsewhere."""
        return [""] * len(self)

    def check_files(self) -> None:
        """Refuse a source that lists image files none of which exists (a manifest written
        elsewhere, a wrong folder), before any work is done. A few missing files are not
        refused: extraction records them as unreadable and goes on.

        Raises
        ------
        FileNotFoundError
            When the source has files and not one of them exists.
        """
        files = [where for where in self.locations() if where]
        if files and not any(map(os.path.exists, files)):  # stops at the first file found
            raise FileNotFoundError(
                f"None of the {len(files)} image files of {self.name!r} exists (the first: {files[0]!r}); expected "
                "paths to images, relative ones from the manifest's folder. Check the paths or the folder they are "
                "in.")


class InMemoryImages(ImageSource):
    """Images held in memory: a uint8 array (N, H, W[, C]) or a list of PIL images.

    Parameters
    ----------
    images : ndarray or sequence of PIL.Image
        uint8 arrays in [0, 255]; float arrays are taken to be in [0, 1].
    labels : sequence, optional
        One label per image (any hashable; stored as strings); ``None`` for unlabelled.
    ids : sequence of str, optional
        Sample ids; defaults to ``"0", "1", ...``.
    domain : str or sequence of str, default="memory"
        Domain name, one for all or one per image.
    name : str, default="memory"
        Short name used in cache file names.
    classes : sequence of str, optional
        Class order; defaults to the sorted label names.
    """

    def __init__(self, images, labels=None, *, ids=None, domain="memory", name="memory", classes=None):
        if isinstance(images, np.ndarray):
            if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3, 4)):
                raise ValueError(
                    f"images must have shape (N, H, W) or (N, H, W, C) with C in (1, 3, 4); got {images.shape}."
                )
            if images.dtype != np.uint8:
                images = np.clip(np.rint(np.asarray(images, dtype=np.float64) * 255), 0, 255).astype(np.uint8)
        self.images = images
        n = len(images)
        self.ids = [str(i) for i in range(n)] if ids is None else [str(i) for i in ids]
        if len(self.ids) != n or len(set(self.ids)) != n:
            raise ValueError(f"ids must be {n} unique values; got {len(self.ids)} ({len(set(self.ids))} unique).")
        labels = [None] * n if labels is None else [None if lab is None else str(lab) for lab in labels]
        if len(labels) != n:
            raise ValueError(f"Expected {n} labels, one per image; got {len(labels)}.")
        self.labels, self.classes = encode_labels(labels,
                                                  classes=None if classes is None else [str(c) for c in classes])
        self.domains = [domain] * n if isinstance(domain, str) else [str(d) for d in domain]
        if len(self.domains) != n:
            raise ValueError(f"Expected {n} domain names, one per image; got {len(self.domains)}.")
        self.name = name

    def load(self, i: int) -> Image.Image:
        img = self.images[i]
        if isinstance(img, np.ndarray):
            return Image.fromarray(img[..., 0] if img.ndim == 3 and img.shape[-1] == 1 else img)
        return img.copy()

    def content_stamps(self) -> list[str]:
        out = []
        for i in range(len(self)):
            img = to_rgb(self.load(i))
            out.append(hashlib.sha256(np.asarray(img).tobytes() + str(img.size).encode()).hexdigest())
        return out


class SourceSubset(ImageSource):
    """Rows ``indices`` of another source, with their ids, labels and domains."""

    def __init__(self, parent: ImageSource, indices):
        self.parent = parent
        self.indices = np.asarray(indices, dtype=np.int64)
        self.ids = [parent.ids[i] for i in self.indices]
        self.labels = np.asarray(parent.labels)[self.indices]
        self.classes = parent.classes
        self.domains = [parent.domains[i] for i in self.indices]
        self.name = parent.name

    def load(self, i: int):
        return self.parent.load(int(self.indices[i]))

    def content_stamps(self) -> list[str]:
        stamps = self.parent.content_stamps()
        return [stamps[i] for i in self.indices]

    def describe(self) -> dict:
        return {**self.parent.describe(), "subset_of": len(self.parent), "n_samples": len(self)}

    def locations(self) -> list[str]:
        where = self.parent.locations()
        return [where[i] for i in self.indices]


class ConcatSource(ImageSource):
    """Several sources as one, each a domain of its own (several labelled source domains).

    Parameters
    ----------
    sources : sequence of ImageSource
        With the same classes, in the same order.
    domains : sequence of str, optional
        The domain name of each source's rows; default each source's ``name``, numbered when
        two names repeat. Ids are prefixed with the domain (``"mnist/0/img.png"``) to stay unique.

    Raises
    ------
    ValueError
        With no source, classes that differ, or ``domains`` of another length or with repeats.
    """

    def __init__(self, sources, domains=None):
        self.sources = list(sources)
        if not self.sources:
            raise ValueError("ConcatSource needs at least one source; got none.")
        first = self.sources[0]
        for s in self.sources[1:]:
            if tuple(s.classes) != tuple(first.classes):
                raise ValueError(f"ConcatSource's sources must share their classes; got {list(s.classes)} and "
                                 f"{list(first.classes)}.")
        if domains is None:
            names = [s.name for s in self.sources]
            domains = [n if names.count(n) == 1 else f"{n}-{i + 1}" for i, n in enumerate(names)]
        domains = [str(d) for d in domains]
        if len(domains) != len(self.sources) or len(set(domains)) != len(domains):
            raise ValueError(f"ConcatSource needs one distinct domain name per source ({len(self.sources)}); "
                             f"got {domains}.")
        self.domain_names = domains
        self.offsets = np.cumsum([0] + [len(s) for s in self.sources])
        self.ids = [f"{d}/{sid}" for d, s in zip(domains, self.sources) for sid in s.ids]
        self.labels = np.concatenate([np.asarray(s.labels, dtype=np.int64) for s in self.sources])
        self.classes = first.classes
        self.domains = [d for d, s in zip(domains, self.sources) for _ in range(len(s))]
        self.name = "+".join(domains)

    def _part(self, i: int):
        k = int(np.searchsorted(self.offsets, i, side="right") - 1)
        return self.sources[k], i - int(self.offsets[k])

    def load(self, i: int):
        source, j = self._part(i)
        return source.load(j)

    def content_stamps(self) -> list[str]:
        return [stamp for s in self.sources for stamp in s.content_stamps()]

    def locations(self) -> list[str]:
        return [where for s in self.sources for where in s.locations()]

    def describe(self) -> dict:
        return {"type": "ConcatSource", "name": self.name, "n_samples": len(self),
                "parts": [s.describe() for s in self.sources]}
