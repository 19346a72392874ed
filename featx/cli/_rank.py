"""``featx rank``: transferability scores of every (backbone, layer), from the feature cache."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    from featx.cli._images import add_compute_options

    p = sub.add_parser("rank", help="which backbone and layer: transferability scores from the feature cache")
    p.add_argument("data", help="labelled images: folder, CSV manifest or builtin:<name>")
    p.add_argument("--backbones", default="efficientnet_lite0",
                   help="comma-separated candidates (`featx backbones`; default: %(default)s)")
    p.add_argument("--layers", default=None,
                   help="comma-separated layers of every backbone, each scored on its own (default: pooled)")
    p.add_argument("--target", default=None,
                   help="unlabelled target images: adds each candidate's proxy A-distance to them")
    p.add_argument("--scores", default="all",
                   help="comma-separated: logme, leep, nleep, nce, h-score, gbc, knn; or all (default)")
    p.add_argument("--random-state", type=int, default=0, help="seeds NLEEP, GBC and the A-distance")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--device", default="auto")
    add_compute_options(p)
    p.add_argument("--out", type=Path, default=None, help="folder for rank.json (default: print only)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=run_rank)


def run_rank(args) -> int:
    from featx.cli._compare import comma_list
    from featx.transferability import GAP, rank

    result = rank(args.data, comma_list(args.backbones), layers=comma_list(args.layers), target=args.target,
                  scores=args.scores, cache_dir=args.cache_dir, device=args.device, batch_size=args.batch_size,
                  num_workers=args.workers, precision=args.precision, progress=not args.no_progress,
                  random_state=args.random_state)
    print(result.table())
    computed = sum(e["n_computed"] for e in result.extractions)
    print(f"features: {len(result.extractions)} cache file(s), {computed} image(s) embedded now")
    for s in result.scores():
        bb, layer = result.best(s)
        note = "  (the most reliable score in featx's validation: docs/user_guide/rank.md)" if s == "knn" else ""
        print(f"{s}: {'closest' if s == GAP else 'best'} {bb} @ {layer}{note}")
    if result.skipped:
        print(f"not scored: {len(result.skipped)} (backbone, layer, score) - LEEP and NCE need the backbone's own "
              "classifier, which reads the pooled layer")
    if args.out is not None:
        print(f"written: {result.write(args.out)}")
    return 0
