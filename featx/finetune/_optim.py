"""Optimizer over trainable parameters only: discriminative learning rates, layer-wise decay,
no weight decay on norms and biases, and a warm-up + cosine schedule."""

from __future__ import annotations

import math

import torch
from torch import nn

from featx.finetune._groups import StageGroup

OPTIMIZERS = ("adamw", "sgd")


def stage_learning_rates(lr: float, n_stages: int, factor: float, layer_decay: float | None) -> list[float]:
    """Learning rate of each backbone stage, from the input to the output.

    .. math::

        \\eta_i = \\eta \\cdot f \\cdot \\delta^{\\,n - 1 - i}

    with the head's rate :math:`\\eta`, the pretrained-part factor :math:`f` and the layer-wise
    decay :math:`\\delta` (1 when ``None``). The exponent counts stages of the whole network,
    not the trainable ones, so freezing a prefix leaves every other stage's rate unchanged.
    """
    decay = 1.0 if layer_decay is None else float(layer_decay)
    return [lr * factor * decay ** (n_stages - 1 - i) for i in range(n_stages)]


def _split_decay(named) -> tuple[list, list]:
    """Weight-decayed parameters (matrices, kernels) and the rest (biases, norm scales)."""
    decay, no_decay = [], []
    for name, p in named:
        (decay if p.ndim > 1 else no_decay).append((name, p))
    return decay, no_decay


def param_groups(named: list[tuple[str, nn.Parameter]], lr: float, weight_decay: float, label: str) -> list[dict]:
    """Up to two optimizer groups for ``named`` parameters: with and without weight decay."""
    decay, no_decay = _split_decay(named)
    out = []
    for members, wd, suffix in ((decay, weight_decay, "decay"), (no_decay, 0.0, "no_decay")):
        if members:
            out.append({"params": [p for _, p in members], "names": [n for n, _ in members], "lr": lr,
                        "base_lr": lr, "weight_decay": wd, "group": f"{label}:{suffix}"})
    return out


class TrainableOptimizer:
    """Builds and grows an optimizer that only ever holds trainable parameters.

    The head's groups exist from the start; a backbone stage's trainable parameters join
    (as new parameter groups, with the stage's learning rate) when they first become
    trainable, so gradual unfreezing keeps the momentum of what already trained.
    """

    def __init__(self, net, groups: list[StageGroup], *, kind, lr, backbone_lr_factor, layer_decay,
                 weight_decay, momentum):
        if kind not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}; got {kind!r}.")
        self.net, self.groups, self.weight_decay = net, groups, weight_decay
        self.stage_lrs = stage_learning_rates(lr, len(groups), backbone_lr_factor, layer_decay)
        head = param_groups(list(net.head.named_parameters(prefix="head")), lr, weight_decay, "head")
        if kind == "adamw":
            self.optimizer = torch.optim.AdamW(head, lr=lr)
        else:
            self.optimizer = torch.optim.SGD(head, lr=lr, momentum=momentum, nesterov=momentum > 0)
        self.members: set[str] = {n for g in head for n in g["names"]}

    def add_module(self, module: nn.Module, label: str) -> None:
        """Train ``module``'s parameters (a transfer objective's domain classifier) at the
        head's learning rate, in groups of their own after the head's."""
        lr = self.optimizer.param_groups[0]["base_lr"]
        for group in param_groups(list(module.named_parameters(prefix=label)), lr, self.weight_decay, label):
            self.optimizer.add_param_group(group)
            self.members.update(group["names"])

    def sync(self) -> int:
        """Add every trainable backbone parameter not yet in the optimizer; return how many."""
        params = dict(self.net.body.named_parameters())
        added = 0
        for stage, lr in zip(self.groups, self.stage_lrs):
            new = [(n, params[n]) for n in stage.params if params[n].requires_grad and f"body.{n}" not in self.members]
            for group in param_groups(new, lr, self.weight_decay, stage.name):
                group["names"] = [f"body.{n}" for n in group["names"]]
                self.optimizer.add_param_group(group)
                self.members.update(group["names"])
                added += len(group["params"])
        return added


def warmup_cosine(step: int, total: int, warmup: int) -> float:
    """Learning-rate multiplier: linear warm-up over ``warmup`` steps, then cosine to 0 at ``total``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    span = max(total - warmup, 1)
    return 0.5 * (1.0 + math.cos(math.pi * min(step - warmup, span) / span))


def set_learning_rates(optimizer: torch.optim.Optimizer, multiplier: float) -> None:
    """Every group's ``lr`` = its ``base_lr`` x ``multiplier``."""
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * multiplier
