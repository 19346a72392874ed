"""Choosing a fine-tuning strategy's learning rate without target labels: the same
:func:`featx.select.select` as for the feature methods, on row ids of the images.

The fine-tuned model is source-only (``featx compare`` fine-tunes on the labelled source images),
so each validator sees what it sees for a feature model: held-out source folds (``source-cv``,
and ``iwcv`` / ``dev`` with importance weights from a domain classifier on the backbone's frozen
embeddings of the same images), the target predictions of a fit on every labelled image
(``entropy``, ``snd``) and MixVal's probes, target images mixed pixel by pixel. Reverse
validation is left out: it would fine-tune on every pseudo-labelled target image for every fold
and configuration, ``n_target / n_labelled`` times the cost of the forward fits.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from PIL import Image

from featx.data import ImageSource
from featx.domains import DEFAULT_SOURCE, MASKED_LABEL, check_sample_domain, with_unlabelled_target
from featx.evaluate._tasklog import SelectionOutcomes
from featx.methods import selection_grid
from featx.select import check_validators, select

logger = logging.getLogger(__name__)

#: Validators that cost more than fine-tuning allows (see the module's docstring).
SKIPPED = {"reverse": "would fine-tune on every pseudo-labelled target image for every fold and configuration"}


class _Mix:
    """MixVal's probes as row ids: ``alpha`` of image ``a[i]`` and ``1 - alpha`` of ``b[i]``."""

    def __init__(self, a, b, alpha):
        self.a, self.b, self.alpha = np.asarray(a), np.asarray(b), float(alpha)

    def __len__(self):
        return len(self.a)


class ImageTable:
    """Several image sources as one table of rows ``0 .. n-1`` (each part's rows in turn)."""

    def __init__(self, parts):
        self.parts = list(parts)
        self.classes = tuple(self.parts[0].classes)
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])
        self._stamps = {}

    def __len__(self):
        return int(self.offsets[-1])

    def locate(self, row: int) -> tuple[int, int]:
        """``(part, index in that part)`` of table row ``row``."""
        k = int(np.searchsorted(self.offsets, row, side="right") - 1)
        return k, int(row - self.offsets[k])

    def load(self, row: int) -> Image.Image:
        k, j = self.locate(row)
        return self.parts[k].load(j)

    def stamp(self, row) -> str:
        """The content stamp of ``row`` (each part's stamps computed once)."""
        k, j = self.locate(row)
        if k not in self._stamps:
            self._stamps[k] = self.parts[k].content_stamps()
        return self._stamps[k][j]

    def images(self, rows, labels=None) -> ImageSource:
        """Rows ``rows`` (or a :class:`_Mix` of them) as an image source labelled ``labels``."""
        if isinstance(rows, _Mix):
            return _MixedRows(self, rows)
        return _Rows(self, np.asarray(rows, dtype=np.int64), labels)


class _Rows(ImageSource):
    """Rows of an :class:`ImageTable`, with labels given (indices into the table's classes) or none."""

    def __init__(self, table, rows, labels=None):
        self.table, self.rows = table, rows
        where = [table.locate(r) for r in rows]
        self.ids = [f"{k}:{table.parts[k].ids[j]}" for k, j in where]
        self.domains = [table.parts[k].domains[j] for k, j in where]
        self.labels = np.full(len(rows), MASKED_LABEL, np.int64) if labels is None else np.asarray(labels, np.int64)
        self.classes = table.classes
        self.name = "selection-rows"

    def load(self, i: int) -> Image.Image:
        return self.table.load(self.rows[i])

    def content_stamps(self) -> list[str]:
        return [self.table.stamp(r) for r in self.rows]


class _MixedRows(ImageSource):
    """MixVal's probes: two rows' images (RGB, the second resized to the first) blended."""

    def __init__(self, table, mix):
        self.table, self.mix = table, mix
        self.ids = [f"mix:{a}:{b}" for a, b in zip(mix.a, mix.b)]
        self.domains = ["mixed"] * len(mix)
        self.labels = np.full(len(mix), MASKED_LABEL, np.int64)
        self.classes = table.classes
        self.name = "mixval-probes"

    def load(self, i: int) -> Image.Image:
        a, b = (self._rgb(r) for r in (self.mix.a[i], self.mix.b[i]))
        return Image.blend(b.resize(a.size, Image.BILINEAR), a, self.mix.alpha)  # alpha * a + (1 - alpha) * b

    def _rgb(self, row) -> Image.Image:
        with self.table.load(row) as img:
            return img.convert("RGB")

    def content_stamps(self) -> list[str]:
        return [f"mix{self.mix.alpha}:{self.table.stamp(a)}:{self.table.stamp(b)}"
                for a, b in zip(self.mix.a, self.mix.b)]


class FineTuneOnRows:
    """Fine-tuning as :func:`featx.select.select` drives it: ``fit`` / ``predict`` on row ids of
    an :class:`ImageTable`, the labelled source rows (``sample_domain >= 0``, ``y >= 0``) trained
    on; the target rows (``sample_domain < 0``) are the unlabelled target images of a strategy
    with a domain-adaptation objective and ignored by the others.

    Parameters
    ----------
    table : ImageTable
    make : callable
        ``labels -> FineTuneClassifier`` (unfitted) for training images with those labels.
    """

    def __init__(self, table, make):
        self.table = table
        self.make = make

    def fit(self, X, y, sample_domain=None):
        X, y = np.asarray(X), np.asarray(y)
        sd = check_sample_domain(X, y, sample_domain)
        keep = (sd >= 0) & (y >= 0)
        clf = self.make(y[keep])
        target = self.table.images(X[sd < 0]) if clf.da_loss is not None else None
        self.classifier_ = clf.fit(self.table.images(X[keep], y[keep]), target_data=target)
        self._last = (None,)
        self.classes_ = np.arange(len(self.table.classes))
        return self

    def predict_proba(self, X, sample_domain=None) -> np.ndarray:
        # select() asks for the labels and the probabilities of the same target rows: one pass
        key = (X.a.tobytes(), X.b.tobytes(), X.alpha) if isinstance(X, _Mix) else np.asarray(X).tobytes()
        if getattr(self, "_last", (None,))[0] != key:
            self._last = key, self.classifier_.predict_proba(self.table.images(X))
        return self._last[1]

    def predict(self, X, sample_domain=None) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)


