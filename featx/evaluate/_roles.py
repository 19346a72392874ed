"""Which rows play which role in a comparison: extraction of each data argument, the training
pool, the test rows, the unlabelled target rows, and the tasks drawn from the pool."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from featx.domains import DEFAULT_SOURCE
from featx.evaluate._tasklog import digest
from featx.features import FeatureSet
from featx.methods import ENSEMBLE, split_layer
from featx.protocol import budget_draws, stratified_split

logger = logging.getLogger(__name__)


def label(spec) -> str | None:
    """A data argument in words: a source's name, else the path or ``builtin:`` text; several
    sources joined by `` + ``."""
    from featx.data import ImageSource

    if spec is None:
        return None
    if several(spec):
        return " + ".join(label(s) for s in spec)
    return spec.name if isinstance(spec, ImageSource) else str(spec)


def several(spec) -> bool:
    """Whether a data argument is a list of sources (several labelled source domains)."""
    return isinstance(spec, (list, tuple))


@dataclass(frozen=True)
class Extraction:
    """How a comparison's images become features: the arguments of
    :func:`featx.extract_features` every role shares. With ``others`` (more backbones), every
    source is embedded by ``backbone`` and each of them, the columns side by side
    (:func:`featx.evaluate._backbones.side_by_side`); fine-tuning uses ``backbone``."""

    backbone: object
    cache_dir: object = None
    device: str = "auto"
    progress: bool = True
    on_error: str = "skip"
    batch_size: object = "auto"
    num_workers: object = "auto"
    precision: str = "float32"
    others: tuple = ()

    def role(self, spec, role: str):
        """``(source, features, info)`` of one data argument (extracted and cached)."""
        from featx.data import open_source

        return self.extract(open_source(spec), role)

    def extract(self, source, role: str):
        """``(source, features, info)`` of an opened source (extracted and cached; by every
        backbone, side by side, with ``others``: ``info["backbones"]`` then gives each one's
        seconds, rows computed and cache file)."""
        from featx.evaluate._backbones import side_by_side
        from featx.extract import extract_features

        each, sets = {}, []
        for backbone in (self.backbone, *self.others):
            start = time.perf_counter()
            fs = extract_features(source, backbone, cache_dir=self.cache_dir, device=self.device,
                                  on_error=self.on_error, progress=self.progress, batch_size=self.batch_size,
                                  num_workers=self.num_workers, precision=self.precision)
            sets.append(fs)
            each[backbone.name] = {"seconds": time.perf_counter() - start, "computed": int(fs.metadata["n_computed"]),
                                   "cache_file": str(fs.metadata["path"])}
        fs = side_by_side((self.backbone, *self.others), sets) if self.others else sets[0]
        info = {"rows": len(fs), "seconds": sum(e["seconds"] for e in each.values()),
                "computed": sum(e["computed"] for e in each.values()),
                "cache_hit": all(e["computed"] == 0 for e in each.values()),
                "cache_file": "; ".join(e["cache_file"] for e in each.values())}
        if self.others:
            info["backbones"] = each
        logger.info("%s: %d rows, %d computed, %.1f s", role, len(fs), info["computed"], info["seconds"])
        return source, fs, info

    def sources(self, specs):
        """Each labelled source extracted (and cached) on its own, then stacked as one training
        set whose rows keep their source as their domain, so every model sees ``sample_domain``
        1..k; the images as one :class:`featx.data.ConcatSource` for fine-tuning."""
        from featx.data import ConcatSource, open_source

        if len(specs) == 0:
            raise ValueError("compare needs at least one labelled source; got an empty list.")
        opened = [open_source(spec) for spec in specs]
        check_two_classes(np.concatenate([np.asarray(s.labels) for s in opened]), opened[0].classes)
        parts = [self.extract(source, f"train[{i}]") for i, source in enumerate(opened)]
        source = ConcatSource([p[0] for p in parts])
        sets = [FeatureSet(fs.X, fs.y, np.array([f"{name}/{i}" for i in fs.ids]), np.full(len(fs), name),
                           fs.classes, fs.metadata) for name, (_, fs, _) in zip(source.domain_names, parts)]
        infos = [p[2] for p in parts]
        info = {"rows": sum(i["rows"] for i in infos), "seconds": sum(i["seconds"] for i in infos),
                "computed": sum(i["computed"] for i in infos), "cache_hit": all(i["cache_hit"] for i in infos),
                "cache_file": "; ".join(i["cache_file"] for i in infos), "sources": source.domain_names}
        return source, FeatureSet.concat(sets), info

    def train(self, data):
        """:meth:`sources` for a list of data arguments, else the one source, opened and refused
        before any extraction when its labels hold fewer than two classes."""
        from featx.data import open_source

        if several(data):
            return self.sources(data)
        source = open_source(data)
        check_two_classes(source.labels, source.classes)
        return self.extract(source, "train")


def check_two_classes(labels, classes) -> None:
    """Refuse training labels of fewer than two classes: no classifier can be compared on them.

    Raises
    ------
    ValueError
        Naming the one class found (or none) and what to pass instead.
    """
    found = sorted({int(v) for v in np.asarray(labels) if v >= 0})
    if len(found) < 2:
        names = [str(classes[i]) if classes is not None and i < len(classes) else str(i) for i in found]
        raise ValueError(f"compare needs labelled training images of at least 2 classes; got {len(found)} "
                         f"({names}). Point it at a folder with one sub-folder per class, or a manifest with "
                         "a label column of several classes.")


def domain_name(fs) -> str:
    """A feature set's domains in words (``"amazon,dslr"``), or ``"features"``."""
    names = sorted({str(d) for d in np.asarray(fs.domains)}) if fs.domains is not None else []
    return ",".join(names) or "features"


