"""DANN, CDAN(+E) and MCC trained as a bottleneck + classifier on cached embeddings.

The backbone is never touched: these heads see feature rows (the cache's embeddings), so a
fit is a few thousand small matrix products, seconds on a CPU, and the objectives of the
deep domain-adaptation papers can be compared with the shallow methods on the same rows.
"""

from __future__ import annotations

import logging
import numbers

import numpy as np
import torch
from sklearn.utils._param_validation import Interval
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn
from torch.nn import functional as F

from featx.deepda._losses import annealed_lr
from featx.deepda._objectives import transfer_objective
from featx.domains import check_labelled_source
from featx.runtime import resolve_device

logger = logging.getLogger(__name__)


class _HeadNet(nn.Module):
    """Bottleneck (linear, batch norm, ReLU, dropout) then a linear classifier."""

    def __init__(self, n_features, n_classes, bottleneck_dim, dropout):
        super().__init__()
        self.bottleneck = nn.Sequential(nn.Linear(n_features, bottleneck_dim), nn.BatchNorm1d(bottleneck_dim),
                                        nn.ReLU(), nn.Dropout(dropout))
        self.classifier = nn.Linear(bottleneck_dim, n_classes)

    def forward(self, x):
        f = self.bottleneck(x)
        return f, self.classifier(f)