def finetune_selection_task(method, validators, make, source, rows, target, features, *, test=None,
                            random_state=0) -> list[dict]:
    """Each validator's pick of fine-tuning ``method``'s learning rate (its selection grid) for
    one draw: the labelled ``source`` images ``rows``, the unlabelled ``target`` images.

    Parameters
    ----------
    method : str
        A fine-tuning name of the registry.
    validators : list of str
        Validators asked for; those in :data:`SKIPPED` are reported without a pick.
    make : callable
        ``(params, labels) -> FineTuneClassifier`` (unfitted).
    source, target : ImageSource
    rows : ndarray of int
        The draw's rows of ``source``.
    features : ndarray of shape (len(rows) + len(target), d)
        The frozen embeddings of those images (the domain classifier of ``iwcv`` and ``dev``).
    test : ImageSource, optional
        Labelled test images for the oracle; default the target's own labels.
    random_state : int, default=0

    Returns
    -------
    list of dict
        One record per validator and the oracle (as :class:`featx.evaluate._selection.FeatureSelection`
        returns them), or an error record.
    """
    from featx.evaluate._selection import selection_records

    names = check_validators(validators)
    asked = [v for v in names if v not in SKIPPED]
    table = ImageTable([source, target] + ([test] if test is not None else []))
    n_lab, n_target = len(rows), len(target)
    X, y, sd = with_unlabelled_target(np.asarray(rows, np.int64), np.asarray(source.labels)[rows],
                                      np.full(n_lab, DEFAULT_SOURCE), table.offsets[1] + np.arange(n_target))
    oracle = {"y_target": np.asarray(target.labels)} if test is None else \
        {"test": (table.offsets[2] + np.arange(len(test)), np.asarray(test.labels))}
    skipped = [{"validator": v, "params": None, "score": None, "accuracy": float("nan"), "gap": float("nan"),
                "grid_size": len(selection_grid(method)), "infeasible": 0, "rank_corr": float("nan"),
                "fit_s": float("nan"), "select_s": 0.0, "skipped": SKIPPED[v]} for v in names if v in SKIPPED]
    if not asked:
        return skipped
    start = time.perf_counter()
    try:
        result = select(lambda params: FineTuneOnRows(table, lambda labels: make(params, labels)),
                        selection_grid(method), X, y, sd, validators=asked, features=features, mix=_Mix,
                        random_state=random_state, **oracle)
    except Exception as exc:  # noqa: BLE001 - one failing selection must not lose the others
        logger.warning("selection for %s failed: %s: %s", method, type(exc).__name__, exc)
        return [{"error": type(exc).__name__, "message": str(exc)}]
    records = selection_records(result, asked, time.perf_counter() - start)
    return records[:-1] + skipped + records[-1:]  # the oracle last, as for feature methods


class FineTuneSelection(SelectionOutcomes):
    """Each validator's pick of a fine-tuning strategy's learning rate for a comparison's
    fine-tuning tasks (:func:`finetune_selection_task`), run in this process; draw ``r``
    fine-tunes with ``random_state + r``.

    Parameters
    ----------
    images, target_images : ImageSource
        The training images (rows aligned with the pool) and the unlabelled target images.
    test_images : ImageSource or None
        Labelled test images for the oracle; ``None``: the target's own labels.
    split : featx.evaluate._roles.Split
    validators : list of str
    extraction : featx.evaluate._roles.Extraction
    epochs, random_state : int
    """

    #: Modules whose code decides these picks, besides the models' own (the task log's key).
    CODE = (__name__, "featx.evaluate._fit_images", "featx.select")

    def __init__(self, images, target_images, test_images, split, validators, extraction, epochs, random_state):
        self.images, self.target_images, self.test_images = images, target_images, test_images
        self.split, self.validators, self.extraction = split, validators, extraction
        self.epochs, self.random_state = epochs, random_state

    def __call__(self, task) -> list[dict]:
        rows = self.split.pool[task.rows]
        make = _MakeFineTune(task.method, self.extraction, self.epochs, self.random_state + task.draw)
        features = np.vstack([self.split.train.X[rows], self.split.X_unlabelled])
        return finetune_selection_task(task.method, self.validators, make, self.images, rows, self.target_images,
                                       features, test=self.test_images, random_state=self.random_state)


class _MakeFineTune:
    """``(params, labels) -> FineTuneClassifier``: one point of a strategy's selection grid."""

    def __init__(self, method, extraction, epochs, random_state):
        self.method, self.extraction, self.epochs, self.random_state = method, extraction, epochs, random_state

    def __call__(self, params, labels):
        from featx.evaluate._fit_images import finetune_classifier

        ex = self.extraction
        return finetune_classifier(self.method, ex.backbone, labels, params=params, epochs=self.epochs,
                                   random_state=self.random_state, cache_dir=ex.cache_dir, device=ex.device,
                                   progress=False)
