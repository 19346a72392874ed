"""Decoding and preprocessing in DataLoader workers; batches of uint8 images."""

from __future__ import annotations

import os

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from featx.data import ImageSource


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


def default_num_workers(device: torch.device) -> int:
    """Decode workers for ``num_workers="auto"``.

    On the CPU: 0, meaning batches are decoded in the main process by a pool of threads
    (Pillow releases the GIL), one per torch thread, *between* forward passes. With few
    cores, decoding beside the forward pass makes the two fight for the same cores (and
    OpenMP threads wait on a preempted partner at every barrier); taking turns with all
    cores on each is faster. On a GPU the network does not need the cores: all but one
    decode in worker processes, overlapping with the forward pass.
    """
    if device.type == "cpu":
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(16, cores - 1))


class ThreadedBatches:
    """Decode each batch with a thread pool in the calling process; yields like a DataLoader.

    ``dataset[i]`` must return ``(i, HWC uint8 array)``.
    """

    def __init__(self, dataset: Dataset, batches, threads: int, pin_memory: bool = False):
        self.dataset, self.batches, self.threads = dataset, batches, max(1, threads)
        self.pin_memory = pin_memory

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(self.threads, thread_name_prefix="featx-decode") as pool:
            for batch in self.batches:
                idx, images = collate_uint8(list(pool.map(self.dataset.__getitem__, batch)))
                yield idx, images.pin_memory() if self.pin_memory else images


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
        os.nice(10)
    except OSError:  # pragma: no cover - not permitted on this system
        pass


def make_loader(source, preprocessing, batches, *, num_workers: int, pin_memory: bool, nice: bool = False):
    """Batches of ``(indices, uint8 images)``: worker processes when ``num_workers > 0``,
    else a thread pool in this process with one thread per torch thread."""
    return make_batch_loader(PreprocessedImages(source, preprocessing), batches, num_workers=num_workers,
                             pin_memory=pin_memory, nice=nice)


def make_batch_loader(dataset: Dataset, batches, *, num_workers: int, pin_memory: bool, nice: bool = False):
    """As :func:`make_loader`, for any dataset whose items are ``(index, HWC uint8 array)``."""
    if num_workers == 0:
        return ThreadedBatches(dataset, batches, torch.get_num_threads(), pin_memory=pin_memory)
    return DataLoader(
        dataset,
        batch_sampler=batches,
        num_workers=num_workers,
        collate_fn=collate_uint8,
        pin_memory=pin_memory,
        prefetch_factor=4,
        worker_init_fn=_lower_priority if nice else None,
        persistent_workers=False,
    )
