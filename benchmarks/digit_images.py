"""MNIST and USPS test images from ``../shared/data/digits`` as featx image sources (no download).

Used by the benchmarks that need real digit images beside scikit-learn's bundled ones.
"""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import numpy as np

from featx.data import InMemoryImages

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CLASSES = [str(c) for c in range(10)]


def mnist_arrays(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 MNIST test images (28 x 28 uint8) and their digits, from the idx files."""
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz") as fh:
        images = np.frombuffer(fh.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz") as fh:
        labels = np.frombuffer(fh.read(), np.uint8, offset=8)
    return images, labels.astype(np.int64)


def usps_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The 2,007 USPS test images (16 x 16 uint8) and their digits, from LIBSVM text
    (``label idx:value ...``, values in [-1, 1], labels = digit + 1)."""
    lines = bz2.decompress(Path(path).read_bytes()).decode("ascii").splitlines()
    images = np.zeros((len(lines), 256), np.float64)
    labels = np.zeros(len(lines), np.int64)
    for row, line in enumerate(lines):
        label, *pairs = line.split()
        labels[row] = int(float(label)) - 1
        for pair in pairs:
            idx, value = pair.split(":")
            images[row, int(idx) - 1] = float(value)
    images = np.round((images + 1) * 127.5).clip(0, 255).astype(np.uint8).reshape(-1, 16, 16)
    return images, labels


def image_set(images: np.ndarray, labels: np.ndarray, rows, name: str, domain: str | None = None) -> InMemoryImages:
    """The images ``rows`` as an :class:`InMemoryImages` with ids ``<domain>/<row>``."""
    rows = np.asarray(rows)
    domain = domain or name
    return InMemoryImages(images[rows], [str(v) for v in labels[rows]], classes=CLASSES,
                          ids=[f"{domain}/{i}" for i in rows], domain=domain, name=name)
