"""``extract_features``: source + backbone -> cached features -> FeatureSet."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import re
import time
from pathlib import Path

import numpy as np
import torch

from featx._version import __version__
from featx.backbones import DEFAULT_BACKBONE, Backbone, create_backbone
from featx.data import ImageSource, open_source
from featx.extract._batch import auto_batch_size
from featx.extract._cache import (
    FORMAT_VERSION,
    CacheWriter,
    create_cache_file,
    read_cache,
    recorded_batch_size,
    reuse_rows,
)
from featx.extract._device import autocast, check_precision, inference_model, resolve_device
from featx.extract._loader import aligned_batches, decode_error, default_num_workers, make_loader
from featx.extract._malloc import reuse_large_allocations
from featx.features import FeatureSet

logger = logging.getLogger(__name__)

def default_cache_dir() -> Path:
    """``$FEATX_CACHE_DIR`` if set, else ``./cache``."""
    return Path(os.environ.get("FEATX_CACHE_DIR", "cache"))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "x"


def cache_key(backbone: Backbone, source: ImageSource, precision: str, fold_batchnorm: bool = True,
              stamps=None, compile: bool = False) -> dict:
    """Everything that changes the numbers: backbone name, weights fingerprint, layers,
    preprocessing (with the decoder version), precision, BatchNorm folding, compilation
    (only when on, so that eager keys stay as they were) and the data-source fingerprint
    (from ``stamps``, the source's content stamps, when given). Reduced precisions also
    record the modules kept in float32 (:attr:`Backbone.float32_first_stage`), when any."""
    key = {
        "format": FORMAT_VERSION,
        "backbone": backbone.name,
        "weights": backbone.weights_fingerprint,
        "layers": list(backbone.layers),
        "preprocessing": backbone.preprocessing.to_dict(),
        "precision": precision,
        "fold_batchnorm": bool(fold_batchnorm),
        "source": source.fingerprint(stamps),
    }
    if precision != "float32" and backbone.float32_first_stage:
        key["float32_first_stage"] = list(backbone.float32_first_stage)
    if compile:  # compiled kernels round differently from eager ones
        key["compile"] = f"inductor-freezing/torch-{torch.__version__}"
    return key


def inference_backbone(backbone: Backbone, fold_batchnorm: bool, precision: str) -> Backbone:
    """The backbone extraction runs: BatchNorm folded when asked, and under a reduced
    precision its first stage kept in float32 (:meth:`Backbone.with_float32_first_stage`)."""
    model = backbone.folded() if fold_batchnorm else backbone
    return model if precision == "float32" else model.with_float32_first_stage()


def cache_path_for(cache_dir, backbone: Backbone, source: ImageSource, key: dict) -> tuple[Path, str]:
    """``<cache_dir>/<backbone>/<source>-<hash16>.h5`` and the full key hash."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    name = backbone.name.rsplit("/", 1)[-1] if backbone.name.startswith("file:") else backbone.name
    return Path(cache_dir) / _slug(name) / f"{_slug(source.name)}-{digest[:16]}.h5", digest


def _provenance(backbone: Backbone, source: ImageSource, device, precision, batch_size) -> dict:
    import h5py
    import timm

    return {
        "featx_version": __version__,
        "torch_version": str(torch.__version__),
        "timm_version": timm.__version__,
        "h5py_version": h5py.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
        "precision": precision,
        "batch_size": batch_size,
        "backbone": backbone.describe(),
        "source": source.describe(),
    }


def extract_features(
    source,
    backbone=DEFAULT_BACKBONE,
    *,
    layers=None,
    cache_dir=None,
    batch_size: int | str = "auto",
    device="auto",
    precision: str = "float32",
    num_workers="auto",
    fold_batchnorm: bool = True,
    on_error: str = "skip",
    progress: bool = True,
    engine: str = "local",
    engine_options: dict | None = None,
    compile: bool = False,
) -> FeatureSet:
    """Embed every image of ``source`` with a frozen backbone, through the HDF5 cache.

    A complete cache file for the same key is read without building a data loader or
    running the network. An incomplete one (an interrupted run) is resumed: only its
    pending batches are computed. Any change to the key gives a new file.

    Parameters
    ----------
    source : str, Path or ImageSource
        Image folder, ``.csv`` manifest, ``builtin:digits``, or a source object.
    backbone : str or Backbone, default="efficientnet_lite0"
        A name for :func:`featx.backbones.create_backbone`, or a built backbone.
    layers : sequence of str, optional
        Layers to report, for a backbone given by name (a built Backbone has its own).
    cache_dir : str or Path, optional
        Cache root; default ``$FEATX_CACHE_DIR`` or ``./cache``.
    batch_size : int or "auto", default="auto"
        Images per forward pass. Batches are aligned to multiples of it, so a resumed run
        computes the same batches as an uninterrupted one. ``auto``: 32 on a CPU (larger
        batches are no faster there) and on MPS; on a CUDA GPU, the batch is doubled from
        32 while it fits in 80% of the card's memory and raises the throughput by at least
        5% (a few seconds of probing, see :func:`featx.extract._batch.largest_useful_batch`). The
        resolved size is recorded in the cache file, and resuming that file with ``auto``
        reuses it. With ``engine="ray"``, ``auto`` is resolved on the driver's device, as
        ``precision`` is: give a number for GPU actors driven from a CPU-only machine.
    device : str, default="auto"
        ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda[:N]`` or ``mps``.
    precision : {"float32", "bfloat16", "float16", "auto"}, default="float32"
        Autocast precision of the forward pass; features are stored as float32. ``auto``
        picks bfloat16 where the hardware computes it natively (most GPUs, CPUs with
        AVX512-BF16 or AMX), float16 on other GPUs, float32 elsewhere; the key records the
        precision chosen. Under bfloat16 and float16 a CNN's first stage (the layers at half
        the input resolution, named by timm's ``feature_info``) still runs in float32: it
        is where rounding costs most (bfloat16 vs float32 mean cosine 0.9988 -> 0.9997 on
        MNIST digits with the default backbone) for about 5% of the work.
    num_workers : int or "auto", default="auto"
        DataLoader decode workers.
    fold_batchnorm : bool, default=True
        Fold BatchNorm into the preceding convolutions for the forward pass (about 30%
        faster on CPU; equal up to float rounding, and part of the cache key).
    on_error : {"skip", "fail"}, default="skip"
        An image that cannot be read or decoded (empty, truncated, not an image, unreadable,
        over the decompression-bomb limit): ``skip`` records it in the cache with the reason,
        leaves it out of the returned rows and logs a summary; ``fail`` raises
        :class:`ImageDecodeError` naming the file and the reason. Rows finished before are
        kept either way.
    progress : bool, default=True
        Show a progress bar with images/s.
    engine : {"local", "ray"}, default="local"
        ``ray``: compute the pending rows on a Ray cluster (Ray Data + an actor pool, one
        shard file per block of rows, merged into the same cache file; needs
        ``featx[ray]``). The key, the file and the features are the local path's; the image
        paths and the cache directory must be reachable from every node; ``precision="auto"``
        is resolved on the driver's device.
    compile : bool, default=False
        Run the forward pass through ``torch.compile`` (inductor, weights frozen as
        constants). On this project's 2-core CPU the forward pass ran 1.10-1.26x faster,
        after a 22-30 s compile: end to end it broke even at 10k images, so turn it on for
        larger runs. Part of the cache key (compiled kernels round differently); needs a
        C++ compiler on the CPU.
    engine_options : dict, optional
        For ``ray``: ``address`` (``None`` starts a local cluster, ``"auto"`` or
        ``"HOST:PORT"`` joins one), ``workers`` (actors; default one per GPU, or up to 4 CPU
        actors), ``gpus_per_worker`` (default: 1 when the cluster has GPUs, else 0), ``cpus_per_worker`` (default: the
        cluster's CPUs shared among the workers), ``shard_rows`` (rows per shard, a multiple
        of ``batch_size``).

    Returns
    -------
    FeatureSet
        ``metadata`` holds the cache ``path``, the ``key``, ``n_computed`` (rows
        computed by this call; 0 on a cache hit), ``n_reused`` (rows copied from a cache
        file of an earlier version of the same source, see :func:`reuse_rows`) and
        ``skipped`` (``(id, reason)`` pairs).
    """
    from filelock import FileLock

    if batch_size != "auto" and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer or 'auto'; got {batch_size!r}.")
    if on_error not in ("skip", "fail"):
        raise ValueError(f"on_error must be 'skip' or 'fail'; got {on_error!r}.")
    engine_options = _check_engine(engine, engine_options)
    source = open_source(source)
    if len(source) == 0:
        raise ValueError("The data source holds no samples.")
    if not isinstance(backbone, Backbone):
        backbone = create_backbone(backbone, layers=layers)
    elif layers is not None and tuple([layers] if isinstance(layers, str) else layers) != backbone.layers:
        raise ValueError(
            f"layers={layers!r} applies to backbone names; the Backbone given reports {list(backbone.layers)}. "
            "Pass create_backbone(name, layers=...) instead."
        )
    dev = resolve_device(device)
    precision = check_precision(precision, dev)
    stamps = source.content_stamps()
    key = cache_key(backbone, source, precision, fold_batchnorm, stamps, compile)
    path, digest = cache_path_for(cache_dir if cache_dir is not None else default_cache_dir(), backbone, source, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = None
    with FileLock(str(path) + ".lock"):
        if batch_size == "auto":
            batch_size = recorded_batch_size(path)
        if batch_size is None:
            model = inference_backbone(backbone, fold_batchnorm, precision)
            batch_size = auto_batch_size(model, dev, precision, backbone.preprocessing.input_size)
            logger.info("batch_size='auto' resolved to %d on %s", batch_size, dev)
        if not path.exists():
            for stale in path.parent.glob(path.name + ".tmp*"):
                stale.unlink(missing_ok=True)
            create_cache_file(
                path,
                key=key,
                key_hash=digest,
                dim=backbone.embed_dim,
                ids=source.ids,
                labels=source.labels,
                domains=source.domains,
                classes=source.classes,
                stamps=stamps,
                attrs={
                    **_provenance(backbone, source, dev, precision, batch_size),
                    "layer_dims": list(backbone.layer_dims),
                },
            )
        with CacheWriter(path, digest) as writer:
            reused = reuse_rows(writer, path, key, source.ids, stamps) if len(writer.pending) else 0
            pending = writer.pending
            if len(pending):
                logger.info("extracting %d of %d rows into %s", len(pending), len(source), path)
                workers = default_num_workers(dev) if num_workers == "auto" else int(num_workers)
                if model is None:
                    model = inference_backbone(backbone, fold_batchnorm, precision)
                if engine == "ray":
                    from featx.extract._ray import run_on_ray

                    run_on_ray(model, source, writer, pending, key=key, digest=digest, path=path, device=device,
                               precision=precision, batch_size=batch_size, num_workers=num_workers,
                               on_error=on_error, progress=progress, compile=compile, **engine_options)
                else:
                    _run(model, source, writer, pending, dev, precision, batch_size, workers, progress, on_error,
                         compile)
    fs = read_cache(path)
    fs.metadata.update(path=str(path), key=key, n_computed=int(len(pending)), n_reused=int(reused))
    if fs.metadata["skipped"]:
        skipped = fs.metadata["skipped"]
        logger.warning("%d of %d images could not be read and are left out (listed by `featx cache info %s`): %s%s",
                       len(skipped), len(source), path, "; ".join(f"{i} ({r})" for i, r in skipped[:5]),
                       " ..." if len(skipped) > 5 else "")
    return fs


_ENGINE_OPTIONS = {"local": (), "ray": ("address", "workers", "gpus_per_worker", "cpus_per_worker", "shard_rows")}


def _check_engine(engine, options) -> dict:
    if engine not in _ENGINE_OPTIONS:
        raise ValueError(f"engine must be 'local' or 'ray'; got {engine!r}.")
    options = dict(options or {})
    unknown = sorted(set(options) - set(_ENGINE_OPTIONS[engine]))
    if unknown:
        raise ValueError(f"Unknown engine_options {unknown} for engine {engine!r}; "
                         f"expected some of {list(_ENGINE_OPTIONS[engine])}.")
    return options


def _run(backbone, source, writer, pending, device, precision, batch_size, num_workers, progress, on_error,
         compile=False):
    from tqdm.auto import tqdm

    batches = aligned_batches(pending, len(source), batch_size)
    loader = make_loader(
        source, backbone.preprocessing, batches, num_workers=num_workers, pin_memory=device.type == "cuda",
        nice=device.type == "cpu", on_error="skip",
    )
    model = inference_model(backbone, device)
    forward, compiling = model, contextlib.nullcontext()
    if compile:  # compiled lazily, at the first batch; freezing folds the weights in as constants
        from torch._inductor import config as inductor_config

        forward, compiling = torch.compile(model), inductor_config.patch(freezing=True)
    bar = tqdm(total=sum(map(len, batches)), unit="img", desc=f"extract {source.name}", disable=not progress)
    start, done = time.perf_counter(), 0
    try:
        with torch.inference_mode(), autocast(device, precision), reuse_large_allocations(device.type == "cpu"), \
                compiling:
            for idx, images, failed in loader:
                if images is not None:  # the readable rows first: nothing finished is lost
                    images = images.to(device, non_blocking=True)
                    if compile and len(images) < batch_size:  # one shape, one compiled graph
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


def load_features(path, *, partial: bool = False) -> FeatureSet:
    """Read a cache file written by :func:`extract_features` (see :func:`read_cache`)."""
    return read_cache(path, partial=partial)