def identity(fs):
    """What identifies a feature set in the task log: its cache key and row ids (a subset of a
    cache file keeps the file's key), else its content."""
    if fs.metadata.get("key"):
        return digest({"key": fs.metadata["key"], "ids": np.asarray(fs.ids).astype(str), "y": np.asarray(fs.y)})
    return digest({"X": np.ascontiguousarray(fs.X), "y": np.asarray(fs.y)})


@dataclass(frozen=True)
class Split:
    """The rows of one comparison, fixed before any draw.

    Attributes
    ----------
    train : FeatureSet
        The training data; budgets draw from its rows ``pool``.
    pool : ndarray of int
        Labelled training rows the budget draws come from (test rows held out).
    X_test, y_test : ndarray
        The rows every method is scored on and their labels (``-1``: not scored).
    test_rows : ndarray of int or None
        Training rows held out as the test set (when no test or target data was given).
    X_unlabelled : ndarray or None
        Target rows alignment methods see without labels.
    identity : dict
        Digests of the train, test and target data (the task log's key).
    """

    train: FeatureSet
    pool: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    test_rows: np.ndarray | None
    X_unlabelled: np.ndarray | None
    identity: dict

    @property
    def y_train(self) -> np.ndarray:
        return np.asarray(self.train.y)

    @property
    def classes(self) -> list:
        return list(self.train.classes)

    def source_codes(self) -> np.ndarray:
        """``sample_domain`` of every training row: each named source domain its own code,
        ``DEFAULT_SOURCE``, ``DEFAULT_SOURCE + 1``, ... (scaled with its own moments)."""
        names = np.asarray(self.train.domains).astype(str)
        return (DEFAULT_SOURCE + np.unique(names, return_inverse=True)[1]).astype(np.int64)

    def test_domains(self) -> np.ndarray | None:
        """``sample_domain`` of the test rows when they are held out of the sources and there is
        no target (each row predicted as its own source); ``None`` otherwise."""
        if self.test_rows is None or self.X_unlabelled is not None:
            return None
        return self.source_codes()[self.test_rows]


def split_rows(train_fs, test_fs, target_fs, test_fraction, random_state) -> Split:
    """Training pool, test rows and unlabelled target rows of one comparison."""
    y_train = np.asarray(train_fs.y)
    if (y_train < 0).all():
        raise ValueError("The training data carries no labels; compare needs labelled training rows.")
    check_two_classes(y_train, train_fs.classes)
    ident = {"train": identity(train_fs), "test": None, "target": None}
    if test_fs is None:
        pool, held = stratified_split(y_train, test_fraction, random_state)
        return Split(train_fs, pool[y_train[pool] >= 0], train_fs.X[held], y_train[held], held, None, ident)
    if tuple(test_fs.classes) != tuple(train_fs.classes):
        raise ValueError(f"Test/target classes {list(test_fs.classes)} differ from the training classes "
                         f"{list(train_fs.classes)}.")
    ident["test"] = identity(test_fs)
    if target_fs is not None:
        ident["target"] = identity(target_fs)
    return Split(train_fs, np.flatnonzero(y_train >= 0), test_fs.X, np.asarray(test_fs.y), None,
                 None if target_fs is None else target_fs.X, ident)


class Task(NamedTuple):
    """One fit of a comparison: ``method`` (on rung ``rung``) on draw ``draw`` (rows ``rows`` of
    the pool) of ``budget``."""

    budget: int | str
    draw: int
    rows: np.ndarray
    method: str
    rung: str


def make_tasks(split: Split, plan) -> list[Task]:
    """Every (budget, draw, method) of a plan, fine-tuning at its own budgets and draws only."""
    y_pool = split.y_train[split.pool]
    return [Task(b, r, rows, m, plan.rungs[m]) for b in plan.budgets
            for r, rows in enumerate(budget_draws(y_pool, b, plan.repeats, plan.random_state)) for m in plan.methods
            if plan.rungs[m] != "finetuned" or (b in plan.ft_budgets and r < plan.ft_repeats)]


def check_layers(methods, layers):
    """The features' layers when some method picks among them (``MODEL@LAYER``, ``@ensemble``),
    checked before any fit; ``None`` otherwise."""
    picked = {m: split_layer(m)[1] for m in methods if split_layer(m)[1] is not None}
    if not picked:
        return None
    if not layers:
        raise ValueError(f"Methods {sorted(picked)} pick backbone layers, but the features carry no layer record; "
                         "extract them with featx (compare(..., layers=[...]), --layer).")
    names = [n for n, _ in layers]
    unknown = sorted({lay for lay in picked.values() if lay != ENSEMBLE and lay not in names})
    if unknown:
        raise ValueError(f"Methods name layers {unknown} that the features do not hold; they hold {names} "
                         f"(or @{ENSEMBLE}).")
    return layers
