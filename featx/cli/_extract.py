"""``featx extract`` and ``featx backbones``."""

from __future__ import annotations

import argparse


def add_parsers(sub) -> None:
    from featx.cli._images import add_input_size

    p = sub.add_parser("extract", help="embed a data source with a frozen backbone into the HDF5 cache")
    p.add_argument("data", help="image folder, CSV manifest (path,label[,domain]) or builtin:digits")
    p.add_argument("--backbone", default="efficientnet_lite0", help="see `featx backbones` (default: %(default)s)")
    p.add_argument("--arch", help="architecture for --backbone file:<path> (timm:<name> or torchvision:<name>)")
    p.add_argument("--output", help="for --backbone onnx:<path>: the graph output to embed with (default: its last)")
    p.add_argument("--preprocessing", metavar="JSON",
                   help="for --backbone onnx:<path> without featx metadata: a .json file or JSON text with "
                        "input_size, mean, std (and optionally interpolation, crop_pct, crop_mode)")
    p.add_argument("--layer", action="append", dest="layers", metavar="NAME",
                   help="layer to report, repeatable: 'pooled' (default) or a module name")
    p.add_argument("--cache-dir", default=None, help="cache root (default: $FEATX_CACHE_DIR or ./cache)")
    p.add_argument("--batch-size", type=batch_size_arg, default="auto",
                   help="images per forward pass; auto: 32 on a CPU, on a GPU the largest that fits and still "
                        "pays, found by a few seconds of probing (default: %(default)s)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda[:N] or mps (default: auto)")
    p.add_argument("--precision", default="float32", choices=["float32", "bfloat16", "float16", "auto"],
                   help="autocast precision; auto: bfloat16 where the hardware has it (GPU, or a CPU with "
                        "AVX512-BF16/AMX), float16 on other GPUs, float32 elsewhere (default: %(default)s)")
    p.add_argument("--workers", default="auto", type=workers_arg,
                   help="local engine: decode worker processes, 0 = a thread pool in this process; ray engine: "
                        "backbone actors (default: auto)")
    p.add_argument("--engine", default="local", choices=["local", "ray"],
                   help="ray: run on a Ray cluster (pip install 'featx[ray]'), same cache file (default: %(default)s)")
    p.add_argument("--address", default=None,
                   help="ray engine: 'auto' or HOST:PORT of a running cluster (default: start a local one)")
    p.add_argument("--gpus-per-worker", type=float, default=None,
                   help="ray engine: GPUs per actor (default: 1 when the cluster has GPUs, else 0)")
    p.add_argument("--on-error", default="skip", choices=["skip", "fail"],
                   help="an unreadable image: skip it (recorded in the cache, listed at the end) or stop "
                        "(default: %(default)s)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the forward pass (1.1-1.26x on a 2-core CPU after a 22-30 s "
                        "compile: worth it above ~10,000 images; part of the cache key)")
    p.add_argument("--allow-outside-root", action="store_true",
                   help="accept manifest paths outside the manifest's folder (absolute paths, ..)")
    add_input_size(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(run=run_extract)

    b = sub.add_parser("backbones", help="list backbone names")
    b.set_defaults(run=run_backbones)


def _auto_or_int(minimum: int, what: str):
    def parse(text: str):
        if text == "auto":
            return text
        if not text.isdigit() or int(text) < minimum:
            raise argparse.ArgumentTypeError(f"expected 'auto' or a {what} integer; got {text!r}")
        return int(text)

    return parse


workers_arg = _auto_or_int(0, "non-negative")
batch_size_arg = _auto_or_int(1, "positive")


def run_extract(args) -> int:
    from featx.backbones import create_backbone
    from featx.extract import extract_features

    kwargs = backbone_options(args)
    if args.engine == "local" and (args.address or args.gpus_per_worker is not None):
        raise ValueError("--address and --gpus-per-worker are for --engine ray; got --engine local.")
    engine_options, workers = {}, args.workers
    if args.engine == "ray":
        engine_options = {"address": args.address, "gpus_per_worker": args.gpus_per_worker}
        if args.workers != "auto":
            if args.workers < 1:
                raise ValueError(f"--workers for --engine ray is a number of actors, at least 1; got {args.workers}.")
            engine_options["workers"] = args.workers
        workers = "auto"
    from featx.data import open_source

    outside = {"allow_outside_root": True} if args.allow_outside_root and str(args.data).endswith(".csv") else {}
    source = open_source(args.data, **outside)
    backbone = args.backbone  # a name lets a fully cached extraction build nothing (extract_features checks first)
    if kwargs:  # file:/onnx: options: built here, so the files are checked before it is
        source.check_files()
        backbone = create_backbone(args.backbone, layers=args.layers, **kwargs)
    fs = extract_features(
        source,
        backbone,
        layers=None if kwargs else args.layers,
        cache_dir=args.cache_dir,
        batch_size=args.batch_size,
        device=args.device,
        precision=args.precision,
        num_workers=workers,
        on_error=args.on_error,
        progress=not args.no_progress,
        engine=args.engine,
        input_size=args.input_size,
        engine_options=engine_options,
        compile=args.compile,
    )
    n, d = fs.X.shape
    computed = fs.metadata["n_computed"]
    print(f"cache file: {fs.metadata['path']}")
    print(f"rows: {n} x {d} features ({computed} computed now, {n - computed} from cache); "
          f"classes: {len(fs.classes)}; domains: {sorted(set(fs.domains))}")
    skipped = fs.metadata["skipped"]
    if skipped:
        print(f"skipped {len(skipped)} unreadable image(s) (kept in the cache's record; `featx cache info` lists "
              "them):")
        for sid, reason in skipped[:20]:
            print(f"  {sid}: {reason}")
        if len(skipped) > 20:
            print(f"  ... and {len(skipped) - 20} more")
    return 0


def backbone_options(args) -> dict:
    """The factory keywords of ``--arch`` (file:), ``--output`` and ``--preprocessing`` (onnx:)."""
    family = args.backbone.partition(":")[0] if ":" in args.backbone else None
    kwargs = {}
    for option, owner in (("arch", "file"), ("output", "onnx"), ("preprocessing", "onnx")):
        value = getattr(args, option, None)  # fit and predict take --arch only
        if value is None:
            continue
        if family != owner:
            raise ValueError(f"--{option} is only for --backbone {owner}:<path>; got --backbone {args.backbone}.")
        kwargs[option] = value
    return kwargs


def run_backbones(args) -> int:
    from featx.backbones import FAMILIES, list_backbones

    for name, description in list_backbones().items():
        print(f"{name:24s} {description}")
    for text in FAMILIES.values():
        print(text)
    return 0
