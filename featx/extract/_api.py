"""``extract_features``: source + backbone -> cached features -> FeatureSet."""

from __future__ import annotations

import json
import logging
import platform
from typing import TYPE_CHECKING

import numpy as np

from featx import __version__
import featx.backbones
from featx.backbones import DEFAULT_BACKBONE
from featx.data import ImageSource, open_source
from featx.extract._cache import CacheWriter, create_cache_file, default_cache_dir, reuse_rows, verify_cache
from featx.extract._key import CacheTarget, backbone_folder, cache_target, remembered_cache_target
from featx.extract._lock import set_aside, write_lock
from featx.extract._memo import recipe, remember
from featx.extract._reader import DONE, CacheReader, read_cache, recorded_batch_size
from featx.features import FeatureSet

if TYPE_CHECKING:  # torch is imported when something has to be computed: a cache hit needs none
    from featx.backbones import Backbone

logger = logging.getLogger(__name__)

def inference_backbone(backbone: Backbone, fold_batchnorm: bool, precision: str) -> Backbone:
    """The backbone extraction runs: BatchNorm folded when asked, and under a reduced
    precision its first stage kept in float32 (:meth:`Backbone.with_float32_first_stage`)."""
    model = backbone.folded() if fold_batchnorm else backbone
    return model if precision == "float32" else model.with_float32_first_stage()


def _provenance(backbone: Backbone, source: ImageSource, device, precision, batch_size) -> dict:
    import h5py
    import timm
    import torch

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
    input_size: int | None = None,
) -> FeatureSet:
    """Embed every image of ``source`` with a frozen backbone, through the HDF5 cache.

    A complete cache file for the same key is read without building a data loader or
    running the network. An incomplete one (an interrupted run) is resumed: only its
    pending batches are computed. Any change to the key gives a new file.

    Parameters
    ----------
    source : str, Path, ImageSource, sequence or ndarray
        Image folder, ``.csv`` manifest, ``builtin:digits``, an image file, a list of image
        files, a list of PIL images, an image array (N, H, W[, C]), or a source object (see
        :func:`featx.data.open_source`). Images already embedded with the same settings in
        another source's cache file (the same file, unchanged; the same pixels) are copied
        from it, not computed again.
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
        :class:`featx.runtime.ImageDecodeError` naming the file and the reason. Rows finished before are
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
    input_size : int, optional
        Feed the network ``input_size`` x ``input_size`` images instead of the size its weights
        were trained at (:meth:`featx.backbones.Backbone.at_input_size`): the lower-cost path
        for small images such as digits. Part of the cache key (through the preprocessing).
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
        computed by this call, unreadable images not counted; 0 on a cache hit), ``n_reused`` (rows copied from a cache
        file of an earlier version of the same source, see :func:`reuse_rows`) and
        ``skipped`` (``(id, reason)`` pairs).
    """
    batch_size, on_error = _check_batch_size(batch_size), _check_on_error(on_error)
    engine_options = _check_engine(engine, engine_options)
    cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
    source = _open_source(source)
    stamps = source.content_stamps()
    wanted = recipe(backbone, layers, precision, fold_batchnorm, compile, input_size) \
        if isinstance(backbone, str) else None
    if wanted is not None:  # a named backbone seen before: its key part is remembered, nothing is built
        known = remembered_cache_target(wanted, source, stamps, cache_dir)
        hit = None if known is None else read_complete(known, len(source))
        if hit is not None:
            logger.info("all %d rows of %s are in %s (key remembered for %s: nothing built)", len(source),
                        source.name, known.path, backbone)
            return hit
    from featx.runtime import check_precision, resolve_device

    backbone = _backbone(backbone, layers).at_input_size(input_size)
    dev = resolve_device(device)
    precision = backbone_precision(backbone, check_precision(precision, dev), asked=precision)
    if compile and not backbone.compilable:
        raise ValueError(f"compile=True needs a torch backbone; {backbone.name!r} runs outside torch.")
    target = cache_target(backbone, source, precision, fold_batchnorm, stamps, compile, cache_dir)
    logger.debug("cache key %s: %s", target.digest, json.dumps(target.key, sort_keys=True, default=str))
    if wanted is not None:
        remember(backbone_folder(cache_dir, wanted["name"]), wanted, target.key)
    hit = read_complete(target, len(source))
    if hit is not None:  # no lock taken: a complete cache serves a read-only folder too
        logger.info("all %d rows of %s are in %s: nothing to compute", len(source), source.name, target.path)
        return hit
    model = _Model(backbone, fold_batchnorm, precision)
    with write_lock(target.path):
        problems = verify_cache(target.path) if target.path.exists() else []
        if [p for p in problems if "has no checksum" not in p]:  # a writer's last step, redone on open
            set_aside(target.path, problems)
        if batch_size == "auto":
            batch_size = recorded_batch_size(target.path) or _probe_batch_size(model, dev, precision)
        ensure_cache_file(target, backbone, source, stamps, dev, precision, batch_size)
        with CacheWriter(target.path, target.digest) as writer:
            reused = reuse_rows(writer, target.path, target.key, source.ids, stamps, source.locations())
            pending = writer.pending
            if len(pending):
                logger.info("extracting %d of %d rows into %s", len(pending), len(source), target.path)
                try:
                    run_engine(engine, model.get(), source, writer, pending, target=target, device=device, dev=dev,
                               precision=precision, batch_size=batch_size, num_workers=num_workers,
                               on_error=on_error, progress=progress, compile=compile, engine_options=engine_options)
                except KeyboardInterrupt:
                    raise KeyboardInterrupt(
                        f"{int(writer.done.sum())} of {len(source)} rows are saved in {target.path}; "
                        "run the same command again to compute the rest") from None
            computed = int((writer.status[pending] == DONE).sum())
    return read_back(target, len(source), n_computed=computed, n_reused=reused)


