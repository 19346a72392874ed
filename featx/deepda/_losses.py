"""The deep domain-adaptation objectives and schedules, as small torch functions."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def annealed_lr(progress: float, lr: float, alpha: float = 10.0, beta: float = 0.75) -> float:
    """DANN's learning-rate schedule :math:`\\eta_p = \\eta_0 / (1 + \\alpha p)^\\beta`, ``progress``
    :math:`p \\in [0, 1]` the fraction of training done (Ganin et al. 2016, section 5.2.2)."""
    return lr / (1.0 + alpha * progress) ** beta


def grl_coefficient(progress: float, gamma: float = 10.0) -> float:
    """The gradient-reversal weight :math:`\\lambda_p = 2 / (1 + e^{-\\gamma p}) - 1`: 0 at the
    start, so the domain classifier's noisy early signal does not reach the features, rising
    to 1 (Ganin et al. 2016)."""
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


class _ReverseGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coefficient):
        ctx.coefficient = coefficient
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.coefficient * grad, None


def reverse_gradient(x: torch.Tensor, coefficient: float) -> torch.Tensor:
    """Identity forward; the gradient multiplied by ``-coefficient`` backward (the gradient
    reversal layer of Ganin et al. 2016)."""
    return _ReverseGrad.apply(x, coefficient)


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Per-row Shannon entropy :math:`H(p) = -\\sum_c p_c \\log p_c` (natural log)."""
    return -(probs * torch.log(probs.clamp_min(1e-12))).sum(dim=1)


def certainty_weights(probs: torch.Tensor) -> torch.Tensor:
    """CDAN+E's and MCC's row weights :math:`w_i = 1 + e^{-H(p_i)}`, rescaled to mean 1."""
    w = 1.0 + torch.exp(-entropy(probs))
    return w * (len(w) / w.sum())


def multilinear_map(features: torch.Tensor, probs: torch.Tensor, random_maps=None) -> torch.Tensor:
    """CDAN's conditioning :math:`f \\otimes g` (the flattened outer product of the features and
    the class probabilities, ``d * C`` columns), or its randomised form
    :math:`(R_f f) \\odot (R_g g) / \\sqrt{m}` with fixed Gaussian maps ``random_maps = (R_f, R_g)``
    of ``m`` outputs when ``d * C`` is large (Long et al. 2018, section 3.2)."""
    if random_maps is None:
        return torch.bmm(probs.unsqueeze(2), features.unsqueeze(1)).flatten(1)
    Rf, Rg = random_maps
    return (features @ Rf) * (probs @ Rg) / math.sqrt(Rf.shape[1])


def domain_adversarial_loss(discriminator: nn.Module, source: torch.Tensor, target: torch.Tensor,
                            coefficient: float, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy of ``discriminator`` telling source (1) from target (0) rows that
    went through :func:`reverse_gradient`: minimising it trains the discriminator and, reversed,
    pushes the features towards domain confusion (DANN; CDAN on the multilinear map)."""
    inputs = reverse_gradient(torch.cat([source, target]), coefficient)
    logits = discriminator(inputs).squeeze(1)
    labels = torch.cat([torch.ones(len(source)), torch.zeros(len(target))]).to(logits.device)
    return F.binary_cross_entropy_with_logits(logits, labels, weight=weights)


def minimum_class_confusion(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """MCC's loss (Jin et al. 2020) on a batch of target logits.

    .. math::

        \\hat{Y} = \\mathrm{softmax}(Z / T), \\quad C = \\hat{Y}^\\top W \\hat{Y}, \\quad
        \\tilde{C}_{jj'} = C_{jj'} / \\textstyle\\sum_{j''} C_{j''j'}, \\quad
        L = \\frac{1}{|\\mathcal{C}|} \\sum_j \\sum_{j' \\ne j} |\\tilde{C}_{jj'}|

    with :math:`W` the diagonal of :func:`certainty_weights`: the share of each class's
    probability mass that the batch also gives to other classes.
    """
    probs = F.softmax(logits / temperature, dim=1)
    confusion = (probs * certainty_weights(probs).unsqueeze(1)).T @ probs
    confusion = confusion / confusion.sum(dim=0, keepdim=True)
    return (confusion.sum() - confusion.trace()) / probs.shape[1]
