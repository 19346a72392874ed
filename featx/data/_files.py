"""Sources whose samples are image files: a folder of class folders, a CSV manifest, a list of files."""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

from PIL import Image

from featx.data._images import IMAGE_EXTENSIONS
from featx.data._sources import ImageSource, encode_labels

logger = logging.getLogger(__name__)


class FileSource(ImageSource):
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


class ImageFolder(FileSource):
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
            _report_loose_images(self.root, class_dirs, extensions)
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
        self.labels, self.classes = encode_labels([c for _, c in pairs], classes=class_dirs or ())
        self.name = self.root.name
        self.domains = [domain or self.name] * len(self.ids)


def _report_loose_images(root: Path, class_dirs, extensions) -> None:
    """Warn about images directly in ``root`` beside its class folders: they belong to no class
    and are left out, which a user would otherwise never learn."""
    loose = sorted(p.name for p in root.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.name.lower().endswith(tuple(extensions)))
    if loose:
        logger.warning("%d image(s) directly in %s, beside the class folders %s, belong to no class and are left "
                       "out: %s%s. Move them into a class folder to use them.", len(loose), root,
                       class_dirs[:5] + ["..."] * (len(class_dirs) > 5), ", ".join(loose[:5]),
                       " ..." if len(loose) > 5 else "")


def _walk_images(folder: Path, extensions):
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for f in filenames:
            if not f.startswith(".") and f.lower().endswith(tuple(extensions)):
                yield Path(dirpath) / f


class Manifest(FileSource):
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
        self.labels, self.classes = encode_labels(labels)
        self.name = csv_path.stem


class ImageFiles(FileSource):
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
        self.labels, self.classes = encode_labels(labels)
        self.domains = [domain] * len(self.paths)
        self.name = name
