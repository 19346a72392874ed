"""``featx compare``: frozen features, alignment and fine-tuning on the same draws, with a report."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="frozen features vs alignment vs fine-tuning: learning curves and a report")
    p.add_argument("data", help="labelled training images: folder, CSV manifest or builtin:<name>")
    p.add_argument("--test", help="held-out test images (default: a stratified --test-fraction of DATA)")
    p.add_argument("--target", help="a target domain; its labels only score")
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument("--budgets", default="1,5,10,all", help="labelled images per class (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=5, help="stratified draws per budget (default: %(default)s)")
    p.add_argument("--methods", help="comma-separated; default: every frozen head, the alignment methods with "
                                     "--target, and ft-last, ft-full, lp-ft")
    p.add_argument("--test-fraction", type=float, default=0.3)
    p.add_argument("--ft-epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--device", default="auto")
    add_jobs(p)
    p.add_argument("--out", type=Path, default=None, help="report folder (default: results/<data name>)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=run_compare)


def add_jobs(p) -> None:
    p.add_argument("--jobs", type=int, default=-1,
                   help="feature-method fits at once, one process each (default: one per core)")
    p.add_argument("--fresh", action="store_true",
                   help="recompute every fit instead of reading finished ones from <cache-dir>/compare/")


def run_compare(args) -> int:
    from featx.evaluate import compare

    methods = None if args.methods is None else [m.strip() for m in args.methods.split(",") if m.strip()]
    result = compare(args.data, test=args.test, target=args.target, backbone=args.backbone, budgets=args.budgets,
                     repeats=args.repeats, methods=methods, test_fraction=args.test_fraction, seed=args.seed,
                     ft_epochs=args.ft_epochs, cache_dir=args.cache_dir, device=args.device,
                     n_jobs=args.jobs, reuse=not args.fresh, progress=not args.no_progress)
    out = args.out or Path("results") / Path(str(args.data).replace("builtin:", "")).name
    report_and_print(result, out)
    return 0


def report_and_print(result, out: Path) -> None:
    """Write the report under ``out``; print the table, the best method and where the report is."""
    from featx.evaluate import write_report
    from featx.evaluate._report import summary_table

    paths = write_report(result, out)
    print(summary_table(result))
    best = result.best()
    print(f"best at the largest budget: {best['method']} ({100 * best['accuracy']:.1f}%)")
    print(f"report: {paths['markdown']}")
