"""``featx compare``: frozen features, alignment and fine-tuning on the same draws, with a report."""

from __future__ import annotations

import sys
from pathlib import Path


def add_parser(sub) -> None:
    from featx.cli._images import add_compute_options, add_input_size

    p = sub.add_parser("compare", help="frozen features vs alignment vs fine-tuning: learning curves and a report")
    p.add_argument("data", nargs="+", help="labelled training images: folder, CSV manifest or builtin:<name>; "
                   "several are several source domains (each its own sample_domain)")
    p.add_argument("--test", help="held-out test images (default: a stratified --test-fraction of DATA)")
    p.add_argument("--target", help="a target domain; its labels only score")
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument("--backbones", metavar="NAME,NAME,...",
                   help="several backbones instead of --backbone: every frozen and aligned method runs on each "
                        "(METHOD@NAME) and on their ensemble (METHOD@ensemble, probabilities averaged) under the same "
                        "draws; fine-tuning uses the first")
    p.add_argument("--layer", action="append", dest="layers", metavar="NAME",
                   help="layer to extract, repeatable: 'pooled' (default) or a module name; with several, "
                        "METHOD@LAYER fits on one of them and METHOD@ensemble one model per layer, averaged")
    p.add_argument("--layers", dest="sweep", metavar="NAME,NAME,...",
                   help="layer sweep: extract these layers in one pass and fit every frozen and aligned method on "
                        "each on its own (METHOD@LAYER); the report plots accuracy against the layer")
    p.add_argument("--budgets", default="1,5,10,all", help="labelled images per class (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=5, help="stratified draws per budget (default: %(default)s)")
    p.add_argument("--methods", help="comma-separated registry names (`featx methods`): a head (no alignment), an "
                                     "alignment (its default head) or ALIGNMENT+HEAD, and fine-tuning names; default: "
                                     "every frozen head, the alignment methods with --target, and ft-last, ft-full, "
                                     "lp-ft (and ft-mcc with --target)")
    p.add_argument("--test-fraction", type=float, default=0.3)
    p.add_argument("--select", default=None, nargs="?", const="default", metavar="VALIDATOR[,VALIDATOR...]|all",
                   help="also let validators without target labels (source-cv, iwcv, dev, entropy, snd, reverse, "
                        "mixval) pick each feature method's configuration from its grid, beside the oracle; "
                        "without a value: reverse, the one that trailed the oracle least in featx's measurements; "
                        "needs --target")
    p.add_argument("--select-finetune", action="store_true",
                   help="with --select, also pick each fine-tuning strategy's learning rate (about 12x the cost of "
                        "fine-tuning alone; no reverse validation)")
    add_finetune(p)
    add_common(p)
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--device", default="auto")
    add_compute_options(p)
    add_input_size(p, "the extraction and fine-tuning")
    add_jobs(p)
    p.add_argument("--out", type=Path, default=None, help="report folder (default: results/<data name>)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=run_compare)


def add_finetune(p, *, budgets=None, repeats=None) -> None:
    """``--ft-epochs``, ``--ft-budgets``, ``--ft-repeats``."""
    p.add_argument("--ft-epochs", type=int, default=5, help="epochs of each fine-tuning run (default: %(default)s)")
    p.add_argument("--ft-budgets", default=budgets,
                   help="budgets fine-tuning runs at, some of --budgets (default: %(default)s)"
                   if budgets else "budgets fine-tuning runs at, some of --budgets (default: all)")
    p.add_argument("--ft-repeats", type=int, default=repeats,
                   help="draws fine-tuned per budget (default: %(default)s)" if repeats
                   else "draws fine-tuned per budget (default: all --repeats)")


def add_common(p) -> None:
    """``--scale``, ``--random-state`` (and the deprecated ``--seed``), ``--strict``."""
    p.add_argument("--scale", default="zscore", choices=["zscore", "unit", "none"],
                   help="per-domain scaling every feature model starts with (default: %(default)s)")
    p.add_argument("--random-state", type=int, default=0,
                   help="seeds the split, the draws, inner CV and fine-tuning (default: %(default)s)")
    p.add_argument("--seed", type=int, default=None, help="deprecated name of --random-state")
    p.add_argument("--strict", action="store_true",
                   help="exit with status 1 when any fit failed (the report is written either way)")


def add_jobs(p) -> None:
    p.add_argument("--jobs", type=int, default=-1,
                   help="feature-method fits at once, one process each (default: one per core)")
    p.add_argument("--fresh", action="store_true",
                   help="recompute every fit instead of reading finished ones from <cache-dir>/compare/")


def comma_list(text) -> list[str] | None:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``; ``None`` stays ``None``."""
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def random_state(args) -> int:
    """``--random-state``, or the deprecated ``--seed`` with a warning on stderr."""
    if args.seed is None:
        return args.random_state
    if args.random_state != 0:
        raise ValueError(f"got both --seed {args.seed} and --random-state {args.random_state}; "
                         "--seed is the deprecated name of --random-state, pass only --random-state.")
    print("featx: warning: --seed is deprecated and will be removed in the next release; use --random-state",
          file=sys.stderr)
    return args.seed


def run_compare(args) -> int:
    from featx.evaluate import compare

    methods = comma_list(args.methods)
    layers = args.layers
    if args.sweep is not None:
        if args.layers:
            raise ValueError(f"--layers (a sweep) and --layer (side by side) exclude each other; got --layers "
                             f"{args.sweep} and --layer {' --layer '.join(args.layers)}.")
        layers = comma_list(args.sweep)
    data = args.data[0] if len(args.data) == 1 else args.data
    result = compare(data, test=args.test, target=args.target, backbone=args.backbone, backbones=args.backbones,
                     budgets=args.budgets,
                     repeats=args.repeats, methods=methods, scale=args.scale, test_fraction=args.test_fraction,
                     random_state=random_state(args), ft_epochs=args.ft_epochs, ft_budgets=args.ft_budgets,
                     ft_repeats=args.ft_repeats, select=args.select, select_finetune=args.select_finetune,
                     layers=layers, layer_sweep=args.sweep is not None, cache_dir=args.cache_dir, device=args.device,
                     batch_size=args.batch_size, num_workers=args.workers, precision=args.precision,
                     input_size=args.input_size, n_jobs=args.jobs, reuse=not args.fresh,
                     progress=not args.no_progress)
    out = args.out or Path("results") / "+".join(Path(str(d).replace("builtin:", "")).name for d in args.data)
    return report_and_print(result, out, strict=args.strict)


def report_and_print(result, out: Path, *, strict: bool = False) -> int:
    """Write the report under ``out``; print the table, the best method, the failures and where
    the report is. Returns the exit status: 1 with ``strict`` and a failed fit, else 0."""
    from featx.evaluate import summary_table, write_report

    paths = write_report(result, out)
    print(summary_table(result))
    best = result.best()
    if best is not None:
        print(f"best at the largest budget: {best['method']} ({100 * best['accuracy']:.1f}%)")
    for f in result.failures:
        print(f"featx: warning: {f['method']} failed at budget {f['budget']}, draw {f['draw']}: {f['error']}: "
              f"{f['message']}", file=sys.stderr)
    if result.failures:
        print(f"featx: warning: {len(result.failures)} fits failed (listed in the report's 'Failed' section)",
              file=sys.stderr)
    print(f"report: {paths['markdown']}")
    return 1 if strict and result.failures else 0
