"""``featx cache ls | info | verify | rm``."""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub) -> None:
    from featx.cli._output import add_json

    p = sub.add_parser("cache", help="inspect, check and delete cached features")
    p.add_argument("--cache-dir", default=None, help="cache root (default: $FEATX_CACHE_DIR or ./cache)")
    csub = p.add_subparsers(dest="cache_command", required=True)
    ls = csub.add_parser("ls", help="list cache files")
    add_json(ls, "one entry per file (path, rows done, rows, dim, precision, bytes, backbone, problem)")
    ls.set_defaults(run=run_ls)
    info = csub.add_parser("info", help="provenance of one cache file")
    info.add_argument("file")
    info.set_defaults(run=run_info)
    verify = csub.add_parser("verify", help="check files for truncation, tampering and NaN (default: all)")
    verify.add_argument("files", nargs="*")
    verify.set_defaults(run=run_verify)
    rm = csub.add_parser("rm", help="delete cache files")
    rm.add_argument("files", nargs="*")
    rm.add_argument("--all", action="store_true", help="delete every file under the cache root")
    rm.set_defaults(run=run_rm)


def _root(args) -> Path:
    from featx.extract import default_cache_dir

    return Path(args.cache_dir) if args.cache_dir else default_cache_dir()


def _existing(path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"No cache file at {str(p)!r}; `featx cache ls` lists them.")
    return p


def run_ls(args) -> int:
    from featx.cli._output import Output
    from featx.extract import cache_info, list_cache

    out, entries = Output(args), []
    files = list_cache(_root(args))
    if not files:
        out.say(f"no cache files under {_root(args)}")
    else:
        out.say(f"{'rows':>13s} {'dim':>5s} {'precision':9s} {'MB':>8s}  file")
    for f in files:
        try:
            i = cache_info(f)
        except Exception as exc:  # a damaged file is listed, not fatal
            entries.append({"path": str(f), "problem": f"unreadable: {exc}"})
            out.say(f"{'?':>13s} {'?':>5s} {'?':9s} {'?':>8s}  {f}  (unreadable: {exc}; run `featx cache verify`)")
            continue
        entries.append({"path": str(f), "rows_done": i["n_done"], "rows": i["n_samples"], "dim": i["n_features"],
                        "precision": i["precision"], "size_bytes": i["size_bytes"], "backbone": _backbone_name(i),
                        "problem": None})
        rows = f"{i['n_done']}/{i['n_samples']}"
        out.say(f"{rows:>13s} {i['n_features']:>5d} {i['precision']:9s} {i['size_bytes'] / 1e6:8.1f}  {f}")
    out.emit(entries)
    return 0


def _backbone_name(info: dict):
    backbone = info.get("backbone")
    return backbone.get("name") if isinstance(backbone, dict) else backbone


def run_info(args) -> int:
    from featx.extract import cache_info

    path = _existing(args.file)
    try:
        info = cache_info(path)
    except (OSError, KeyError) as exc:
        raise ValueError(f"Cannot read cache file {str(path)!r}: {exc}. `featx cache verify {path}` says what is "
                         f"wrong; `featx cache rm {path}` and the same extraction again repairs it.") from exc
    print(json.dumps(info, indent=2, sort_keys=True, default=str))
    return 0


def run_verify(args) -> int:
    from featx.extract import cache_info, list_cache, verify_cache

    files = [_existing(f) for f in args.files] or list_cache(_root(args))
    bad = 0
    for f in files:
        problems = verify_cache(f)
        if problems:
            bad += 1
            print(f"DAMAGED {f}")
            for p in problems:
                print(f"  - {p}")
            print(f"  repair: `featx cache rm {f}` and run the same `featx extract` again")
        else:
            i = cache_info(f)
            state = "ok" if i["n_done"] == i["n_samples"] else (
                f"ok, incomplete ({i['n_done']}/{i['n_samples']} rows; run the same `featx extract` again to finish)")
            print(f"{state} {f}")
    print(f"{len(files) - bad} sound, {bad} damaged")
    return 1 if bad else 0


def run_rm(args) -> int:
    from featx.extract import list_cache, remove_cache

    if args.all == bool(args.files):
        raise ValueError("featx cache rm takes cache files or --all (not both, not neither).")
    files = list_cache(_root(args)) if args.all else [_existing(f) for f in args.files]
    if not files:
        print(f"no cache files under {_root(args)}: nothing removed")
    for f in files:
        remove_cache(f)
        print(f"removed {f}")
    return 0
