"""Extraction on a Ray cluster: Ray Data schedules shards onto a pool of backbone actors.

Design, and why:

* **Shards are fixed blocks of the manifest** (rows ``[lo, hi)``, ``lo`` a multiple of the
  batch size), so every actor forms exactly the batches a local run forms, and a shard's
  file name depends only on the key and its bounds: a re-run finds it again.
* **Each shard is an ordinary featx cache file** (``<cache>.shards/<lo>-<hi>.h5``), written
  by the one actor that holds it with the same crash-safe writer as the local path: rows are
  flushed before their flags, so a killed actor loses at most the batch in flight, and a
  retried or re-run shard computes only its pending rows. Skipped images are recorded in the
  shard exactly as locally.
* **Ray Data does the scheduling**: the pending shards (descriptors built from the source's
  manifest order) are a dataset; ``map_batches`` runs them on a fixed-size actor pool
  (``ActorPoolStrategy``, each actor with its CPUs or GPU, restarted and its shard retried
  by Ray when a process dies). featx has no scheduler of its own. Ray Data does not read
  the images itself: decoding inside the actor, with the local loader, is what keeps the
  batches (and so the features) identical to a local run.
* **The join is a merge into the normal cache file**, in manifest order, through the same
  writer (so the per-chunk checksums, the status flags and the skipped-row reasons are the
  local path's), after which the shard files are deleted. A virtual dataset would have left
  the cache depending on thousands of shard files staying in place and would have needed
  a second checksum scheme; the merge costs one sequential copy of the features (about
  5 GB for a million 1280-d rows, seconds at disk speed) and gives the one-file format
  everything else reads. A driver killed during the merge resumes it: merged rows are done
  in the main file, the rest are still in their shards.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "engine='ray' needs Ray with Ray Data: pip install 'featx[ray]' (or pip install 'ray[data]'). "
            f"Importing it failed: {exc}"
        ) from exc
    return ray


def shard_bounds(pending: np.ndarray, n: int, shard_rows: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` blocks of ``shard_rows`` rows (the last one shorter) holding pending rows."""
    blocks = np.unique(np.asarray(pending, dtype=np.int64) // shard_rows)
    return [(int(b * shard_rows), int(min(n, (b + 1) * shard_rows))) for b in blocks]


def default_shard_rows(n: int, workers: int, batch_size: int) -> int:
    """About 8 shards per worker (balance, small loss on a kill), 256 to 8192 rows, a
    multiple of ``batch_size``."""
    rows = int(np.clip(-(-n // (8 * max(1, workers))), 256, 8192))
    return max(batch_size, -(-rows // batch_size) * batch_size)


def shard_dir(path: Path) -> Path:
    """Where the shards of cache file ``path`` live while a Ray run is going on."""
    return path.with_name(path.name + ".shards")


class ShardEmbedder:
    """A Ray actor holding the frozen backbone; each call fills the shards it is given."""

    def __init__(self, backbone, source, *, key, digest, path, device, precision, batch_size, num_workers,
                 on_error, threads, compile=False):
        import ray
        import torch

        from featx.runtime import resolve_device

        backbone, source = ray.get([backbone, source])  # object-store refs: one copy per node, not per call
        if threads:
            torch.set_num_threads(threads)
        self.source, self.key, self.digest, self.path = source, key, digest, Path(path)
        self.device = resolve_device(device)
        self.precision, self.batch_size, self.on_error = precision, batch_size, on_error
        self.num_workers, self.compile = num_workers, compile
        self.model = backbone

    def __call__(self, batch: dict) -> dict:
        out = {"lo": [], "hi": [], "computed": [], "error": []}
        for lo, hi, need in zip(batch["lo"], batch["hi"], batch["need"]):
            computed, error = self.fill(int(lo), int(hi), np.asarray(need, dtype=np.int64))
            for k, v in zip(out, (lo, hi, computed, error)):
                out[k].append(v)
        return {k: np.asarray(v) for k, v in out.items()}

    def fill(self, lo: int, hi: int, need: np.ndarray) -> tuple[int, str]:
        """Compute rows ``need`` (global indices) of shard ``[lo, hi)`` that its file lacks."""
        from filelock import FileLock

        from featx.data import SourceSubset
        from featx.extract._local import run_local
        from featx.extract._cache import CacheWriter, create_cache_file
        from featx.runtime import ImageDecodeError, default_num_workers

        sub = SourceSubset(self.source, np.arange(lo, hi))
        path = shard_dir(self.path) / f"{lo}-{hi}.h5"
        digest = f"{self.digest}:{lo}-{hi}"
        with FileLock(str(path) + ".lock"):
            if not path.exists():
                create_cache_file(path, key={**self.key, "shard": [lo, hi]}, key_hash=digest, dim=self.model.embed_dim,
                                  ids=sub.ids, labels=sub.labels, domains=sub.domains, classes=sub.classes, attrs={})
            with CacheWriter(path, digest) as writer:
                todo = np.intersect1d(need - lo, writer.pending)
                if not len(todo):
                    return 0, ""
                workers = default_num_workers(self.device) if self.num_workers == "auto" else int(self.num_workers)
                try:
                    run_local(self.model, sub, writer, todo, self.device, self.precision, self.batch_size, workers,
                         False, self.on_error, self.compile)
                except ImageDecodeError as exc:
                    return int(writer.done[todo].sum()), str(exc)
        return len(todo), ""


def run_on_ray(model, source, writer, pending, *, key, digest, path, device, precision, batch_size, num_workers,
               on_error, progress, compile=False, address=None, workers=None, gpus_per_worker=None,
               cpus_per_worker=None, shard_rows=None) -> None:
    """Fill the ``pending`` rows of ``writer`` (the key's cache file) on a Ray cluster.

    Pending rows are grouped into shards; shards still missing rows are computed by
    :class:`ShardEmbedder` actors through ``ray.data``; finished shards are merged into
    ``writer`` in manifest order and deleted. See the module docstring for the design.
    """
    ray = _ray()
    if not ray.is_initialized():
        kwargs = {"include_dashboard": False} if address is None else {}
        ray.init(address=address, log_to_driver=progress, **kwargs)
    resources = ray.cluster_resources()
    # GPU actors when the cluster has GPUs (one each), unless told otherwise
    gpus = float(gpus_per_worker if gpus_per_worker is not None else (1 if resources.get("GPU", 0) >= 1 else 0))
    if gpus < 0:
        raise ValueError(f"gpus_per_worker must be >= 0; got {gpus_per_worker!r}.")
    if workers is None:
        workers = int(resources.get("GPU", 0) // gpus) if gpus else int(resources.get("CPU", 1))
        workers = max(1, workers if gpus else min(workers, 4))
    if int(workers) < 1:
        raise ValueError(f"workers must be a positive integer; got {workers!r}.")
    cpus = cpus_per_worker or max(1, int(resources.get("CPU", 1) // workers))
    rows = shard_rows or default_shard_rows(len(source), workers, batch_size)
    if rows % batch_size:
        raise ValueError(f"shard_rows must be a multiple of batch_size ({batch_size}); got {rows}.")
    merged = merge_shards(writer, path, digest)  # a killed run's shards, whatever their size
    pending = writer.pending
    todo = [(lo, hi, pending[(pending >= lo) & (pending < hi)]) for lo, hi in shard_bounds(pending, len(source), rows)]
    logger.info("%d rows taken from an earlier run's shards; %d shards of up to %d rows to compute on %d Ray workers "
                "(%s CPU, %s GPU each)", merged, len(todo), rows, workers, cpus, gpus)
    error = ""
    if todo:
        error = _compute_shards(ray, todo, model, source, key=key, digest=digest, path=path, device=device,
                                precision=precision, batch_size=batch_size, num_workers=num_workers,
                                on_error=on_error, progress=progress, workers=int(workers), cpus=cpus, gpus=gpus,
                                compile=compile)
        merge_shards(writer, path, digest)
    if error:
        from featx.runtime import ImageDecodeError

        raise ImageDecodeError(error)
    if not len(writer.pending):
        _remove_shards(path)


def _compute_shards(ray, todo, model, source, *, key, digest, path, device, precision, batch_size, num_workers,
                    on_error, progress, workers, cpus, gpus, compile) -> str:
    """Run the shards through an actor pool; return the first decode error (``fail`` policy) or ''."""
    from featx.utils.progress import progress_bar

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    items = [{"lo": lo, "hi": hi, "need": need} for lo, hi, need in todo]
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    source_ref, model_ref = ray.put(source), ray.put(model)
    threads = 0 if gpus else cpus
    results = ds.map_batches(  # Ray Data restarts a dead actor and retries its shard (max_restarts=-1)
        ShardEmbedder,
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=min(workers, len(items))),
        num_cpus=cpus,
        num_gpus=gpus or None,
        fn_constructor_kwargs=dict(backbone=model_ref, source=source_ref, key=key, digest=digest, path=str(path),
                                   device=str(device), precision=precision, batch_size=batch_size,
                                   num_workers=num_workers, on_error=on_error, threads=threads, compile=compile),
    )
    bar = progress_bar(total=int(sum(len(n) for _, _, n in todo)), unit="img",
                       desc=f"extract {source.name} with {model.name} on ray", disable=not progress)
    sizes, first_error = {(lo, hi): len(need) for lo, hi, need in todo}, ""
    try:
        for row in results.iter_rows():
            bar.update(sizes[(int(row["lo"]), int(row["hi"]))])
            if row["error"] and not first_error:
                first_error = str(row["error"])
    finally:
        bar.close()
    return first_error


def merge_shards(writer, path, digest) -> int:
    """Copy the settled rows of every shard file of this key into the key's file, in manifest
    order (features, or skip reasons, through the file's own writer); return the rows copied.

    Shards are found by name (``<lo>-<hi>.h5``) and key, so a run with another shard size
    (another worker count) still uses them.
    """
    from featx.extract._reader import DONE, SKIPPED, read_rows

    copied = 0
    folder = shard_dir(path)
    names = [p.stem for p in folder.glob("*.h5")] if folder.is_dir() else []
    bounds = sorted(tuple(map(int, n.split("-"))) for n in names if re.fullmatch(r"\d+-\d+", n))
    for lo, hi in bounds:
        need = np.arange(lo, min(hi, len(writer.done)))
        need = need[~writer.done[need]]
        got = read_rows(folder / f"{lo}-{hi}.h5", f"{digest}:{lo}-{hi}", need - lo) if len(need) else None
        if got is None:
            continue
        status, X, reasons = got
        if (status == DONE).any():
            writer.write(need[status == DONE], X[status == DONE])
        if (status == SKIPPED).any():
            writer.skip(need[status == SKIPPED], [r for r, s in zip(reasons, status) if s == SKIPPED])
        copied += int((status != 0).sum())
    return copied


def _remove_shards(path: Path) -> None:
    folder = shard_dir(path)
    if folder.is_dir():
        for p in folder.iterdir():
            p.unlink(missing_ok=True)
        os.rmdir(folder)
