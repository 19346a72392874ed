"""The local engine: decode workers feed a frozen backbone on this machine's device, and each
finished batch goes to the cache writer at once."""

from __future__ import annotations

import contextlib
import logging
import time

import torch

from featx.runtime import aligned_batches, autocast, decode_error, inference_model, make_loader, \
    reuse_large_allocations

logger = logging.getLogger(__name__)


def run_local(backbone, source, writer, pending, device, precision, batch_size, num_workers, progress, on_error,
              compile=False) -> None:
    """Compute rows ``pending`` of ``source`` into ``writer`` (a :class:`CacheWriter`).

    Batches are aligned to multiples of ``batch_size`` (:func:`featx.runtime.aligned_batches`),
    so a resumed run computes the same batches as an uninterrupted one. Readable rows of a
    batch are written before its unreadable ones are recorded or, with ``on_error="fail"``,
    raised: nothing finished is lost. A short batch (the last one, or a few pending rows) is
    padded to ``batch_size`` with copies of its last image, so every row is computed by the
    same kernels as in a full batch: an image embedded alone gets the features it gets among
    others (on this project's CPU a batch of one differed by up to 1.2e-6 from a batch of 32;
    batches of 7 and 32 agreed to the bit). ``compile`` runs the forward pass through
    ``torch.compile`` (inductor with weight freezing), which the one shape also serves.
    """
    from featx.utils.progress import progress_bar

    batches = aligned_batches(pending, len(source), batch_size)
    loader = make_loader(
        source, backbone.preprocessing, batches, num_workers=num_workers, pin_memory=device.type == "cuda",
        nice=device.type == "cpu", on_error="skip",
    )
    decoding = f"{num_workers} decode workers" if num_workers else "decoding in threads"
    logger.info("embedding %d images with %s on %s: %s, batches of %d, %s", sum(map(len, batches)), backbone.name,
                device, precision, batch_size, decoding)
    model = inference_model(backbone, device)
    forward, compiling = model, contextlib.nullcontext()
    if compile:  # compiled lazily, at the first batch; freezing folds the weights in as constants
        from torch._inductor import config as inductor_config

        forward, compiling = torch.compile(model), inductor_config.patch(freezing=True)
    bar = progress_bar(total=sum(map(len, batches)), unit="img", desc=f"extract {source.name} with {backbone.name}",
                       disable=not progress)
    start, done = time.perf_counter(), 0
    try:
        with torch.inference_mode(), autocast(device, precision), reuse_large_allocations(device.type == "cpu"), \
                compiling:
            for idx, images, failed in loader:
                if images is not None:  # the readable rows first: nothing finished is lost
                    images = images.to(device, non_blocking=True)
                    if len(images) < batch_size:  # one shape: the same kernels for every row
                        pad = images[-1:].expand(batch_size - len(images), *images.shape[1:])
                        images = torch.cat([images, pad])
                    feats = forward(images)[: len(idx)].float().cpu().numpy()
                    writer.write(idx.numpy(), feats)
                if failed and on_error == "fail":
                    raise decode_error(source, *failed[0])
                writer.skip([i for i, _ in failed], [r for _, r in failed])
                bar.update(len(idx) + len(failed))
                done += len(idx)
    finally:
        bar.close()
        model.to("cpu")
    elapsed = time.perf_counter() - start
    logger.info("%d images in %.1f s (%.1f images/s)", done, elapsed, done / max(elapsed, 1e-9))
