"""Training data for fine-tuning: seeded per-sample augmentation and epoch batches."""

from __future__ import annotations

import math

import numpy as np
from torch.utils.data import Dataset

from featx.data import ImageSource
from featx.data import RESAMPLE, to_rgb


def random_resized_crop(img, size: tuple[int, int], rng: np.random.Generator, *, scale=(0.08, 1.0),
                        ratio=(3 / 4, 4 / 3), interpolation="bicubic", flip: bool = True) -> np.ndarray:
    """Inception-style random crop (area fraction in ``scale``, aspect ratio in ``ratio``, log-uniform),
    resized to ``size`` (height, width), then a horizontal flip with probability 1/2; HWC uint8.
    Falls back to the central crop after 10 rejected draws, as torchvision does."""
    img = to_rgb(img)
    W, H = img.size
    area = W * H
    box = None
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= W and 0 < h <= H:
            x, y = int(rng.integers(0, W - w + 1)), int(rng.integers(0, H - h + 1))
            box = (x, y, x + w, y + h)
            break
    if box is None:
        aspect = W / H
        if aspect < ratio[0]:  # too tall: full width, the tallest allowed box
            w, h = W, min(H, round(W / ratio[0]))
        elif aspect > ratio[1]:  # too wide: full height
            w, h = min(W, round(H * ratio[1])), H
        else:
            w, h = W, H
        x, y = (W - w) // 2, (H - h) // 2
        box = (x, y, x + w, y + h)
    out = img.resize((size[1], size[0]), RESAMPLE[interpolation], box=box)
    arr = np.asarray(out, dtype=np.uint8)
    if flip and rng.random() < 0.5:
        arr = arr[:, ::-1]
    return np.ascontiguousarray(arr)


class AugmentedImages(Dataset):
    """``dataset[i] -> (i, HWC uint8)``: a random resized crop + flip of sample ``i``.

    The randomness of sample ``i`` in epoch ``e`` comes from ``(seed, e, i)`` alone (and
    ``stream``, when given: the target images' draws are apart from the source's), so an epoch
    is the same whichever worker or thread decodes it, and a resumed run repeats it.
    """

    def __init__(self, source: ImageSource, preprocessing, *, seed: int, scale=(0.08, 1.0), stream=None):
        self.source, self.preprocessing, self.seed, self.scale = source, preprocessing, seed, scale
        self.stream = stream
        self.epoch = 0

    def __len__(self):
        return len(self.source)

    def __getitem__(self, i):
        key = [self.seed, self.epoch, int(i)] + ([] if self.stream is None else [self.stream])
        rng = np.random.default_rng(key)
        with self.source.load(i) as img:
            return i, random_resized_crop(img, self.preprocessing.input_size, rng, scale=self.scale,
                                          interpolation=self.preprocessing.interpolation)


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """A shuffled pass over ``n`` rows for ``epoch``; a last batch of one row (which BatchNorm
    cannot normalise in training mode) joins the batch before it."""
    order = np.random.default_rng([seed, epoch, 1]).permutation(n).tolist()
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2].extend(batches.pop())
    return batches


def paired_batches(sizes, n: int, seed: int, epoch: int) -> list[list[int]]:
    """Target rows to pair with source batches of ``sizes``: consecutive slices of seeded
    permutations of the ``n`` target rows (a new permutation whenever one runs out), so each
    source batch meets as many target images and every target image is seen about equally.

    Examples
    --------
    >>> [len(b) for b in paired_batches([4, 4, 3], 5, seed=0, epoch=0)]
    [4, 4, 3]
    """
    rng = np.random.default_rng([seed, epoch, 2])
    order: list[int] = []
    out = []
    for size in sizes:
        while len(order) < size:
            order.extend(rng.permutation(n).tolist())
        out.append(order[:size])
        del order[:size]
    return out
