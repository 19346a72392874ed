"""``batch_size="auto"``: a batch that keeps the device busy without running out of memory."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from featx.runtime import autocast, inference_model

_OUT_OF_MEMORY = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)  # torch < 2.5: CUDA's only

CPU_BATCH_SIZE = 32
"""On a CPU the batch size hardly matters once the cores are busy: EfficientNet-Lite0 on
2 cores ran 71-79 img/s (medians of 3, one run of ``benchmarks/batch_size.py``) at every
batch from 8 to 128; 32 keeps the activations around 0.6 GB."""


def largest_useful_batch(rate_at: Callable[[int], float | None], *, start: int = 32, maximum: int = 1024,
                         min_gain: float = 1.05) -> int:
    """Double the batch from ``start`` while it fits and still pays; halve it if ``start`` does not fit.

    ``rate_at(b)`` returns images per second at batch ``b``, or ``None`` when ``b`` does
    not fit in memory. Doubling stops at ``maximum``, at the first batch that does not
    fit, or at the first one whose rate is less than ``min_gain`` times the best so far
    (throughput has saturated: a bigger batch would only hold more memory and make each
    unit of resumable work larger). Returns the best batch seen.

    Raises ``RuntimeError`` when not even a batch of 1 fits.
    """
    if not 1 <= start <= maximum:
        raise ValueError(f"need 1 <= start <= maximum; got start={start}, maximum={maximum}.")
    b = start
    rate = rate_at(b)
    while rate is None:  # the first try did not fit: halve until one does
        if b == 1:
            raise RuntimeError("Not even a batch of 1 image fits in the device's memory; use a smaller backbone "
                               "or another device.")
        b //= 2
        rate = rate_at(b)
        if rate is not None:
            return b
    best, best_rate = b, rate
    while best * 2 <= maximum:
        rate = rate_at(best * 2)
        if rate is None or rate < best_rate * min_gain:
            break
        best, best_rate = best * 2, rate
    return best


def forward_rate(model, device: torch.device, precision: str, input_size, batch: int, *, repeats: int = 3,
                 memory_fraction: float = 0.8) -> float | None:
    """Images per second of ``model`` on a random uint8 batch, or ``None`` when it does not fit.

    The first pass is a warm-up (it lets ``cudnn.benchmark`` choose its algorithms). On CUDA
    a batch "does not fit" when it runs out of memory or its peak reservation exceeds
    ``memory_fraction`` of the card, which leaves room for the loader's pinned buffers,
    fragmentation and other processes.
    """
    cuda = device.type == "cuda"
    x = torch.randint(0, 256, (batch, 3, *input_size), dtype=torch.uint8, device=device)
    if device.type != "mps":
        x = x.contiguous(memory_format=torch.channels_last)
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    try:
        with torch.inference_mode(), autocast(device, precision):
            model(x)
            _sync(device)
            start = time.perf_counter()
            for _ in range(repeats):
                model(x)
            _sync(device)
            elapsed = time.perf_counter() - start
    except _OUT_OF_MEMORY:
        return None
    finally:
        del x
        if cuda:
            torch.cuda.empty_cache()
    if cuda and torch.cuda.max_memory_reserved(device) > memory_fraction * torch.cuda.get_device_properties(
            device).total_memory:
        return None
    return batch * repeats / max(elapsed, 1e-9)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def auto_batch_size(model, device: torch.device, precision: str, input_size, *, maximum: int = 1024) -> int:
    """The batch ``batch_size="auto"`` resolves to on ``device``.

    CUDA: :func:`largest_useful_batch` over :func:`forward_rate`, measured on ``model``
    (moved to ``device``, channels-last) in ``precision``; the search takes a few seconds.
    Elsewhere :data:`CPU_BATCH_SIZE` (Apple's MPS shares the system's memory, where
    probing until memory runs out would push the machine into swap).
    """
    if device.type != "cuda":
        return CPU_BATCH_SIZE
    model = inference_model(model, device)
    return largest_useful_batch(lambda b: forward_rate(model, device, precision, input_size, b), maximum=maximum)
