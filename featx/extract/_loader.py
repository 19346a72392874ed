"""Decoding and preprocessing in DataLoader workers; batches of uint8 images."""

from __future__ import annotations

import os

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from featx.data import ImageSource, InMemoryImages


class ImageDecodeError(RuntimeError):
    """An image could not be read or decoded; the message names the sample."""


class PreprocessedImages(Dataset):
    """``dataset[i] -> (i, HWC uint8 array)`` for sample ``i`` of a source."""

    def __init__(self, source: ImageSource, preprocessing):
        self.source = source
        self.preprocessing = preprocessing

    def __len__(self):
        return len(self.source)

    def __getitem__(self, i):
        try:
            with self.source.load(i) as img:
                return i, self.preprocessing(img)
        except Exception as exc:
            where = getattr(self.source, "paths", None)
            where = f" ({where[i]})" if where is not None else ""
            raise ImageDecodeError(f"Cannot decode sample {self.source.ids[i]!r}{where}: {exc}") from exc


def collate_uint8(items):
    """Stack (index, HWC uint8) items into (indices, NCHW uint8 tensor in channels-last memory)."""
    idx = torch.tensor([i for i, _ in items], dtype=torch.int64)
    batch = torch.from_numpy(np.stack([a for _, a in items]))
    return idx, batch.permute(0, 3, 1, 2)


def default_num_workers(source: ImageSource, device: torch.device) -> int:
    """Decode workers: none for small in-memory sets; on CPU one per 4 cores (the rest
    run the network), on a GPU all cores but one."""
    if isinstance(source, InMemoryImages) and len(source) <= 20_000:
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if device.type == "cpu":
        return max(1, cores // 4)
    return max(1, min(16, cores - 1))


def aligned_batches(pending: np.ndarray, n: int, batch_size: int) -> list[list[int]]:
    """Batches ``[k*B, (k+1)*B)`` that hold at least one pending row.

    Resumed runs compute exactly the batches an uninterrupted run would, so features are
    bit-identical whether or not a run was interrupted.
    """
    blocks = np.unique(np.asarray(pending, dtype=np.int64) // batch_size)
    return [list(range(b * batch_size, min(n, (b + 1) * batch_size))) for b in blocks]


def _lower_priority(worker_id: int) -> None:
    """Decode workers yield to the forward pass's threads when they compete for cores."""
    try:
        os.nice(int(os.environ.get("FEATX_NICE", "10")))
    except OSError:  # pragma: no cover - not permitted on this system
        pass


def make_loader(source, preprocessing, batches, *, num_workers: int, pin_memory: bool, nice: bool = False) -> DataLoader:
    """A DataLoader over the given index batches."""
    return DataLoader(
        PreprocessedImages(source, preprocessing),
        batch_sampler=batches,
        num_workers=num_workers,
        collate_fn=collate_uint8,
        pin_memory=pin_memory,
        prefetch_factor=4 if num_workers else None,
        worker_init_fn=_lower_priority if nice else None,
        persistent_workers=False,
    )