def read_complete(target: CacheTarget, n_source: int) -> FeatureSet | None:
    """The rows of ``target`` when its file exists, was made for its key and is complete and
    sound, read without a lock; else ``None`` (missing, being filled or damaged: the locked path
    decides)."""
    reader = CacheReader.open_for(target.path, target.digest)
    if reader is None:
        return None
    with reader:
        try:
            return read_back(target, n_source, n_computed=0, n_reused=0, reader=reader) if reader.complete else None
        except (OSError, KeyError, ValueError):
            return None


def ensure_cache_file(target: CacheTarget, backbone: Backbone, source: ImageSource, stamps, device, precision,
                      batch_size: int) -> None:
    """Step 2: create the file, complete and every row pending, unless it exists (a resume).
    Temporary leftovers of a creation that crashed are removed first."""
    if target.path.exists():
        return
    for stale in target.path.parent.glob(target.path.name + ".tmp*"):
        stale.unlink(missing_ok=True)
    create_cache_file(
        target.path,
        key=target.key,
        key_hash=target.digest,
        dim=backbone.embed_dim,
        ids=source.ids,
        labels=source.labels,
        domains=source.domains,
        classes=source.classes,
        stamps=stamps,
        locations=source.locations(),
        attrs={**_provenance(backbone, source, device, precision, batch_size), "layer_dims": list(backbone.layer_dims)},
    )


def run_engine(engine: str, model: Backbone, source: ImageSource, writer: CacheWriter, pending, *,
               target: CacheTarget, device, dev, precision, batch_size, num_workers, on_error, progress, compile,
               engine_options) -> None:
    """Step 3: compute the ``pending`` rows into ``writer`` locally or on a Ray cluster."""
    if engine == "ray":
        from featx.extract._ray import run_on_ray

        run_on_ray(model, source, writer, pending, key=target.key, digest=target.digest, path=target.path,
                   device=device, precision=precision, batch_size=batch_size, num_workers=num_workers,
                   on_error=on_error, progress=progress, compile=compile, **engine_options)
    else:
        from featx.extract._local import run_local
        from featx.runtime import default_num_workers

        workers = default_num_workers(dev) if num_workers == "auto" else int(num_workers)
        run_local(model, source, writer, pending, dev, precision, batch_size, workers, progress, on_error, compile)


