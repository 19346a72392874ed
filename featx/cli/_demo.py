"""``featx demo``: the main job on the embedded default backbone, offline."""

from __future__ import annotations

import time
from pathlib import Path

from featx.cli._compare import add_common, add_finetune, add_jobs, random_state, report_and_print
from featx.cli._images import add_compute_options, add_input_size

#: what the demo runs: the frozen heads (the RBF SVM is left to `featx compare`: 20 s a fit at 'all'
#: for chance-level target accuracy), the alignment methods, MCC (the strongest deep-DA head on
#: the embeddings, seconds a fit), two source-only fine-tuning strategies and the top rung,
#: fine-tuning with MCC's objective on the unlabelled target images
DEMO_METHODS = ["logreg", "linear-svm", "knn", "ncm", "coral", "sa", "gfk", "tca", "jda", "easytl", "mcc"]
FINETUNE_METHODS = ["lp-ft", "ft-last", "ft-mcc"]
#: one draw at 10 images per class: a fine-tuning run costs seconds to a minute on 2 CPU cores
FT_BUDGETS, FT_REPEATS = "10", 1
#: scikit-learn's digits are 8 x 8 scans: 96 px carries all they hold at a fifth of 224 px's cost
#: (the input size's effect on the digit tasks is measured by benchmarks/input_size.py)
DEMO_INPUT_SIZE = 96
#: the report goes to the user's folder; the committed example lives with the docs
DEFAULT_OUT = Path("featx-demo")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="frozen features vs domain alignment vs fine-tuning on scikit-learn's digits (offline, the default "
             "backbone)",
        description="Source: scikit-learn's 1,797 bundled digit scans rendered as images (builtin:digits). "
                    "Target: the same digits with thicker, inverted strokes (builtin:digits-shifted). "
                    "Embeds both with the embedded EfficientNet-Lite0 (cached) at 96 px, runs frozen heads "
                    "and alignment methods over labelled budgets and fine-tunes the same network (LP-FT, the "
                    "last stages, and LP-FT with MCC's objective on the unlabelled target) at --ft-budgets, "
                    "prints the table and writes a report.",
    )
    p.add_argument("--budgets", default="1,5,10,all", help="labelled source images per class (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=5, help="stratified draws per budget (default: %(default)s)")
    p.add_argument("--n-samples", type=int, default=None,
                   help="use the first N digits of each domain (default: all 1,797) for a quicker look")
    p.add_argument("--no-finetune", action="store_true",
                   help=f"frozen features and alignment only (leave out {', '.join(FINETUNE_METHODS)})")
    add_finetune(p, budgets=FT_BUDGETS, repeats=FT_REPEATS)
    add_common(p)
    add_compute_options(p)
    add_input_size(p, "the extraction and fine-tuning", default=DEMO_INPUT_SIZE)
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--device", default="auto")
    add_jobs(p)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder (default: ./%(default)s)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=run_demo)


def run_demo(args) -> int:
    from featx.data import load_digits_images, load_shifted_digits_images
    from featx.evaluate import compare

    start = time.perf_counter()
    methods = DEMO_METHODS + ([] if args.no_finetune else FINETUNE_METHODS)
    source = load_digits_images(n_samples=args.n_samples)
    target = load_shifted_digits_images(n_samples=args.n_samples)
    result = compare(source, target=target, backbone="efficientnet_lite0",
                     budgets=args.budgets, repeats=args.repeats, methods=methods, scale=args.scale,
                     random_state=random_state(args), ft_epochs=args.ft_epochs,
                     ft_budgets=None if args.no_finetune else args.ft_budgets,
                     ft_repeats=None if args.no_finetune else args.ft_repeats, cache_dir=args.cache_dir,
                     device=args.device, batch_size=args.batch_size, num_workers=args.workers,
                     precision=args.precision, input_size=args.input_size, n_jobs=args.jobs, reuse=not args.fresh,
                     progress=not args.no_progress)
    status = report_and_print(result, args.out, strict=args.strict)
    hits = [role for role, e in result.extraction.items() if e["cache_hit"]]
    print(f"total {time.perf_counter() - start:.0f} s; features read from the cache for: {', '.join(hits) or 'none'}")
    return status
