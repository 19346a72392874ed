"""What ``featx fit`` and ``featx predict`` share: the extraction options and reading a data
argument (cache file, image folder, manifest or image files) as features."""

from __future__ import annotations

from pathlib import Path

def add_compute_options(p) -> None:
    """How images are embedded: ``--precision``, ``--batch-size`` and ``--workers`` (``featx fit``,
    ``predict``, ``compare``, ``rank`` and ``demo``; ``featx extract`` documents its own at length)."""
    from featx.cli._extract import batch_size_arg, workers_arg

    p.add_argument("--precision", default="float32", choices=["float32", "bfloat16", "float16", "auto"],
                   help="autocast precision of the extraction (default: %(default)s)")
    p.add_argument("--batch-size", type=batch_size_arg, default="auto",
                   help="images per forward pass of the extraction (default: auto)")
    p.add_argument("--workers", default="auto", type=workers_arg,
                   help="decode worker processes of the extraction, 0 = threads (default: auto)")


def input_size_arg(text: str) -> int:
    """``--input-size``: an int of at least 32."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 32:
        raise argparse.ArgumentTypeError(f"expected an int of at least 32 (pixels per side); got {text!r}")
    return value


def add_input_size(p, what: str = "the extraction", default: int | None = None) -> None:
    """``--input-size N`` (``default``: ``None``, the size the weights were trained at)."""
    told = f"default: {default}" if default else "default: the size the weights were trained at"
    p.add_argument("--input-size", type=input_size_arg, default=default, metavar="N",
                   help=f"feed the network N x N images in {what} (cheaper for small images such as digits; part "
                        f"of the cache key; {told})")


def add_extraction_options(p) -> None:
    """``--backbone``, ``--layer``, ``--precision``, ``--batch-size``, ``--device``, ``--workers``,
    ``--cache-dir``, ``--allow-outside-root`` and ``--no-progress``."""
    p.add_argument("--backbone", default="efficientnet_lite0",
                   help="for images: see `featx backbones` (default: %(default)s)")
    p.add_argument("--arch", help="for --backbone file:<path>: its architecture (timm:<name> or torchvision:<name>)")
    p.add_argument("--layer", action="append", dest="layers", metavar="NAME",
                   help="for images: layer to embed, repeatable (default: pooled)")
    add_compute_options(p)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda[:N] or mps (default: auto)")
    p.add_argument("--cache-dir", default=None, help="cache root (default: $FEATX_CACHE_DIR or ./cache)")
    p.add_argument("--allow-outside-root", action="store_true",
                   help="accept manifest paths outside the manifest's folder (absolute paths, ..)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def is_image_data(item: str) -> bool:
    """An image folder, a manifest, an image file or ``builtin:NAME`` (not a cache file or a domain name)."""
    from featx.data import IMAGE_EXTENSIONS

    path = Path(item)
    return item.startswith("builtin:") or path.is_dir() or (path.is_file() and path.suffix.lower() in (
        ".csv", *IMAGE_EXTENSIONS))


def open_images(items, args):
    """One source for ``items``: a folder, manifest or built-in set, or image files listed one by one."""
    from featx.data import IMAGE_EXTENSIONS, open_source

    files = [i for i in items if Path(i).suffix.lower() in IMAGE_EXTENSIONS and Path(i).is_file()]
    if files and len(files) == len(items):
        return open_source(files)
    if len(items) != 1 or files:
        raise ValueError(f"Give image files together, or one folder, manifest or built-in set at a time; got {items}.")
    kwargs = {"allow_outside_root": True} if args.allow_outside_root and str(items[0]).endswith(".csv") else {}
    return open_source(items[0], **kwargs)


def extract(source, args, backbone=None, fold_batchnorm: bool = True):
    """The source's features through the cache with the command's extraction options (unreadable
    images skipped and listed in ``metadata['skipped']``); ``backbone``: a built one instead of
    ``--backbone``."""
    from featx.backbones import create_backbone
    from featx.cli._extract import backbone_options
    from featx.extract import extract_features

    if backbone is None:
        backbone = create_backbone(args.backbone, layers=args.layers, **backbone_options(args))
    return extract_features(source, backbone, cache_dir=args.cache_dir, batch_size=args.batch_size,
                            device=args.device, precision=args.precision, num_workers=args.workers,
                            fold_batchnorm=fold_batchnorm, progress=not args.no_progress)


def same_settings(sets, what: str = "featx fit") -> None:
    """Refuse feature sets computed differently (backbone, weights, layers, preprocessing, precision)."""
    from featx.extract import PROVENANCE_FIELDS

    seen = {}
    for fs in sets:
        for meta in fs.metadata.get("parts", [fs.metadata]):
            key = meta.get("key")
            if isinstance(key, dict):
                seen.setdefault(repr([key.get(k) for k in PROVENANCE_FIELDS]), (meta.get("path", "?"), key))
    if len(seen) > 1:
        (p1, k1), (p2, k2) = list(seen.values())[:2]
        raise ValueError(f"{what} needs features computed one way; {p1} holds {_made(k1)} and {p2} holds {_made(k2)}. "
                         "Extract every domain with the same --backbone, --layer and --precision.")


def _made(key: dict) -> str:
    """``efficientnet_lite0 ['pooled'] float32 (weights 3f2a...)``: how a cache file's rows were computed."""
    return f"{key['backbone']} {key.get('layers')} {key.get('precision')} (weights {str(key.get('weights'))[:12]}...)"
