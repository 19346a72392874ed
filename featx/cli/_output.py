"""Where a command's results go: lines for people on stdout, or, with ``--json``, one JSON
document on stdout (the lines for people then go to stderr) or into a file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

#: ``--json`` alone: the document on stdout.
STDOUT = "-"


def json_target(text: str) -> str:
    """``-`` or a path ending in ``.json`` (so ``--json photos/train`` is not taken for a file to write)."""
    if text != STDOUT and not text.endswith(".json"):
        raise argparse.ArgumentTypeError(f"expected nothing (JSON on stdout), '-' or a FILE.json; got {text!r}")
    return text


def add_json(parser, what: str) -> None:
    """The ``--json [FILE.json]`` option of a command that reports ``what``."""
    parser.add_argument("--json", nargs="?", const=STDOUT, default=None, type=json_target, metavar="FILE.json",
                        help=f"{what} as JSON: alone, on stdout (the lines for people go to stderr); with a "
                             "FILE.json, into that file")


class Output:
    """A command's two outputs: :meth:`say` for people, :meth:`emit` for programs (``--json``)."""

    def __init__(self, args):
        self.json = getattr(args, "json", None)

    @property
    def people(self):
        """stdout, or stderr when stdout carries the JSON document."""
        return sys.stderr if self.json == STDOUT else sys.stdout

    def say(self, *parts) -> None:
        print(*parts, file=self.people)

    def emit(self, document) -> None:
        """Write ``document`` where ``--json`` said (nothing without it)."""
        if self.json is None:
            return
        text = json.dumps(document, indent=2, sort_keys=True, default=str)
        if self.json == STDOUT:
            print(text)
            return
        path = Path(self.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
        self.say(f"wrote {path}")
