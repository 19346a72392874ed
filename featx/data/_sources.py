"""Data sources: where samples come from, with stable ids, labels and domain names.

Every source has the same small interface, :class:`ImageSource`: ``len(source)``,
``ids``, ``labels`` (index into ``classes``, ``-1`` where unknown), ``classes``,
``domains``, ``load(i)`` returning an RGB PIL image, ``fingerprint()`` (changes whenever a
sample, label or domain changes) and ``describe()`` (JSON-able provenance). Sources are
plain picklable objects, so DataLoader workers can decode from them.
"""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image

from featx.data._images import IMAGE_EXTENSIONS, to_rgb


def _sort_classes(names):
    names = sorted(set(names))
    try:
        return sorted(names, key=int)
    except ValueError:
        return names


def _encode(labels, classes=None):
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


class _FileSource(ImageSource):
    """A source whose samples are image files under ``root``."""

    root: Path
    paths: list[Path]

    def load(self, i: int) -> Image.Image:
        return Image.open(self.paths[i])

    def content_stamps(self) -> list[str]:
        out = []
        for p in self.paths:
            try:
                st = os.stat(p)
            except OSError as exc:  # a dangling link or a symlink loop: extraction skips it
                out.append(f"unreadable:{exc.errno}")
                continue
            out.append(f"{st.st_size}:{st.st_mtime_ns}")
        return out

    def describe(self) -> dict:
        return {**super().describe(), "root": str(self.root)}

    def locations(self) -> list[str]:
        return [str(p) for p in self.paths]


class ImageFolder(_FileSource):
    """Images in class sub-folders (``root/<class>/<image>``), or directly in ``root``.

    Parameters
    ----------
    root : str or Path
        The folder. Sub-folders are classes (sorted names); images directly in ``root``
        have no label (``-1``) when there are no class sub-folders.
    domain : str, optional
        Domain name of every sample; defaults to the folder's name.
    extensions : tuple of str
        File extensions (lower case) that count as images.

    Notes
    -----
    Sample ids are the POSIX paths relative to ``root``, sorted, so they do not depend on
    where the folder lives or on the order the file system lists it.
    """

    def __init__(self, root, *, domain: str | None = None, extensions=IMAGE_EXTENSIONS):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"ImageFolder expected a directory; {str(root)!r} is not one.")
        class_dirs = sorted(d.name for d in self.root.iterdir() if d.is_dir() and not d.name.startswith("."))
        pairs = []
        if class_dirs:
            for c in class_dirs:
                for p in _walk_images(self.root / c, extensions):
                    pairs.append((p.relative_to(self.root).as_posix(), c))
        else:
            pairs = [(p.relative_to(self.root).as_posix(), None) for p in _walk_images(self.root, extensions)]
        if not pairs:
            raise ValueError(f"No images with extensions {list(extensions)} found under {str(self.root)!r}.")
        pairs.sort()
        self.ids = [sid for sid, _ in pairs]
        self.paths = [self.root / sid for sid in self.ids]
        self.labels, self.classes = _encode([c for _, c in pairs], classes=class_dirs or ())
        self.name = self.root.name
        self.domains = [domain or self.name] * len(self.ids)


def _walk_images(folder: Path, extensions):
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for f in filenames:
            if not f.startswith(".") and f.lower().endswith(tuple(extensions)):
                yield Path(dirpath) / f


class Manifest(_FileSource):
    """Images listed in a CSV file with a header: ``path`` and optional ``label``, ``domain``.

    Parameters
    ----------
    csv_path : str or Path
        The manifest. Relative paths in it are relative to ``root``.
    root : str or Path, optional
        Folder the paths are relative to; defaults to the CSV's folder.
    domain : str, optional
        Domain for rows without a ``domain`` column; defaults to the CSV's stem.
    allow_outside_root : bool, default=False
        Accept paths that resolve outside ``root`` (absolute paths, ``..``).

    Notes
    -----
    Sample ids are the paths as written in the CSV. An empty ``label`` cell means
    unlabelled.
    """

    def __init__(self, csv_path, *, root=None, domain: str | None = None, allow_outside_root: bool = False):
        csv_path = Path(csv_path)
        self.root = Path(root).resolve() if root is not None else csv_path.resolve().parent
        with open(csv_path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            if "path" not in header:
                raise ValueError(
                    f"Manifest {str(csv_path)!r} must have a header with a 'path' column "
                    f"(and optional 'label', 'domain'); got columns {header}."
                )
            rows = list(reader)
        if not rows:
            raise ValueError(f"Manifest {str(csv_path)!r} lists no images.")
        self.ids, self.paths, labels, self.domains = [], [], [], []
        for lineno, row in enumerate(rows, start=2):
            sid = (row.get("path") or "").strip()
            if not sid:
                raise ValueError(f"Manifest {str(csv_path)!r}, line {lineno}: empty 'path'.")
            path = (self.root / sid).resolve()
            if not allow_outside_root and not path.is_relative_to(self.root):
                raise ValueError(
                    f"Manifest {str(csv_path)!r}, line {lineno}: path {sid!r} resolves outside the data "
                    f"root {str(self.root)!r}; pass allow_outside_root=True (on the command line: "
                    "--allow-outside-root) to accept it."
                )
            self.ids.append(sid)
            self.paths.append(path)
            labels.append((row.get("label") or "").strip() or None)
            self.domains.append((row.get("domain") or "").strip() or domain or csv_path.stem)
        dupes = len(self.ids) - len(set(self.ids))
        if dupes:
            raise ValueError(f"Manifest {str(csv_path)!r} lists {dupes} path(s) more than once.")
        self.labels, self.classes = _encode(labels)
        self.name = csv_path.stem


class ImageFiles(_FileSource):
    """Image files listed one by one (new images to embed or predict, say).

    Parameters
    ----------
    paths : sequence of str or Path
        The files; each is resolved to an absolute path, which is its id. A path that does not
        exist or does not decode is recorded as unreadable by extraction, not refused here.
    labels : sequence, optional
        One label per file (stored as strings); ``None`` for unlabelled.
    domain : str, default="images"
        Domain name of every file.
    name : str, default="images"
        Short name used in cache file names.

    Raises
    ------
    ValueError
        With no path, a path listed twice, or ``labels`` of another length.

    Notes
    -----
    A file is identified by its resolved path, size and modification time (its content stamp),
    so an image already embedded as part of a folder or manifest is read back from that cache
    file rather than computed again.
    """

    def __init__(self, paths, labels=None, *, domain: str = "images", name: str = "images"):
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        self.paths = [Path(p).expanduser().resolve() for p in paths]
        if not self.paths:
            raise ValueError("ImageFiles needs at least one image path; got none.")
        self.ids = [p.as_posix() for p in self.paths]
        dupes = len(self.ids) - len(set(self.ids))
        if dupes:
            raise ValueError(f"ImageFiles lists {dupes} file(s) more than once; give each image once.")
        self.root = Path(os.path.commonpath([str(p.parent) for p in self.paths]))
        labels = [None] * len(self.paths) if labels is None else [None if lab is None else str(lab) for lab in labels]
        if len(labels) != len(self.paths):
            raise ValueError(f"Expected {len(self.paths)} labels, one per image; got {len(labels)}.")
        self.labels, self.classes = _encode(labels)
        self.domains = [domain] * len(self.paths)
        self.name = name


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
        self.labels, self.classes = _encode(labels, classes=None if classes is None else [str(c) for c in classes])
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
