"""``featx`` command line.

Examples
--------
featx demo                                         # the main job, offline: frozen vs aligned on digits
featx extract builtin:digits                       # the embedded default backbone, offline
featx extract path/to/images --backbone timm:resnet50.a1_in1k --layer layer3 --layer pooled
featx extract manifest.csv --backbone file:ckpt.pth --arch timm:resnet18 --precision bfloat16
featx backbones                                    # names you can pass to --backbone
featx cache ls | info FILE | verify [FILE...] | rm FILE... [--all]
featx methods                                      # the registry: heads, alignment, fine-tuning
featx fit photos/train --save model.skops                    # a classifier of images, saved with its backbone
featx predict model.skops new1.jpg new2.jpg --top-k 2        # class names and probabilities, CSV on stdout
featx fit office.h5 --source amazon --target webcam --method coral --head logreg --predictions pred.csv
featx evaluate office.h5 --source amazon --target webcam --methods all --heads logreg,1nn
featx compare hymenoptera_data/train --test hymenoptera_data/val --budgets 1,5,20,all --repeats 5
featx rank hymenoptera_data/train --backbones efficientnet_lite0,efficientnet_lite2 --layers blocks.5,pooled
"""

from __future__ import annotations

import argparse
import logging
import sys

from featx import __version__
from featx.cli import _cache, _compare, _demo, _extract, _fit, _predict, _rank


class _Parser(argparse.ArgumentParser):
    """argparse with featx's one error prefix: a usage error ends as every expected fault does,
    ``featx: error: ...`` and exit status 2 (after the usage line)."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"featx: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(prog="featx", description="Frozen pretrained features for scikit-learn.")
    parser.add_argument("--version", action="version", version=f"featx {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-v, -vv)")
    sub = parser.add_subparsers(dest="command", required=True)
    _extract.add_parsers(sub)
    _cache.add_parser(sub)
    _fit.add_parsers(sub)
    _predict.add_parser(sub)
    _compare.add_parser(sub)
    _rank.add_parser(sub)
    _demo.add_parser(sub)
    _accept_anywhere(sub, "-v", "--verbose", action="count", help="more log output (-v, -vv)")
    for cache in _nested(sub.choices["cache"]):
        _accept_anywhere(cache, "--cache-dir", help="cache root (default: $FEATX_CACHE_DIR or ./cache)")
    return parser


def _nested(parser) -> list:
    """The subcommand groups of ``parser`` (argparse keeps them among its actions)."""
    return [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]


def _accept_anywhere(sub, *flags, **kwargs) -> None:
    """Let an option given before the subcommand also come after it: every subcommand under
    ``sub`` (and theirs) takes it too, with no default of its own, so the value given before
    stands unless one is given after."""
    for parser in sub.choices.values():
        if not any(flag in parser._option_string_actions for flag in flags):
            parser.add_argument(*flags, default=argparse.SUPPRESS, **kwargs)
        for action in _nested(parser):
            _accept_anywhere(action, *flags, **kwargs)


#: Exit statuses (documented in the command-line guide and the guarantees page).
OK, FAILED, USAGE = 0, 1, 2
#: After Ctrl-C: 128 + SIGINT, as Unix tools end.
INTERRUPTED = 130
#: After the reader of stdout went away: 128 + SIGPIPE.
CLOSED_PIPE = 141

#: Faults a user can cause or repair (bad input, a missing or damaged file, a folder that cannot
#: be written, a failed download): one line on stderr and exit status 2, the traceback only with -v.
EXPECTED = (ValueError, OSError, RuntimeError, ImportError)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        return int(args.run(args) or 0)
    except BrokenPipeError:
        return _closed_pipe()
    except KeyboardInterrupt as exc:
        if args.verbose:
            raise
        said = str(exc) or "work finished before it (cache rows, task logs) is kept: run the same command again " \
                             "to resume"
        print(f"featx: interrupted: {said}", file=sys.stderr)
        return INTERRUPTED
    except EXPECTED as exc:
        if args.verbose:
            raise
        print(f"featx: error: {one_line(exc)}", file=sys.stderr)
        return USAGE


def configure_logging(verbose: int) -> None:
    """Show featx's own messages at WARNING, INFO with ``-v`` (its decisions and progress), DEBUG
    with ``-vv``; other libraries' (filelock, h5py, PIL, torch) stay at WARNING whatever ``-v`` says."""
    root = logging.getLogger()
    if not root.handlers:  # a program that calls main() keeps its own handlers
        handler = logging.StreamHandler()
        handler.setFormatter(_Formatter(debug=verbose >= 2))
        root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("featx").setLevel(logging.WARNING - 10 * min(verbose, 2))


class _Formatter(logging.Formatter):
    """``featx: warning: ...`` and ``featx: ...`` (info); with ``-vv`` the level and logger of every line."""

    def __init__(self, debug: bool):
        super().__init__("%(levelname)s %(name)s: %(message)s" if debug else None)
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        if self.debug:
            return super().format(record)
        level = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        return f"featx: {level}{record.getMessage()}"


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (a traceback-free summary for the terminal)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, (ValueError, RuntimeError, ImportError)) else f"{text} ({type(exc).__name__})"


def _closed_pipe() -> int:
    """End quietly when the reader of stdout has gone (``featx cache ls | head -3``): stdout is
    pointed at ``/dev/null`` so that flushing it at exit raises nothing more."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return CLOSED_PIPE


def cli() -> None:  # pragma: no cover - console-script entry point
    """Console-script entry point."""
    sys.exit(main())
