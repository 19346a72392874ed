"""A crash-safe log of finished comparison fits, so a re-run or a resumed run skips them."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def digest(obj) -> str:
    """A short stable hash of a JSON-able object (arrays by their bytes)."""
    def default(o):
        if isinstance(o, np.ndarray):
            return hashlib.sha256(np.ascontiguousarray(o).tobytes()).hexdigest()
        return str(o)

    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=default).encode()).hexdigest()[:20]


class TaskLog:
    """Append-only JSON-lines file of finished tasks, keyed by everything that decides them.

    Each line is ``{"key": ..., "record": {...}, "pred": [...] or null}`` written with one
    ``write`` and an ``fsync``; a line cut short by a crash is ignored on reading, so at most
    the fit that was running is lost.

    Parameters
    ----------
    path : Path
        The log file (its folder is created).
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    def load(self) -> dict:
        """``key -> entry`` of every complete line."""
        done = {}
        if not self.path.exists():
            return done
        with self.path.open("r", encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                try:
                    entry = json.loads(line)
                    done[entry["key"]] = entry
                except (json.JSONDecodeError, KeyError, TypeError):
                    logger.warning("%s line %d is incomplete (an interrupted run); that fit runs again",
                                   self.path, number)
        return done

    def append(self, key: str, record: dict, pred) -> None:
        """Add one finished task."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"key": key, "record": record, "pred": None if pred is None else np.asarray(pred).tolist()})
        if self.path.exists() and self.path.stat().st_size:
            with self.path.open("rb") as fh:  # a crash may have left half a line: end it first
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    line = "\n" + line
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())


class FitOutcomes:
    """How a comparison fit's outcome ``(pred, cost)`` is stored in and read from the task log:
    the cost record, and the predictions of a task's first draw (the report's confusion
    matrix); a failed fit (``"error"`` in its cost) is not stored, so a re-run tries it again."""

    @staticmethod
    def failed(outcome) -> bool:
        return "error" in outcome[1]

    @staticmethod
    def encode(task, outcome) -> tuple[dict, object]:
        pred, cost = outcome
        return cost, pred if task.draw == 0 else None

    @staticmethod
    def decode(entry):
        pred = None if entry["pred"] is None else np.asarray(entry["pred"])
        return pred, {**entry["record"], "reused": True}


class SelectionOutcomes:
    """How a selection's outcome (one record per validator and the oracle, or one error record)
    is stored in and read from the task log."""

    @staticmethod
    def failed(outcome) -> bool:
        return "error" in outcome[0]

    @staticmethod
    def encode(task, outcome) -> tuple[dict, object]:
        return {"selection": outcome}, None

    @staticmethod
    def decode(entry):
        return entry["record"]["selection"]
