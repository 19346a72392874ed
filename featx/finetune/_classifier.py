"""FineTuneClassifier: end-to-end fine-tuning of a featx backbone, scikit-learn style."""

from __future__ import annotations

import hashlib
import json
import logging
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from featx.utils.deprecation import DEPRECATED, renamed
from featx.finetune._checkpoint import load_checkpoint, save_checkpoint
from featx.protocol import stratified_split
from featx.data import SourceSubset, open_source
from featx.finetune._data import AugmentedImages, epoch_batches
from featx.finetune._epoch import Transfer, train_epoch
from featx.finetune._freeze import apply_freeze, parse_freeze
from featx.finetune._groups import stage_groups
from featx.finetune._net import FineTuneNet
from featx.finetune._optim import TrainableOptimizer
from featx.finetune._predicting import PredictingMixin
from featx.finetune._warm_start import warm_start_head

logger = logging.getLogger(__name__)

#: Parameters that do not change what a run computes (a checkpoint may be resumed across them).
_RUNTIME_PARAMS = ("checkpoint_dir", "device", "num_workers", "progress", "cache_dir")


class FineTuneClassifier(PredictingMixin, ClassifierMixin, BaseEstimator):
    """Fine-tune a featx backbone end to end with a new linear head.

    The network is the same registry entry, weights and preprocessing as the frozen
    extractor (:func:`featx.backbones.create_backbone`), plus a linear head sized to the
    classes. ``fit`` takes what extraction takes: an image folder, a CSV manifest, an
    :class:`~featx.data.ImageSource`, or an array / list of images with ``y``.

    Parameters
    ----------
    backbone : str or Backbone, default="efficientnet_lite0"
    freeze : str or list of str, default="none"
        ``"all"`` (linear probe), ``"none"`` (full fine-tune), ``"first:K"`` (the first K
        stage groups frozen), ``"last:K"`` (only the last K stage groups train),
        ``"gradual"`` (top-down unfreezing, one stage group every ``unfreeze_every``
        epochs), ``"lp-ft"`` (head only for ``lp_epochs``, then everything, the backbone
        at ``lr * backbone_lr_factor``), or a list of parameter-name patterns (substrings
        or globs) to freeze. Stage groups: :func:`featx.finetune.stage_groups`.
    epochs : int, default=10
    batch_size : int, default=32
    optimizer : {"adamw", "sgd"}, default="adamw"
        SGD uses Nesterov momentum ``momentum``.
    lr : float, default=1e-3
        Learning rate of the head.
    backbone_lr_factor : float, default=0.1
        Pretrained stages learn at ``lr * backbone_lr_factor``.
    layer_decay : float, optional
        Layer-wise decay: stage ``i`` of ``n`` learns at ``lr * factor * layer_decay ** (n - 1 - i)``.
    weight_decay : float, default=0.01
        Not applied to biases and normalisation parameters.
    momentum : float, default=0.9
    warmup_epochs : float, default=1
        Linear warm-up, then a cosine decay to 0 over the remaining steps.
    unfreeze_every : int, default=1
    lp_epochs : int, default=2
    train_frozen_batchnorm : bool, default=False
        By default BatchNorm layers whose parameters are frozen stay in eval mode, keeping
        their running statistics.
    batchnorm : {"train", "frozen"}, default="train"
        ``"frozen"``: every BatchNorm keeps the pretrained running statistics (eval mode; its
        scale and shift still train), as the frozen extractor does. On images far from the
        pretraining data (digits), statistics re-estimated from the training batches made the
        features unlike the ones a warm-started head was fitted on and unlike the target's
        (measured in the fine-tuning guide); the registry's strategies use ``"frozen"``.
    augment : bool, default=True
        Random resized crop (area ``crop_scale``) + horizontal flip at the backbone's input size.
    crop_scale : tuple of float, default=(0.25, 1.0)
    label_smoothing : float, default=0.0
    validation_fraction : float, default=0.1
        Stratified share of the training images held out (ignored with ``validation_data``).
    early_stopping : int, optional
        Stop after this many epochs without a better validation top-1 accuracy. With a
        validation set, the weights of the best epoch are kept (of equally good epochs, the
        last).
    head_init : {"random", "logreg"}, default="random"
        ``"logreg"``: start the head from a logistic regression on the frozen features of the
        training images, read from (or written to) featx's cache.
    da_loss : {"dann", "cdan-e", "cdan", "mcc"}, optional
        Train with a domain-adaptation objective on unlabelled target images as well
        (``fit(..., target_data=...)``): each step adds ``trade_off`` times the objective
        :func:`featx.deepda.transfer_objective` computes on the pooled embeddings and logits of
        the source batch and of as many target images, the same implementation as the deep
        heads on cached embeddings (:class:`featx.deepda.DANN`, :class:`~featx.deepda.CDAN`,
        :class:`~featx.deepda.MCC`). A domain classifier trains at the head's learning rate.
        Default: source only.
    trade_off : float, default=1.0
        Weight of ``da_loss`` against the source cross-entropy.
    input_size : int, optional
        Train and predict on ``input_size`` x ``input_size`` images instead of the size the
        weights were trained at (:meth:`featx.backbones.Backbone.at_input_size`): the cheaper
        path for small images (digits, icons).
    device : str, default="auto"
    precision : {"float32", "bfloat16", "float16"}, default="float32"
        Autocast precision (float16 with gradient scaling).
    num_workers : int or "auto", default="auto"
    random_state : int, default=0
        Seeds the validation split, augmentation, batch order and torch's randomness (an
        int: torch takes no RandomState).
    checkpoint_dir : str or Path, optional
        Write a checkpoint after every epoch; a later ``fit`` with the same settings resumes
        from it.
    cache_dir : str or Path, optional
        Feature cache for ``head_init="logreg"``.
    progress : bool, default=True
    seed : int
        Deprecated name of ``random_state`` (a ``FutureWarning``); removed in the next release.

    Attributes
    ----------
    classes_ : ndarray of str
    net_ : FineTuneNet
        The trained network (on the CPU).
    history_ : list of dict
        Per epoch: loss, train accuracy, validation top-1 / top-5, images/s, the share of the
        epoch spent waiting for decoded images (``data_wait_fraction``), the CPU time this
        process used per second of the epoch and per usable core (``cpu_utilisation``; its
        threads counted, decode worker processes not), trainable tensors, and with ``da_loss``
        the mean transfer loss (``transfer_loss``; images/s counts source images).
    stage_groups_ : list of str
    best_epoch_ : int or None
    n_target_images_ : int
        Unlabelled target images trained on (0 without ``da_loss``).
    warm_start_computed_ : int
        With ``head_init="logreg"``: images embedded for the warm start (0 when the cache had them).
    preprocessing_ : Preprocessing
        The backbone's evaluation preprocessing, used by ``predict``.
    """

    def __init__(self, backbone="efficientnet_lite0", freeze="none", *, epochs=10, batch_size=32,
                 optimizer="adamw", lr=1e-3, backbone_lr_factor=0.1, layer_decay=None, weight_decay=0.01,
                 momentum=0.9, warmup_epochs=1, unfreeze_every=1, lp_epochs=2, train_frozen_batchnorm=False,
                 batchnorm="train", augment=True, crop_scale=(0.25, 1.0), label_smoothing=0.0, validation_fraction=0.1,
                 early_stopping=None, head_init="random", da_loss=None, trade_off=1.0, input_size=None,
                 device="auto", precision="float32", num_workers="auto", random_state=0, checkpoint_dir=None,
                 cache_dir=None, progress=True, seed=DEPRECATED):
        self.backbone = backbone
        self.freeze = freeze
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.backbone_lr_factor = backbone_lr_factor
        self.layer_decay = layer_decay
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.warmup_epochs = warmup_epochs
        self.unfreeze_every = unfreeze_every
        self.lp_epochs = lp_epochs
        self.train_frozen_batchnorm = train_frozen_batchnorm
        self.batchnorm = batchnorm
        self.augment = augment
        self.crop_scale = crop_scale
        self.label_smoothing = label_smoothing
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.head_init = head_init
        self.da_loss = da_loss
        self.trade_off = trade_off
        self.input_size = input_size
        self.device = device
        self.precision = precision
        self.num_workers = num_workers
        self.random_state = random_state
        self.checkpoint_dir = checkpoint_dir
        self.cache_dir = cache_dir
        self.progress = progress
        self.seed = seed

    # ------------------------------------------------------------------ set-up
    def _check_params(self):
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"epochs must be a positive int; got {self.epochs!r}.")
        if not isinstance(self.batch_size, int) or self.batch_size < 2:
            raise ValueError(f"batch_size must be an int >= 2 (BatchNorm needs 2 images); got {self.batch_size!r}.")
        if self.head_init not in ("random", "logreg"):
            raise ValueError(f"head_init must be 'random' or 'logreg'; got {self.head_init!r}.")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in [0, 1); got {self.validation_fraction!r}.")
        if self.early_stopping is not None and (not isinstance(self.early_stopping, int) or self.early_stopping < 1):
            raise ValueError(f"early_stopping must be a positive int or None; got {self.early_stopping!r}.")
        from featx.deepda import OBJECTIVES

        if self.batchnorm not in ("train", "frozen"):
            raise ValueError(f"batchnorm must be 'train' or 'frozen'; got {self.batchnorm!r}.")
        if self.da_loss is not None and self.da_loss not in OBJECTIVES:
            raise ValueError(f"da_loss must be one of {list(OBJECTIVES)} or None; got {self.da_loss!r}.")
        if not isinstance(self.trade_off, numbers.Real) or isinstance(self.trade_off, bool) or self.trade_off < 0:
            raise ValueError(f"trade_off must be a number >= 0; got {self.trade_off!r}.")

    def _backbone_name(self) -> str:
        return getattr(self.backbone, "name", str(self.backbone))

    def _make_backbone(self):
        from featx.backbones import Backbone, create_backbone

        backbone = self.backbone if isinstance(self.backbone, Backbone) else create_backbone(self.backbone)
        return backbone.at_input_size(self.input_size)

    def _runtime(self):
        from featx.runtime import check_precision, resolve_device
        from featx.runtime import default_num_workers

        device = resolve_device(self.device)
        precision = check_precision(self.precision, device)
        workers = default_num_workers(device) if self.num_workers == "auto" else int(self.num_workers)
        return device, precision, workers

    def _fingerprint(self, backbone, classes, n_train, n_target=0) -> str:
        params = {k: v for k, v in self.get_params(deep=False).items() if k not in _RUNTIME_PARAMS}
        params.pop("seed")
        for name, default in (("da_loss", None), ("trade_off", 1.0), ("input_size", None), ("batchnorm", "train")):
            if params[name] == default:  # the defaults leave the fingerprints of earlier runs as they were
                params.pop(name)
        params["random_state"] = self._seed  # whichever name gave it
        params["backbone"] = [backbone.name, backbone.weights_fingerprint]
        run = {"params": params, "classes": list(classes), "n_train": n_train}
        if n_target:
            run["n_target"] = n_target
        text = json.dumps(run, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    # ------------------------------------------------------------------ fit
    def fit(self, data, y=None, *, target_data=None, validation_data=None):
        """Fine-tune on labelled images (and, with ``da_loss``, unlabelled target images).

        Parameters
        ----------
        data : str, Path, ImageSource, ndarray or list of images
        y : array-like, optional
            Labels, only with arrays or lists of images.
        target_data : same kinds as ``data``, optional
            Unlabelled images of the target domain (their labels, if any, are never read),
            needed by ``da_loss`` and refused without it.
        validation_data : same kinds as ``data``, optional
            Held-out images (with labels) for early stopping; default a stratified
            ``validation_fraction`` of ``data``.

        Returns
        -------
        self
        """
        self._check_params()
        self._seed = renamed("seed", self.seed, "random_state", self.random_state, 0, "FineTuneClassifier")
        if not isinstance(self._seed, numbers.Integral) or isinstance(self._seed, bool):
            raise ValueError(f"The 'random_state' parameter of FineTuneClassifier must be an int (torch needs an "
                             f"integer seed). Got {self._seed!r} instead.")
        if (self.da_loss is None) != (target_data is None):
            raise ValueError(
                f"da_loss={self.da_loss!r} with target_data {'missing' if target_data is None else 'given'}: a "
                "domain-adaptation objective trains on unlabelled target images and only it reads them; pass "
                "both (da_loss='mcc', 'dann' or 'cdan-e' and target_data=...) or neither.")
        source = open_source(data, y)
        target = None if target_data is None else open_source(target_data)
        if target is not None and len(target) < 2:
            raise ValueError(f"target_data needs at least 2 images (the domain classifier's batch norm); "
                             f"got {len(target)}.")
        labels = np.asarray(source.labels)
        if (labels < 0).any():
            raise ValueError(f"FineTuneClassifier needs a label for every training image; "
                             f"{int((labels < 0).sum())} of {len(labels)} have none.")
        if len(source.classes) < 2:
            raise ValueError(f"FineTuneClassifier needs at least 2 classes; got {list(source.classes)}.")
        self.classes_ = np.asarray(source.classes)
        if validation_data is not None:
            train, val = source, open_source(validation_data)
            if tuple(val.classes) != tuple(source.classes):
                raise ValueError(f"validation_data must have the training classes {list(source.classes)}; "
                                 f"got {list(val.classes)}.")
        elif self.validation_fraction > 0:
            tr, va = stratified_split(labels, self.validation_fraction, self._seed)
            train, val = SourceSubset(source, tr), (SourceSubset(source, va) if len(va) else None)
            if val is None:
                logger.warning("validation_fraction=%g of %d images leaves no validation image: training for %d "
                               "epochs without validation or early stopping", self.validation_fraction,
                               len(labels), self.epochs)
        else:
            train, val = source, None

        backbone = self._make_backbone()
        policy = parse_freeze(self.freeze, self.lp_epochs if self.freeze == "lp-ft" else self.unfreeze_every,
                              "lp_epochs" if self.freeze == "lp-ft" else "unfreeze_every")
        device, precision, workers = self._runtime()
        self.preprocessing_ = backbone.preprocessing
        rng_devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=rng_devices):  # seeded here, the caller's RNG state untouched
            torch.manual_seed(self._seed)
            return self._fit(train, val, target, backbone, policy, device, precision, workers)

    def _fit(self, train, val, target, backbone, policy, device, precision, workers):
        net = FineTuneNet(backbone, len(self.classes_))
        groups = stage_groups(net.body)
        self.stage_groups_ = [g.name for g in groups]
        if self.head_init == "logreg":
            self.warm_start_computed_ = warm_start_head(net, backbone, train, len(self.classes_), device=device,
                                                        precision=precision, cache_dir=self.cache_dir,
                                                        progress=self.progress)
        transfer = self._transfer(target, backbone, device)
        net.to(device)
        if device.type != "mps":
            net.to(memory_format=torch.channels_last)
        opt = TrainableOptimizer(net, groups, kind=self.optimizer, lr=self.lr,
                                 backbone_lr_factor=self.backbone_lr_factor,
                                 layer_decay=self.layer_decay, weight_decay=self.weight_decay, momentum=self.momentum)
        if transfer is not None:
            opt.add_module(transfer.objective, "transfer")
        steps = len(epoch_batches(len(train), self.batch_size, self._seed, 0))
        total, warmup = self.epochs * steps, int(round(self.warmup_epochs * steps))
        run = {"epoch": -1, "step": 0, "history": [], "best_state": None, "best_score": -1.0, "best_epoch": None,
               "bad_epochs": 0}
        fingerprint = self._fingerprint(backbone, self.classes_, len(train), 0 if target is None else len(target))
        saved = load_checkpoint(self.checkpoint_dir) if self.checkpoint_dir is not None else None
        if saved is not None:
            if saved["fingerprint"] != fingerprint:
                raise ValueError(f"The checkpoint in {str(self.checkpoint_dir)!r} was written by a run with other "
                                 "settings or data; delete it or pass another checkpoint_dir.")
            for e in range(saved["epoch"] + 1):  # rebuild the optimizer's groups in the order they were made
                apply_freeze(net.body, policy.frozen(e, groups))
                opt.sync()
            net.load_state_dict(saved["model"])
            if transfer is not None:
                transfer.objective.load_state_dict(saved["transfer"])
            opt.optimizer.load_state_dict(saved["optimizer"])
            run = {k: saved[k] for k in run}
            logger.info("resuming after epoch %d of %d", run["epoch"] + 1, self.epochs)
        scaler = torch.amp.GradScaler(device.type) if precision == "float16" else None
        train_data = self._train_dataset(train, backbone)
        y_train = torch.as_tensor(np.asarray(train.labels), dtype=torch.int64)

        for epoch in range(run["epoch"] + 1, self.epochs):
            if self.early_stopping is not None and run["bad_epochs"] >= self.early_stopping:
                logger.info("early stopping: no better validation accuracy for %d epochs", run["bad_epochs"])
                break
            apply_freeze(net.body, policy.frozen(epoch, groups), log_each=policy.kind == "patterns")
            opt.sync()
            stats = train_epoch(self, net, opt, scaler, train_data, y_train, epoch, run, total, warmup, device,
                                precision, workers, transfer)
            if val is not None:
                stats.update(self._validate(net, val, backbone, device, precision, workers))
                # ties keep the later, longer-trained epoch; only a better score resets the patience
                if stats["val_top1"] >= run["best_score"]:
                    run["bad_epochs"] = 0 if stats["val_top1"] > run["best_score"] else run["bad_epochs"] + 1
                    run.update(best_score=stats["val_top1"], best_epoch=epoch,
                               best_state={k: v.detach().cpu().clone() for k, v in net.state_dict().items()})
                else:
                    run["bad_epochs"] += 1
            run["history"].append(stats)
            run["epoch"] = epoch
            if self.checkpoint_dir is not None:
                extra = {} if transfer is None else {"transfer": transfer.objective.state_dict()}
                save_checkpoint(self.checkpoint_dir, {**run, **extra, "model": net.state_dict(),
                                                      "optimizer": opt.optimizer.state_dict(),
                                                      "frozen": sorted(policy.frozen(epoch, groups)),
                                                      "fingerprint": fingerprint})
        if run["best_state"] is not None:
            net.load_state_dict(run["best_state"])
        self.net_ = net.to("cpu").eval()
        self.history_ = run["history"]
        self.best_epoch_ = run["best_epoch"]
        self.n_target_images_ = 0 if target is None else len(target)
        return self

    def _transfer(self, target, backbone, device):
        """The target images (augmented as the source, their own random stream) and the
        objective of ``da_loss``, its parameters drawn from the seeded torch generator; ``None``
        without ``da_loss``."""
        if target is None:
            return None
        from featx.deepda import transfer_objective
        from featx.runtime import PreprocessedImages

        images = AugmentedImages(target, backbone.preprocessing, seed=self._seed, scale=tuple(self.crop_scale),
                                 stream=1) if self.augment else PreprocessedImages(target, backbone.preprocessing)
        objective = transfer_objective(self.da_loss, backbone.pooled_dim, len(self.classes_)).to(device)
        return Transfer(images, objective, float(self.trade_off))

    def _train_dataset(self, train, backbone):
        from featx.runtime import PreprocessedImages

        if self.augment:
            return AugmentedImages(train, backbone.preprocessing, seed=self._seed, scale=tuple(self.crop_scale))
        return PreprocessedImages(train, backbone.preprocessing)
