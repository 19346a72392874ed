"""A cache hit without torch: the part of the cache key a named backbone contributes (its
weights fingerprint, preprocessing, layers), remembered in ``<cache_dir>/<backbone>/
backbone-keys.json`` the first time the backbone is built, under a *recipe* read without
importing torch or building anything.

The recipe is everything that could change that part: the name, layers, precision, BatchNorm
folding, the weights file (path, size, modification time), the torch and timm versions
(read from their distributions' metadata, not imported) and the size and modification time of
every featx source file. Any change to one of them misses, and the backbone is built as
before; a remembered key only ever names a file, which is then read only if it was made for
that very key (its stored key hash) and is complete and sound. Only backbones whose weights
are a local file of their own (:func:`featx.backbones.weights_file`: the embedded
EfficientNet-Lite models) are remembered, at float32 and without ``compile``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from importlib import metadata
from pathlib import Path

logger = logging.getLogger(__name__)

MEMO = "backbone-keys.json"
_FEATX = Path(__file__).resolve().parents[1]


def recipe(name: str, layers, precision: str, fold_batchnorm: bool, compile: bool,
           input_size: int | None = None) -> dict | None:
    """What the key part of backbone ``name`` depends on, read without torch; ``None`` when it
    cannot be known without building the backbone."""
    from featx.backbones import weights_file

    path = weights_file(name) if precision == "float32" and not compile else None
    if path is None:
        return None
    st = os.stat(path)
    out = {"name": name, "layers": None if layers is None else [layers] if isinstance(layers, str) else list(layers),
           "precision": precision, "fold_batchnorm": bool(fold_batchnorm),
           "weights_file": [str(path), st.st_size, st.st_mtime_ns], "versions": _versions(),
           "code": _code_stamp()}
    if input_size is not None:  # only when asked: the recipes remembered before stay valid
        out["input_size"] = input_size
    return out


def _versions() -> dict:
    out = {}
    for dist in ("torch", "timm", "h5py"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _code_stamp() -> str:
    """A digest of the size and modification time of every featx source file."""
    h = hashlib.sha256()
    for path in sorted(_FEATX.rglob("*.py")):
        st = path.stat()
        h.update(f"{path.relative_to(_FEATX)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def remembered_target(folder: Path, wanted: dict) -> dict | None:
    """The key part remembered in ``folder`` for the recipe ``wanted`` (the cache key without its
    ``source``), or ``None``."""
    try:
        memo = json.loads((Path(folder) / MEMO).read_text())
    except (OSError, ValueError):
        return None
    found = memo.get(_digest(wanted)) if isinstance(memo, dict) else None
    return found if isinstance(found, dict) else None


def remember(folder: Path, wanted: dict, key: dict) -> None:
    """Store the key part of ``key`` (all but its ``source``) for the recipe ``wanted``; a folder
    that cannot be written is passed over (the next call builds the backbone again)."""
    part = {k: v for k, v in key.items() if k != "source"}
    path = Path(folder) / MEMO
    try:
        memo = json.loads(path.read_text()) if path.exists() else {}
        if not isinstance(memo, dict):
            memo = {}
        if memo.get(_digest(wanted)) == part:
            return
        memo[_digest(wanted)] = part
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps(memo, sort_keys=True))
        os.replace(tmp, path)
    except (OSError, ValueError) as exc:
        logger.debug("could not remember the key of %s in %s: %s", wanted["name"], path, exc)