class _DeepDAHead(ClassifierMixin, BaseEstimator):
    """Shared shell: validation, seeding, the training loop and prediction. Subclasses give
    ``_objective(n_bottleneck, n_classes)``: their transfer objective
    (:func:`featx.deepda.transfer_objective`, the one fine-tuning uses too)."""

    __metadata_request__fit = {"sample_domain": True}

    _parameter_constraints: dict = {
        "bottleneck_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 2, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "trade_off": [Interval(numbers.Real, 0, None, closed="left")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        # torch takes an integer seed: no None or RandomState here
        "random_state": [Interval(numbers.Integral, None, None, closed="neither")],
    }

    def fit(self, X, y, *, sample_domain=None):
        """Train the bottleneck, the classifier and the transfer objective.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings (per-domain standardised by :func:`featx.make_method`).
        y : array-like of shape (n_samples,)
            Labels; ``-1`` for unlabelled target rows.
        sample_domain : array-like of shape (n_samples,), optional
            Source ``>= 0`` (several sources are pooled), target ``< 0``; inferred from
            ``y == -1`` when absent. Without target rows, only the source loss trains.

        Returns
        -------
        self
        """
        self._validate_params()
        X, y, sd, keep = check_labelled_source(self, X, y, sample_domain)
        self.classes_, codes = np.unique(y[keep], return_inverse=True)
        device = resolve_device(self.device)
        Xs = torch.as_tensor(np.asarray(X[keep], dtype=np.float32), device=device)
        ys = torch.as_tensor(codes, dtype=torch.int64, device=device)
        Xt = torch.as_tensor(np.asarray(X[sd < 0], dtype=np.float32), device=device)
        rng_devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=rng_devices):  # seeded here, the caller's RNG state untouched
            torch.manual_seed(int(self.random_state))
            self._train(Xs, ys, Xt, device)
        return self

    def _train(self, Xs, ys, Xt, device):
        n_classes = len(self.classes_)
        net = _HeadNet(Xs.shape[1], n_classes, int(self.bottleneck_dim), 0.5).to(device)
        transfer = self._objective(int(self.bottleneck_dim), n_classes).to(device) if len(Xt) >= 2 else None
        params = list(net.parameters()) + (list(transfer.parameters()) if transfer is not None else [])
        opt = torch.optim.SGD(params, lr=self.lr, momentum=0.9, weight_decay=self.weight_decay, nesterov=True)
        gen = torch.Generator(device="cpu").manual_seed(int(self.random_state))
        bs = int(self.batch_size)
        history = []
        net.train()
        for step in range(int(self.max_iter)):
            progress = step / int(self.max_iter)
            for group in opt.param_groups:
                group["lr"] = annealed_lr(progress, self.lr)
            i = torch.randint(len(Xs), (min(bs, len(Xs)),), generator=gen).to(device)
            if transfer is None:
                _, logits = net(Xs[i])
                loss = F.cross_entropy(logits, ys[i])
                extra = torch.zeros(())
            else:
                j = torch.randint(len(Xt), (min(bs, len(Xt)),), generator=gen).to(device)
                f, logits = net(torch.cat([Xs[i], Xt[j]]))
                loss = F.cross_entropy(logits[: len(i)], ys[i])
                extra = transfer(f[: len(i)], f[len(i):], logits[: len(i)], logits[len(i):], progress)
                loss = loss + self.trade_off * extra
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step % 100 == 0 or step == int(self.max_iter) - 1:
                history.append({"step": step, "loss": float(loss.detach()), "transfer": float(extra.detach())})
                if self.verbose:
                    logger.info("%s step %d/%d: loss %.4f (transfer %.4f)", type(self).__name__, step + 1,
                                self.max_iter, history[-1]["loss"], history[-1]["transfer"])
        net.eval()
        self.net_ = net.cpu()
        self.history_ = history
        self.n_target_rows_ = len(Xt)
        self.n_iter_ = int(self.max_iter)

    def __getstate__(self):
        """The fitted network as numpy arrays (its state dict) and its shape, so skops can save
        the model without pickle (:func:`featx.persist.save_model`)."""
        state = dict(super().__getstate__())  # a copy: Python's default state is the instance's own dict
        net = state.pop("net_", None)
        if net is not None:
            state["net_arrays_"] = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
            state["net_shape_"] = [net.bottleneck[0].in_features, net.classifier.out_features,
                                   net.classifier.in_features]
        return state

    def __setstate__(self, state):
        state = dict(state)
        arrays, shape = state.pop("net_arrays_", None), state.pop("net_shape_", None)
        super().__setstate__(state)
        if arrays is not None:
            net = _HeadNet(*[int(v) for v in shape], 0.5)
            net.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in arrays.items()})
            self.net_ = net.eval()

    def _logits(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        with torch.no_grad():
            return self.net_(torch.as_tensor(np.asarray(X, dtype=np.float32)))[1]

    def predict_proba(self, X):
        """Class probabilities (softmax of the classifier), one column per ``classes_``."""
        return F.softmax(self._logits(X), dim=1).numpy().astype(np.float64)

    def predict(self, X):
        """The most probable class."""
        logits = self._logits(X)
        return self.classes_[logits.argmax(dim=1).numpy()]

    def embed(self, X):
        """The bottleneck features of rows ``X`` (what the transfer objective aligned)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        with torch.no_grad():
            return self.net_.bottleneck(torch.as_tensor(np.asarray(X, dtype=np.float32))).numpy()


_COMMON_PARAMS = """    bottleneck_dim : int, default=256
        Width of the bottleneck (linear, batch norm, ReLU, dropout 0.5) before the classifier.
    max_iter : int, default=1000
        Training steps, each on ``batch_size`` source and ``batch_size`` target rows drawn at
        random.
    batch_size : int, default=32
    lr : float, default=0.01
        SGD (Nesterov momentum 0.9) rate, annealed as :func:`featx.deepda.annealed_lr`.
    weight_decay : float, default=1e-3
    trade_off : float, default=1.0
        Weight of the transfer loss against the source cross-entropy."""
_COMMON_TAIL = """    device : str, default="auto"
        Where to train (``featx.runtime.resolve_device``); the fitted network is kept on the CPU.
    random_state : int, default=0
        Seed of the initialisation, the batches and dropout (the caller's torch RNG untouched).
    verbose : int, default=0
        Log the loss every 100 steps."""
_ATTRIBUTES = """    Attributes
    ----------
    classes_ : ndarray
    net_ : torch.nn.Module
        The bottleneck and classifier (CPU, eval mode).
    history_ : list of dict
        ``step``, ``loss`` and ``transfer`` every 100 steps.
    n_target_rows_ : int
        Target rows seen (0: the transfer loss was not used).
    n_iter_ : int
        Training steps taken (``max_iter``: a fixed schedule, no early stop).
    n_features_in_ : int"""


class DANN(_DeepDAHead):
    __doc__ = f"""Domain-adversarial training (DANN, Ganin et al. 2016) of a head on embeddings.

    A domain classifier (two hidden layers of ``hidden_size``) learns to tell source from
    target bottleneck features; through a gradient reversal layer whose weight rises from 0
    to 1 (:func:`featx.deepda.grl_coefficient`) the bottleneck learns to make them
    indistinguishable while the classifier fits the labelled source rows. Several source
    domains are pooled into one source.

    Parameters
    ----------
{_COMMON_PARAMS}
    hidden_size : int, default=1024
        Width of the domain classifier's hidden layers.
{_COMMON_TAIL}

{_ATTRIBUTES}

    References
    ----------
    .. [1] Y. Ganin, E. Ustinova, H. Ajakan, P. Germain, H. Larochelle, F. Laviolette,
       M. Marchand, V. Lempitsky. "Domain-Adversarial Training of Neural Networks." JMLR 17, 2016.
    """

    _parameter_constraints: dict = {**_DeepDAHead._parameter_constraints,
                                    "hidden_size": [Interval(numbers.Integral, 1, None, closed="left")]}

    def __init__(self, bottleneck_dim=256, *, max_iter=1000, batch_size=32, lr=0.01, weight_decay=1e-3,
                 trade_off=1.0, hidden_size=1024, device="auto", random_state=0, verbose=0):
        self.bottleneck_dim = bottleneck_dim
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.trade_off = trade_off
        self.hidden_size = hidden_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _objective(self, n_bottleneck, n_classes):
        return transfer_objective("dann", n_bottleneck, n_classes, hidden_size=int(self.hidden_size))


class CDAN(DANN):
    __doc__ = f"""Conditional domain-adversarial training (CDAN, Long et al. 2018), with entropy
    conditioning (CDAN+E) by default, of a head on embeddings.

    As :class:`DANN`, but the domain classifier sees the multilinear map of the bottleneck
    features and the (detached) class probabilities
    (:func:`featx.deepda.multilinear_map`), so it aligns the joint distribution of features
    and predictions; with ``entropy_conditioning`` each row's loss is weighted by
    :math:`1 + e^{{-H(p)}}` (:func:`featx.deepda.certainty_weights`), so confident rows count
    more. Past ``randomized_dim`` columns the map is the paper's randomised one.

    Parameters
    ----------
{_COMMON_PARAMS}
    hidden_size : int, default=1024
    entropy_conditioning : bool, default=True
        CDAN+E (True) or CDAN.
    randomized_dim : int, default=4096
        The exact map has ``bottleneck_dim * n_classes`` columns; past this many, a fixed
        random map of ``min(randomized_dim, 1024)`` columns, as in the paper.
{_COMMON_TAIL}

{_ATTRIBUTES}

    References
    ----------
    .. [1] M. Long, Z. Cao, J. Wang, M. I. Jordan. "Conditional Adversarial Domain
       Adaptation." NeurIPS 2018.
    """

    _parameter_constraints: dict = {**DANN._parameter_constraints,
                                    "randomized_dim": [Interval(numbers.Integral, 1, None, closed="left")],
                                    "entropy_conditioning": ["boolean"]}

    def __init__(self, bottleneck_dim=256, *, max_iter=1000, batch_size=32, lr=0.01, weight_decay=1e-3,
                 trade_off=1.0, hidden_size=1024, entropy_conditioning=True, randomized_dim=4096, device="auto",
                 random_state=0, verbose=0):
        super().__init__(bottleneck_dim, max_iter=max_iter, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                         trade_off=trade_off, hidden_size=hidden_size, device=device, random_state=random_state,
                         verbose=verbose)
        self.entropy_conditioning = entropy_conditioning
        self.randomized_dim = randomized_dim

    def _objective(self, n_bottleneck, n_classes):
        return transfer_objective("cdan-e" if self.entropy_conditioning else "cdan", n_bottleneck, n_classes,
                                  hidden_size=int(self.hidden_size), randomized_dim=int(self.randomized_dim))


class MCC(_DeepDAHead):
    __doc__ = f"""Minimum class confusion (MCC, Jin et al. 2020) of a head on embeddings.

    No domain classifier: the target batch's class-confusion matrix, built from
    temperature-scaled, certainty-weighted probabilities, is pushed towards the diagonal
    (:func:`featx.deepda.minimum_class_confusion`), so target rows are predicted confidently
    and the classes kept apart.

    Parameters
    ----------
{_COMMON_PARAMS}
    temperature : float, default=2.5
        Softmax temperature :math:`T` of the confusion matrix.
{_COMMON_TAIL}

{_ATTRIBUTES}

    References
    ----------
    .. [1] Y. Jin, X. Wang, M. Long, J. Wang. "Minimum Class Confusion for Versatile Domain
       Adaptation." ECCV 2020.
    """

    _parameter_constraints: dict = {**_DeepDAHead._parameter_constraints,
                                    "temperature": [Interval(numbers.Real, 0, None, closed="neither")]}

    def __init__(self, bottleneck_dim=256, *, max_iter=1000, batch_size=32, lr=0.01, weight_decay=1e-3,
                 trade_off=1.0, temperature=2.5, device="auto", random_state=0, verbose=0):
        self.bottleneck_dim = bottleneck_dim
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.trade_off = trade_off
        self.temperature = temperature
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _objective(self, n_bottleneck, n_classes):
        return transfer_objective("mcc", n_bottleneck, n_classes, temperature=float(self.temperature))
