"""The transfer objectives as modules: one implementation of DANN's, CDAN(+E)'s and MCC's loss,
used by the heads on cached embeddings (:mod:`featx.deepda`) and by fine-tuning the backbone
(:class:`featx.finetune.FineTuneClassifier` with ``da_loss``).

Each objective is called as ``objective(f_s, f_t, logits_s, logits_t, progress)`` on the source
and target rows of one batch (their features and class logits; ``progress`` the fraction of
training done) and returns the scalar transfer loss; its parameters (a domain classifier) train
with the network's.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from featx.deepda._losses import (
    certainty_weights,
    domain_adversarial_loss,
    grl_coefficient,
    minimum_class_confusion,
    multilinear_map,
)

#: Objective names: DANN, CDAN+E (CDAN with entropy conditioning), CDAN, MCC.
OBJECTIVES = ("dann", "cdan-e", "cdan", "mcc")


def domain_classifier(n_in: int, hidden: int) -> nn.Sequential:
    """The papers' domain classifier: two hidden layers of ``hidden`` units (linear, batch
    norm, ReLU), then one logit (source vs target)."""
    return nn.Sequential(nn.Linear(n_in, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                         nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, 1))


class Adversarial(nn.Module):
    """DANN's objective (Ganin et al. 2016): :func:`featx.deepda.domain_adversarial_loss` of a
    :func:`domain_classifier` on the features, through gradient reversal weighted by
    :func:`featx.deepda.grl_coefficient`."""

    def __init__(self, n_features: int, hidden: int = 1024):
        super().__init__()
        self.discriminator = domain_classifier(n_features, hidden)

    def forward(self, f_s, f_t, logits_s, logits_t, progress: float) -> torch.Tensor:
        return domain_adversarial_loss(self.discriminator, f_s, f_t, grl_coefficient(progress))


class ConditionalAdversarial(nn.Module):
    """CDAN's objective (Long et al. 2018): the domain classifier sees
    :func:`featx.deepda.multilinear_map` of the features and the detached class probabilities
    (past ``randomized_dim`` columns, fixed Gaussian maps of ``min(randomized_dim, 1024)``
    outputs, as in the paper); with ``entropy_conditioning`` (CDAN+E) each row's loss is
    weighted by :func:`featx.deepda.certainty_weights`."""

    def __init__(self, n_features: int, n_classes: int, hidden: int = 1024, randomized_dim: int = 4096,
                 entropy_conditioning: bool = True):
        super().__init__()
        n_in = n_features * n_classes
        self.randomized = n_in > randomized_dim
        self.entropy_conditioning = entropy_conditioning
        if self.randomized:
            n_in = min(randomized_dim, 1024)
            self.register_buffer("Rf", torch.randn(n_features, n_in))
            self.register_buffer("Rg", torch.randn(n_classes, n_in))
        self.net = domain_classifier(n_in, hidden)

    def forward(self, f_s, f_t, logits_s, logits_t, progress: float) -> torch.Tensor:
        probs = F.softmax(torch.cat([logits_s, logits_t]).float(), dim=1).detach()
        h = multilinear_map(torch.cat([f_s, f_t]).float(), probs, (self.Rf, self.Rg) if self.randomized else None)
        weights = certainty_weights(probs) if self.entropy_conditioning else None
        return domain_adversarial_loss(self.net, h[: len(f_s)], h[len(f_s):], grl_coefficient(progress), weights)


class ClassConfusion(nn.Module):
    """MCC's objective (Jin et al. 2020): :func:`featx.deepda.minimum_class_confusion` of the
    target logits at ``temperature``; no parameters of its own."""

    def __init__(self, temperature: float = 2.5):
        super().__init__()
        self.temperature = float(temperature)

    def forward(self, f_s, f_t, logits_s, logits_t, progress: float) -> torch.Tensor:
        return minimum_class_confusion(logits_t.float(), self.temperature)


def transfer_objective(name: str, n_features: int, n_classes: int, *, hidden_size: int = 1024,
                       randomized_dim: int = 4096, temperature: float = 2.5) -> nn.Module:
    """The transfer objective ``name`` (one of :data:`OBJECTIVES`) for features of width
    ``n_features`` and ``n_classes`` classes, its parameters drawn from torch's generator.

    Examples
    --------
    >>> type(transfer_objective("cdan-e", 256, 10)).__name__
    'ConditionalAdversarial'
    """
    if name == "dann":
        return Adversarial(n_features, hidden_size)
    if name in ("cdan", "cdan-e"):
        return ConditionalAdversarial(n_features, n_classes, hidden_size, randomized_dim, name == "cdan-e")
    if name == "mcc":
        return ClassConfusion(temperature)
    raise ValueError(f"Unknown transfer objective {name!r}; expected one of {list(OBJECTIVES)}.")
