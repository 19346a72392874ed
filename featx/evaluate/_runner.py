"""The task runner of a comparison: every task not already in the task log, fitted in joblib
workers (frozen and aligned models) or in this process (fine-tuning), with a progress bar,
each finished task appended to the log as it ends so that a killed run resumes."""

from __future__ import annotations

import itertools
import logging
from typing import NamedTuple

from featx.evaluate._tasklog import digest
from featx.methods import code_fingerprint, model_spec, selection_grid

logger = logging.getLogger(__name__)


class Fits(NamedTuple):
    """The fit objects of one run: ``workers`` (picklable; run in joblib processes) fits the
    frozen and aligned tasks, ``here`` (run in this process, one at a time) the fine-tuning
    ones. Each is called as ``fit(task) -> outcome``, stores its outcomes as its ``failed``,
    ``encode`` and ``decode`` say (:class:`featx.evaluate._tasklog.FitOutcomes`), and names the
    modules of its own code in ``CODE``."""

    workers: object
    here: object = None

    def of(self, task):
        return self.here if task.rung == "finetuned" else self.workers


class TaskKeys:
    """The task-log key of a task: the model's specification as data and the fingerprint of the
    code that fits it (:func:`featx.methods.model_spec`, :func:`featx.methods.code_fingerprint`,
    with the fit object's own modules), the budget, the draw and its rows, fine-tuning's epochs,
    and with ``select`` the validators and the selection grid. A reworded description keeps the
    key; a changed default or edited code changes it.

    Parameters
    ----------
    fits : Fits
    scale : str
    ft_epochs : int or None
    select : list of str, optional
    """

    def __init__(self, fits, scale, ft_epochs=None, select=None):
        self.fits, self.scale, self.ft_epochs, self.select = fits, scale, ft_epochs, select
        self._models = {}

    def model(self, task) -> dict:
        """The specification and code fingerprint of ``task``'s model (computed once per method)."""
        if task.method not in self._models:
            code = getattr(self.fits.of(task), "CODE", ())
            self._models[task.method] = {"spec": model_spec(task.method, self.scale),
                                         "code": code_fingerprint(task.method, also=code)}
        return self._models[task.method]

    def __call__(self, task) -> str:
        finetuned = task.rung == "finetuned"
        return digest({"model": self.model(task), "budget": task.budget, "draw": task.draw, "rows": task.rows,
                       "ft_epochs": self.ft_epochs if finetuned else None,
                       "select": None if self.select is None else {"validators": list(self.select),
                                                                    "grid": selection_grid(task.method)}})


def run_tasks(tasks, fits, keys, *, log=None, done=None, n_jobs=None, progress=True, desc="fits") -> list:
    """The outcome of every task, in order: read back from ``done`` (the task log ``log`` as
    loaded) under ``keys(task)``, else fitted and appended to ``log`` as soon as it ends
    (failed ones are not stored, so a re-run tries them again).

    Parameters
    ----------
    tasks : list of featx.evaluate._roles.Task
    fits : Fits
        Tasks whose fit object is ``None`` are not run; their outcome is ``None``.
    keys : TaskKeys
    log : featx.evaluate._tasklog.TaskLog, optional
    done : dict, optional
        ``key -> entry`` of ``log``, as :meth:`TaskLog.load` returns it.
    n_jobs : int, optional
        Worker fits at once (joblib processes); fine-tuning runs after them, in this process.
    progress : bool, default=True
    desc : str
        The progress bar's label.

    Returns
    -------
    list
        One outcome per task (``None`` for a task with no fit object).
    """
    from joblib import Parallel, delayed

    from featx.utils.progress import progress_bar

    if n_jobs == 0:
        raise ValueError("n_jobs=0 would run no fit; pass a number of processes, -1 for one per core, or None for "
                         "one (--jobs).")
    done = done or {}
    runnable = [i for i, t in enumerate(tasks) if fits.of(t) is not None]
    outcome = {i: fits.of(tasks[i]).decode(done[keys(tasks[i])]) for i in runnable if keys(tasks[i]) in done}
    todo = [i for i in runnable if i not in outcome]
    parallel = [i for i in todo if fits.of(tasks[i]) is fits.workers]
    here = [i for i in todo if i not in parallel]
    jobs = (delayed(fits.workers)(tasks[i]) for i in parallel)
    with progress_bar(total=len(runnable), initial=len(outcome), desc=desc, unit="fit", disable=not progress) as bar:
        ran = zip(parallel, Parallel(n_jobs=n_jobs, return_as="generator")(jobs) if parallel else ())
        for i, out in itertools.chain(ran, ((i, fits.here(tasks[i])) for i in here)):
            bar.update()
            outcome[i] = out
            fit = fits.of(tasks[i])
            if log is not None and not fit.failed(out):
                log.append(keys(tasks[i]), *fit.encode(tasks[i], out))
    if log is not None and len(todo) < len(runnable):
        logger.info("%s: %d of %d read from %s", desc, len(runnable) - len(todo), len(runnable), log.path)
    return [outcome.get(i) for i in range(len(tasks))]