def read_back(target: CacheTarget, n_source: int, *, n_computed: int, n_reused: int,
              reader: CacheReader | None = None) -> FeatureSet:
    """Step 4: the finished rows as a FeatureSet (through ``reader`` when the file is open
    already), with what this call did in ``metadata``; unreadable images are logged (their ids
    and reasons stay in the file)."""
    fs = reader.feature_set() if reader is not None else read_cache(target.path)
    fs.metadata.update(path=str(target.path), key=target.key, n_computed=int(n_computed), n_reused=int(n_reused))
    skipped = fs.metadata["skipped"]
    if not len(fs) and skipped:
        raise ValueError(f"None of the {n_source} images could be read ({skipped[0][0]}: {skipped[0][1]}"
                         f"{'; ...' if len(skipped) > 1 else ''}); expected image files PIL can decode. "
                         f"`featx cache info {target.path}` lists every reason.")
    if skipped:
        logger.warning("%d of %d images could not be read and are left out (listed by `featx cache info %s`): %s%s",
                       len(skipped), n_source, target.path, "; ".join(f"{i} ({r})" for i, r in skipped[:5]),
                       " ..." if len(skipped) > 5 else "")
    return fs


class _Model:
    """The inference backbone, built on first use (a cache hit builds none)."""

    def __init__(self, backbone, fold_batchnorm, precision):
        self._args, self._model = (backbone, fold_batchnorm, precision), None

    def get(self) -> Backbone:
        if self._model is None:
            self._model = inference_backbone(*self._args)
        return self._model


def _probe_batch_size(model: _Model, dev, precision) -> int:
    from featx.extract._batch import auto_batch_size

    backbone = model.get()
    size = auto_batch_size(backbone, dev, precision, backbone.preprocessing.input_size)
    logger.info("batch_size='auto' resolved to %d on %s", size, dev)
    return size


def backbone_precision(backbone: Backbone, precision: str, *, asked: str) -> str:
    """``precision`` when the backbone honours it; ``auto`` falls back to float32, an explicit ask fails."""
    if precision in backbone.precisions:
        return precision
    if asked == "auto":
        return "float32"
    raise ValueError(f"Backbone {backbone.name!r} computes in {list(backbone.precisions)} only; "
                     f"got precision={asked!r}.")


def _check_batch_size(batch_size):
    if batch_size != "auto" and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer or 'auto'; got {batch_size!r}.")
    return batch_size


def _check_on_error(on_error):
    if on_error not in ("skip", "fail"):
        raise ValueError(f"on_error must be 'skip' or 'fail'; got {on_error!r}.")
    return on_error


def _open_source(source) -> ImageSource:
    source = open_source(source)
    if len(source) == 0:
        raise ValueError("The data source holds no samples.")
    source.check_files()
    return source


def _backbone(backbone, layers):
    """The backbone named (built with ``layers``), or the one given, whose layers must match."""
    if isinstance(backbone, str):  # through the package, so that a factory replaced there is the one called
        return featx.backbones.create_backbone(backbone, layers=layers)
    if layers is not None and tuple([layers] if isinstance(layers, str) else layers) != backbone.layers:
        raise ValueError(
            f"layers={layers!r} applies to backbone names; the Backbone given reports {list(backbone.layers)}. "
            "Pass create_backbone(name, layers=...) instead."
        )
    return backbone


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


def load_features(path, *, partial: bool = False) -> FeatureSet:
    """Read a cache file written by :func:`extract_features` (see :func:`read_cache`)."""
    return read_cache(path, partial=partial)
