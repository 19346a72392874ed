"""One measured fine-tuning run of a comparison (in this process, one at a time)."""

from __future__ import annotations

import resource
import time

import numpy as np

from featx.evaluate._fit_features import guarded
from featx.evaluate._tasklog import FitOutcomes
from featx.methods import finetune_params, needs_target
from featx.metrics import accuracy


def finetune_classifier(method, backbone, labels, *, params=None, epochs, random_state, cache_dir, device, progress):
    """The unfitted :class:`featx.finetune.FineTuneClassifier` of fine-tuning ``method`` for
    training images with ``labels``: early stopping on a 10% validation split once every class
    has 10 images; below that a split would take a large share of the few labels, so a fixed
    number of epochs."""
    from featx.finetune import FineTuneClassifier

    fewest = np.bincount(np.asarray(labels)).min()
    val = 0.1 if fewest >= 10 else 0.0
    return FineTuneClassifier(backbone, epochs=epochs, random_state=random_state, cache_dir=cache_dir, device=device,
                              progress=progress, validation_fraction=val, early_stopping=3 if val else None,
                              **finetune_params(method, params))


def fit_finetune(method, backbone, source, rows, test_source, *, epochs, random_state, cache_dir, device, progress,
                 target=None):
    """Fine-tune on images ``rows`` of ``source`` (and the unlabelled ``target`` images, for a
    strategy with a domain-adaptation objective), predict ``test_source``: ``(pred, cost)``
    with fit and predict seconds and the process's peak resident memory in MiB."""
    from featx.data import SourceSubset

    subset = SourceSubset(source, rows)
    clf = finetune_classifier(method, backbone, subset.labels, epochs=epochs, random_state=random_state,
                              cache_dir=cache_dir, device=device, progress=progress)
    start = time.perf_counter()
    clf.fit(subset, target_data=target if needs_target(method) else None)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    pred_names = clf.predict(test_source)
    predict_s = time.perf_counter() - start
    index = {c: i for i, c in enumerate(source.classes)}
    pred = np.array([index[c] for c in pred_names])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    return pred, {"fit_s": fit_s, "predict_s": predict_s, "peak_mib": peak, "peak_kind": "process max RSS"}


class FineTuneFit(FitOutcomes):
    """The fine-tuning runs of a comparison: ``fit(task) -> (pred, cost)`` (or an error record);
    draw ``r`` fine-tunes with ``random_state + r``.

    Parameters
    ----------
    images : ImageSource
        The training images (rows aligned with the features' pool).
    test_images : ImageSource
        The images every method is scored on.
    y_test : ndarray
        Their labels.
    extraction : featx.evaluate._roles.Extraction
        Backbone, cache folder and device.
    pool : ndarray of int
        The training pool (tasks' rows index it).
    epochs, random_state : int
    target_images : ImageSource, optional
        The unlabelled target images the strategies with a domain-adaptation objective train on.
    """

    #: Modules whose code decides these fits, besides the models' own (the task log's key).
    CODE = (__name__,)

    def __init__(self, images, test_images, y_test, extraction, pool, epochs, random_state, target_images=None):
        self.images, self.test_images, self.y_test = images, test_images, y_test
        self.extraction, self.pool, self.epochs, self.random_state = extraction, pool, epochs, random_state
        self.target_images = target_images

    def __call__(self, task):
        ex = self.extraction
        pred, cost = guarded(fit_finetune, task.method, ex.backbone, self.images, self.pool[task.rows],
                             self.test_images, epochs=self.epochs, random_state=self.random_state + task.draw,
                             cache_dir=ex.cache_dir, device=ex.device, progress=False, target=self.target_images)
        if pred is not None:
            cost["accuracy"] = accuracy(self.y_test, pred)
        return pred, cost
