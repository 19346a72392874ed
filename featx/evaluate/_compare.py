"""`compare`: frozen features, domain alignment and fine-tuning under one protocol."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from featx.evaluate._comparison import Comparison, assemble
from featx.evaluate._fit_features import FeatureFit
from featx.evaluate._plan import Plan
from featx.evaluate._roles import Extraction, check_layers, domain_name, label, make_tasks, split_rows
from featx.evaluate._runner import Fits, TaskKeys, run_tasks
from featx.evaluate._selection import FeatureSelection
from featx.evaluate._tasklog import TaskLog, digest
from featx.protocol import ALL
from featx.utils.deprecation import DEPRECATED, renamed
from featx.utils.machine import code_paths

logger = logging.getLogger(__name__)


def compare(data, *, test=None, target=None, backbone="efficientnet_lite0", backbones=None, budgets=(1, 5, 10, ALL),
            repeats=5,
            methods=None, scale="zscore", test_fraction=0.3, random_state=0, ft_epochs=5, ft_budgets=None,
            ft_repeats=None, select=None, select_finetune=False, layers=None, layer_sweep=False, cache_dir=None,
            device="auto", batch_size="auto", num_workers="auto", precision="float32", input_size=None, n_jobs=None,
            reuse=True, progress=True, seed=DEPRECATED) -> Comparison:
    """Measure frozen features (+ alignment) against fine-tuning on the same draws.

    Every method sees the same backbone, preprocessing, labelled draws and seeds. For each
    budget (labelled images per class) ``repeats`` stratified draws of the training data are
    taken (``"all"`` is one draw); each method is fitted on the draw (alignment methods also
    see the unlabelled target rows) and scored on the test rows: ``test``, else the
    ``target`` domain, else a stratified ``test_fraction`` of ``data`` held out before any
    draw. Hyper-parameters are chosen by inner cross-validation on the drawn rows only;
    test and target labels are read to score and for nothing else. A method that raises
    on a draw is recorded in :attr:`Comparison.failures` and the others go on.

    Parameters
    ----------
    data : str, Path, ImageSource, or a list of them
        Labelled training (source) images. A list gives several source domains: each is
        extracted and cached on its own and its rows keep it as their domain
        (``sample_domain`` 1..k), so a method that treats sources one by one (CORAL, OT) does,
        and the others pool them; fine-tuning trains on all of them.
    test, target : same kinds, optional
        Held-out test images; a target domain (its labels only score).
    backbone : str or Backbone, default="efficientnet_lite0"
    backbones : sequence of (str or Backbone), or a comma-separated str, optional
        Several backbones instead of ``backbone``: every source is embedded (and cached) by
        each, and every frozen and aligned method runs once per backbone (``MODEL@NAME``, on
        that backbone's columns) and once as their ensemble (``MODEL@ensemble``: one model per
        backbone, and per layer with several ``layers``, the class probabilities averaged), all
        under the same draws; fine-tuning runs on the first. The extraction section of the
        report gives each backbone's embedding seconds, the cost table each row's.
    budgets : sequence or str, default=(1, 5, 10, "all")
    repeats : int, default=5
    methods : list of str, optional
        Model names of the registry (:mod:`featx.methods`: a head, an alignment, or
        ``ALIGNMENT+HEAD``; alignments need ``target``) and fine-tuning names; default
        :func:`featx.methods.default_methods`.
    scale : {"zscore", "unit", "none"}, default="zscore"
        Per-domain scaling every feature model starts with (see :func:`featx.make_method`).
    test_fraction : float, default=0.3
    random_state : int, default=0
        Seeds the test split, the budget draws, the heads' inner cross-validation and
        fine-tuning (draw ``r`` fine-tunes with ``random_state + r``).
    ft_epochs : int, default=5
    ft_budgets : sequence or str, optional
        The budgets fine-tuning runs at (a subset of ``budgets``; default all of them). A
        fine-tuning run costs minutes on a CPU where a frozen head costs seconds: this keeps it
        to the budgets where it fits; its other cells read ``-``.
    ft_repeats : int, optional
        Draws fine-tuned per budget (the first ``ft_repeats`` of the ``repeats`` every method
        sees; default all).
    select : "all", str or list of str, optional
        Validators (:data:`featx.select.VALIDATORS`) that also choose each feature method's
        configuration from its selection grid (:func:`featx.methods.selection_grid`) on every
        draw, without target labels; the oracle (test labels) is reported beside them, with the
        gaps (:attr:`Comparison.selection`). Needs ``target``. Costs one fit per configuration
        and fold and more: see :func:`featx.select.select`.
    select_finetune : bool, default=False
        With ``select``, also choose each fine-tuning strategy's learning rate from its
        selection grid (at ``ft_budgets`` and ``ft_repeats``): per draw, 4 fine-tuning runs per
        learning rate (3 source folds and one on every drawn image), about 12 times the cost
        of fine-tuning alone; reverse validation is not run for fine-tuning (it would
        fine-tune on every target image per fold).
    layers : sequence of str, optional
        Backbone layers to extract in one pass (``"pooled"`` and module names, as for
        :func:`featx.create_backbone`), side by side in the features. A method name sees every
        column, ``MODEL@LAYER`` one layer's, and ``MODEL@ensemble`` fits one model per layer and
        averages their probabilities (:class:`featx.adapt.BlockEnsemble`). Default the
        backbone's own (the pooled embedding).
    layer_sweep : bool, default=False
        Fit every frozen and aligned method on each of ``layers`` on its own
        (``MODEL@LAYER`` for each, :func:`featx.methods.sweep_layers`): the report then
        plots accuracy against the layer, per budget (``layers.png``).
    cache_dir, device, batch_size, num_workers, precision, progress
        As for :func:`featx.extract_features`, for every role's extraction (``batch_size``,
        ``num_workers`` and ``precision`` are the extraction's; fine-tuning keeps its own).
    input_size : int, optional
        Feed the backbone ``input_size`` x ``input_size`` images, for the extraction and for
        fine-tuning alike (:meth:`featx.backbones.Backbone.at_input_size`): the lower-cost path
        for small images. Default the size the weights were trained at.
    n_jobs : int, optional
        Feature-method fits run at once (joblib processes, one BLAS thread each; ``-1``: one
        per core; default 1). Fine-tuning runs after them, in this process.
    reuse : bool, default=True
        Keep every finished fit in ``<cache_dir>/compare/<run>.jsonl`` (keyed by the
        features' cache keys, the split, the budget, the drawn rows, and the model's
        specification and code fingerprint: :func:`featx.methods.model_spec`,
        :func:`featx.methods.code_fingerprint`) and
        read back the ones already there: a re-run takes seconds and a killed run resumes.
        Reused records keep the costs measured when they were computed (``reused`` is set).
        ``False`` recomputes everything and writes nothing.
    seed : int
        Deprecated name of ``random_state`` (a ``FutureWarning``); removed in the next release.

    Returns
    -------
    Comparison
    """
    from featx.backbones import backbone_with
    from featx.extract import default_cache_dir

    random_state = renamed("seed", seed, "random_state", random_state, 0, "compare")
    plan = Plan.check(methods, budgets, repeats, scale, random_state, with_target=target is not None, images=True,
                      ft_epochs=ft_epochs, ft_budgets=ft_budgets, ft_repeats=ft_repeats, select=select,
                      select_finetune=select_finetune)
    bbs = [backbone_with(b, layers).at_input_size(input_size) for b in _backbone_list(backbone, backbones)]
    bb = bbs[0]
    if backbones is not None:
        if layer_sweep:
            raise ValueError("backbones and layer_sweep each fit every method per block of columns; pass one of them "
                             "(with backbones, layers=[...] makes each backbone's layers blocks of their own).")
        from featx.evaluate._backbones import block_names

        plan = plan.swept(block_names(bbs), ensemble=True)
    if layer_sweep:
        plan = plan.swept(bb.layers)
    announce(plan, progress)
    # unreadable images are skipped for feature methods; fine-tuning needs every image, and
    # its rows must stay aligned with the images, so then an unreadable image is an error
    ex = Extraction(bb, cache_dir, device, progress, on_error="fail" if plan.finetunes else "skip",
                    batch_size=batch_size, num_workers=num_workers, precision=precision, others=tuple(bbs[1:]))
    extraction, test_images, target_images = {}, None, None
    images, train_fs, extraction["train"] = ex.train(data)
    test_fs = target_fs = None
    if test is not None:
        test_images, test_fs, extraction["test"] = ex.role(test, "test")
    if target is not None:
        target_images, target_fs, extraction["target"] = ex.role(target, "target")
    split = split_rows(train_fs, test_fs if test is not None else target_fs, target_fs, test_fraction, random_state)
    scored_images = _scored_images(images, split, test_images if test is not None else target_images)
    info = {"backbone": ", ".join(b.name for b in bbs), "layers": list(bb.layers),
            "input_size": list(bb.preprocessing.input_size),
            **({"backbones": [b.name for b in bbs], "finetune_backbone": bb.name} if backbones is not None else {}),
            **plan.info(), "layer_sweep": bool(layer_sweep),
            "roles": {"train": label(data), "test": label(test), "target": label(target)}}
    layer_record = check_layers(plan.methods, split.train.layers)
    finetune = select_finetune = None
    if plan.finetunes:
        from featx.evaluate._fit_images import FineTuneFit

        finetune = FineTuneFit(images, scored_images, split.y_test, ex, split.pool, ft_epochs, random_state,
                               target_images)
    if plan.select_finetune:
        from featx.evaluate._finetune_selection import FineTuneSelection

        select_finetune = FineTuneSelection(images, target_images, test_images, split, plan.select, ex, ft_epochs,
                                            random_state)
    fits = Fits(FeatureFit(split, plan.scale, random_state, layer_record), finetune)
    selecting = Fits(FeatureSelection(split, plan.select, plan.scale, random_state, layer_record),
                     select_finetune) if plan.select else None
    log_dir = Path(cache_dir or default_cache_dir()) / "compare" if reuse else None
    return _run(plan, info, extraction, split, fits, selecting, log_dir, n_jobs, progress)


def _backbone_list(backbone, backbones) -> list:
    """``[backbone]``, or the backbones named (a list, or one comma-separated string), checked."""
    if backbones is None:
        return [backbone]
    names = [b.strip() for b in backbones.split(",") if b.strip()] if isinstance(backbones, str) else list(backbones)
    if len(names) < 2:
        raise ValueError(f"backbones needs at least 2 backbones to compare and combine; got {names}. Pass one as "
                         "backbone=... instead.")
    return names


def announce(plan, progress: bool) -> None:
    """Say what will run before it starts (on stderr, with the progress; logged otherwise)."""
    if progress:
        print(f"featx compare will run {plan.describe()}", file=sys.stderr, flush=True)
    else:
        logger.info("will run %s", plan.describe())


def _scored_images(images, split, given):
    """The images every method is scored on: those given, else the training images held out."""
    if given is not None:
        return given
    from featx.data import SourceSubset

    return SourceSubset(images, split.test_rows)


def compare_features(train, *, test=None, target=None, budgets=(1, 5, 10, ALL), repeats=5, methods=None,
                     scale="zscore", test_fraction=0.3, random_state=0, select=None, n_jobs=None, log_dir=None,
                     progress=True, seed=DEPRECATED) -> Comparison:
    """:func:`compare` on features already computed (frozen heads and alignment methods only).

    For features that did not come from featx's extractor (e.g. the Office-Caltech SURF
    histograms), under the same protocol: budget draws, the registry's models (per-domain
    scaling, alignment, inner-CV heads), CIs, failures recorded.

    Parameters
    ----------
    train, test, target : FeatureSet
        Labelled training rows; optional test rows and target domain (labels only score).
    budgets, repeats, methods, scale, test_fraction, random_state, select, n_jobs, progress
        As for :func:`compare` (no fine-tuning names in ``methods``).
    log_dir : path, optional
        Folder of the task log that lets a re-run reuse finished fits (none by default).
    seed : int
        Deprecated name of ``random_state``.

    Returns
    -------
    Comparison
    """
    random_state = renamed("seed", seed, "random_state", random_state, 0, "compare_features")
    plan = Plan.check(methods, budgets, repeats, scale, random_state, with_target=target is not None, images=False,
                      select=select)
    announce(plan, progress)
    split = split_rows(train, test if test is not None else target, target, test_fraction, random_state)
    info = {"backbone": train.metadata.get("backbone", "given features"), **plan.info(),
            "roles": {"train": domain_name(train), "test": None if test is None else domain_name(test),
                      "target": None if target is None else domain_name(target)}}
    layer_record = check_layers(plan.methods, split.train.layers)
    fits = Fits(FeatureFit(split, plan.scale, random_state, layer_record))
    selecting = Fits(FeatureSelection(split, plan.select, plan.scale, random_state, layer_record)) \
        if plan.select else None
    return _run(plan, info, {}, split, fits, selecting, None if log_dir is None else Path(log_dir), n_jobs, progress)


def _run(plan, info, extraction, split, fits, selecting, log_dir, n_jobs, progress) -> Comparison:
    """Every task of the plan (and its selection, with ``selecting``) through the task runner,
    read back from the task log in ``log_dir`` where there; the :class:`Comparison`."""
    plan.check_budgets(split.y_train, split.pool, split.classes, held_out=split.test_rows is not None)
    tasks = make_tasks(split, plan)
    run = digest({**split.identity, "pool": split.pool, "random_state": plan.random_state,
                  "test_rows": split.test_rows})
    log = TaskLog(log_dir / f"{run}.jsonl") if log_dir is not None else None
    done = log.load() if log is not None else {}
    outcomes = run_tasks(tasks, fits, TaskKeys(fits, plan.scale, plan.ft_epochs), log=log, done=done,
                         n_jobs=n_jobs, progress=progress, desc="methods x draws")
    selections = None
    if selecting is not None:
        selections = run_tasks(tasks, selecting, TaskKeys(selecting, plan.scale, plan.ft_epochs, plan.select),
                               log=log, done=done, n_jobs=n_jobs, progress=progress, desc="selection")
    return assemble({**info, "code_paths": code_paths()}, extraction, split, tasks, outcomes, selections)
