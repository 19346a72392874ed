"""What names a cache file: the key (everything that changes the numbers), its digest and the
path named from both, for a built backbone or, without torch, for a name whose key part was
remembered."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from featx.extract._cache import FORMAT_VERSION
from featx.extract._memo import remembered_target

if TYPE_CHECKING:
    from featx.backbones import Backbone
    from featx.data import ImageSource


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
    if backbone.runtime:  # e.g. an ONNX graph's output, onnxruntime's version and execution provider
        key["runtime"] = backbone.runtime
    if compile:  # compiled kernels round differently from eager ones
        import torch

        key["compile"] = f"inductor-freezing/torch-{torch.__version__}"
    return key


def cache_path_for(cache_dir, backbone: Backbone, source: ImageSource, key: dict) -> tuple[Path, str]:
    """``<cache_dir>/<backbone>/<source>-<hash16>.h5`` and the full key hash."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return backbone_folder(cache_dir, backbone.name) / f"{_slug(source.name)}-{digest[:16]}.h5", digest


def backbone_folder(cache_dir, name: str) -> Path:
    """``<cache_dir>/<backbone>``: the folder of one backbone's cache files (a file's or graph's
    own name for ``file:``/``onnx:`` backbones)."""
    name = name.rsplit("/", 1)[-1] if name.startswith(("file:", "onnx:")) else name
    return Path(cache_dir) / _slug(name)


@dataclass(frozen=True)
class CacheTarget:
    """Where one extraction's rows live: the ``key`` (what produced them), its SHA-256
    ``digest`` and the file ``path`` named from both."""

    key: dict
    digest: str
    path: Path


def cache_target(backbone: Backbone, source: ImageSource, precision: str, fold_batchnorm: bool, stamps,
                 compile: bool, cache_dir) -> CacheTarget:
    """Step 1 of :func:`extract_features`: the key and the file it names (:func:`cache_key`, :func:`cache_path_for`)."""
    key = cache_key(backbone, source, precision, fold_batchnorm, stamps, compile)
    path, digest = cache_path_for(cache_dir, backbone, source, key)
    return CacheTarget(key, digest, path)


def remembered_cache_target(wanted: dict, source: ImageSource, stamps, cache_dir) -> CacheTarget | None:
    """The target of a named backbone whose key part was remembered under the recipe ``wanted``
    (:mod:`featx.extract._memo`), found without importing torch or building the backbone;
    ``None`` when nothing is remembered."""
    folder = backbone_folder(cache_dir, wanted["name"])
    found = remembered_target(folder, wanted)
    if found is None:
        return None
    key = {**found, "source": source.fingerprint(stamps)}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return CacheTarget(key, digest, folder / f"{_slug(source.name)}-{digest[:16]}.h5")
