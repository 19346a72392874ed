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
    """``dataset[i] -> (i, HWC uint8 array)`` for sample ``i`` of a source.

    With ``on_error="skip"`` an image that cannot be read or decoded gives
    ``(i, None, reason)`` instead of raising :class:`ImageDecodeError`.
    """

    def __init__(self, source: ImageSource, preprocessing, on_error: str = "fail"):
        self.source = source
        self.preprocessing = preprocessing
        self.on_error = on_error

    def __len__(self):
        return len(self.source)

    def __getitem__(self, i):
        try:
            with self.source.load(i) as img:
                check_pixels(img)
                return i, self.preprocessing(img)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if self.on_error == "skip":
                return i, None, reason
            raise decode_error(self.source, i, reason) from exc


def decode_error(source: ImageSource, i: int, reason: str) -> ImageDecodeError:
    """The error for sample ``i`` that could not be decoded, naming its id and file."""
    where = getattr(source, "paths", None)
    where = f" ({where[i]})" if where is not None else ""
    return ImageDecodeError(f"Cannot decode sample {source.ids[i]!r}{where}: {reason}")


def check_pixels(img) -> None:
    """Refuse an image larger than Pillow's decompression-bomb limit before decoding it.

    Pillow itself only warns between one and two times ``Image.MAX_IMAGE_PIXELS``; a
    warning cannot be turned into an error per thread, so the size read from the header is
    checked here.
    """
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and img.width * img.height > limit:
        raise ValueError(f"{img.width} x {img.height} pixels is over the decompression-bomb limit of "
                         f"{limit} pixels (PIL.Image.MAX_IMAGE_PIXELS)")


def collate_uint8(items):
    """Stack (index, HWC uint8) items into (indices, NCHW uint8 tensor in channels-last memory)."""
    idx = torch.tensor([i for i, _ in items], dtype=torch.int64)
    batch = torch.from_numpy(np.stack([a for _, a in items]))
    return idx, batch.permute(0, 3, 1, 2)


def collate_or_skip(items):
    """As :func:`collate_uint8` for items that may be ``(index, None, reason)``: returns
    ``(indices, images or None, [(index, reason), ...])``."""
    failed = [(item[0], item[2]) for item in items if item[1] is None]
    good = [item for item in items if item[1] is not None]
    if not good:
        return torch.zeros(0, dtype=torch.int64), None, failed
    return (*collate_uint8(good), failed)


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

    def __init__(self, dataset: Dataset, batches, threads: int, pin_memory: bool = False, collate=collate_uint8):
        self.dataset, self.batches, self.threads = dataset, batches, max(1, threads)
        self.pin_memory, self.collate = pin_memory, collate

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(self.threads, thread_name_prefix="featx-decode") as pool:
            for batch in self.batches:
                out = self.collate(list(pool.map(self.dataset.__getitem__, batch)))
                if self.pin_memory and out[1] is not None:
                    out = (out[0], out[1].pin_memory(), *out[2:])
                yield out


def aligned_batches(pending: np.ndarray, n: int, batch_size: int) -> list[list[int]]:
    """The pending rows of each block ``[k*B, (k+1)*B)`` that holds any, one batch per block.

    Rows are written and flagged a whole batch at a time, so after an interruption a block
    is either finished or entirely pending, and a resumed run computes exactly the batches
    an uninterrupted run would: features are bit-identical whether or not a run was
    interrupted. Rows already filled (copied from an earlier file of the same source, see
    :func:`featx.extract._cache.reuse_rows`) are left out of their block's batch.
    """
    pending = np.unique(np.asarray(pending, dtype=np.int64))
    blocks = pending // batch_size
    return [part.tolist() for part in np.split(pending, np.flatnonzero(np.diff(blocks)) + 1) if len(part)]


def _lower_priority(worker_id: int) -> None:
    """Decode workers yield to the forward pass's threads when they compete for cores."""
    try:
        os.nice(10)
    except OSError:  # pragma: no cover - not permitted on this system
        pass


def make_loader(source, preprocessing, batches, *, num_workers: int, pin_memory: bool, nice: bool = False,
                on_error: str = "fail"):
    """Batches of ``(indices, uint8 images)``: worker processes when ``num_workers > 0``,
    else a thread pool in this process with one thread per torch thread. With
    ``on_error="skip"``: ``(indices, images or None, [(index, reason), ...])``."""
    return make_batch_loader(PreprocessedImages(source, preprocessing, on_error), batches, num_workers=num_workers,
                             pin_memory=pin_memory, nice=nice,
                             collate=collate_or_skip if on_error == "skip" else collate_uint8)


def make_batch_loader(dataset: Dataset, batches, *, num_workers: int, pin_memory: bool, nice: bool = False,
                      collate=collate_uint8):
    """As :func:`make_loader`, for any dataset whose items ``collate`` stacks."""
    if num_workers == 0:
        return ThreadedBatches(dataset, batches, torch.get_num_threads(), pin_memory=pin_memory, collate=collate)
    return DataLoader(
        dataset,
        batch_sampler=batches,
        num_workers=num_workers,
        collate_fn=collate,
        pin_memory=pin_memory,
        prefetch_factor=4,
        worker_init_fn=_lower_priority if nice else None,
        persistent_workers=False,
    )
