"""Folding BatchNorm into the preceding convolution for inference."""

from __future__ import annotations

import copy

import torch
from torch import nn


def fold_conv_bn(conv: nn.Conv2d, bn: nn.modules.batchnorm._BatchNorm) -> None:
    """Fold an eval-mode BatchNorm into ``conv``'s weight and bias, in place.

    .. math::

        W' = W \\cdot \\frac{\\gamma}{\\sqrt{\\sigma^2 + \\epsilon}}, \\qquad
        b' = (b - \\mu) \\frac{\\gamma}{\\sqrt{\\sigma^2 + \\epsilon}} + \\beta

    so that ``conv'(x) == bn(conv(x))`` up to float rounding (Ioffe & Szegedy, 2015, sec. 3.2:
    at inference the normalisation is a fixed affine map).
    """
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps) if bn.affine else 1.0 / torch.sqrt(
        bn.running_var + bn.eps
    )
    shift = bn.bias.detach() if bn.affine else torch.zeros_like(bn.running_mean)
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    conv.weight = nn.Parameter(conv.weight.detach() * scale.reshape(-1, 1, 1, 1), requires_grad=False)
    conv.bias = nn.Parameter((bias - bn.running_mean) * scale + shift, requires_grad=False)


def _without_norm(bn: nn.Module) -> nn.Module:
    """What remains of a BN module once its affine map lives in the convolution."""
    act, drop = getattr(bn, "act", None), getattr(bn, "drop", None)  # timm's BatchNormAct2d
    rest = [m for m in (drop, act) if isinstance(m, nn.Module) and not isinstance(m, nn.Identity)]
    return nn.Sequential(*rest) if rest else nn.Identity()


def fold_batchnorm(model: nn.Module, example: torch.Tensor, *, run=None, atol: float = 1e-3) -> tuple[nn.Module, int]:
    """A copy of ``model`` with each BatchNorm that directly follows a convolution folded into it.

    Pairs are found by running ``example`` once and matching each BN's input tensor to the
    output tensor of a ``Conv2d`` (so only BNs applied to an unmodified convolution output,
    consumed by nothing else that hooks can see, are folded). The folded copy is checked
    against the original on ``example``; if the outputs differ by more than ``atol``
    (relative to their scale), the original model is returned unchanged with a count of 0.

    Parameters
    ----------
    model : nn.Module
        An eval-mode network.
    example : Tensor
        A normalised input batch.
    run : callable, optional
        ``run(model, x)`` producing the output to compare; default ``model(x)``.

    Returns
    -------
    (nn.Module, int)
        The folded copy and the number of BatchNorm layers folded.
    """
    run = run or (lambda m, x: m(x))
    folded = copy.deepcopy(model).eval()
    outputs, uses, pairs, handles = {}, {}, [], []
    parents = {id(child): (parent, name) for parent in folded.modules() for name, child in parent.named_children()}

    def on_conv(conv, args, out):
        outputs[id(out)] = (conv, out)

    def on_module_input(mod, args):
        for a in args:
            if isinstance(a, torch.Tensor) and id(a) in outputs and outputs[id(a)][1] is a:
                uses[id(a)] = uses.get(id(a), 0) + 1
                if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                    pairs.append((outputs[id(a)][0], mod, id(a)))

    for mod in folded.modules():
        if isinstance(mod, nn.Conv2d):
            handles.append(mod.register_forward_hook(on_conv))
        if not list(mod.children()) or isinstance(mod, nn.modules.batchnorm._BatchNorm):
            handles.append(mod.register_forward_pre_hook(on_module_input))
    with torch.inference_mode():
        run(folded, example)
    for h in handles:
        h.remove()
    convs = [c for c, _, _ in pairs]
    bns = [b for _, b, _ in pairs]
    count = 0
    with torch.no_grad():
        for conv, bn, out_id in pairs:
            if uses[out_id] != 1 or convs.count(conv) != 1 or bns.count(bn) != 1 or id(bn) not in parents:
                continue
            fold_conv_bn(conv, bn)
            parent, name = parents[id(bn)]
            setattr(parent, name, _without_norm(bn))
            count += 1
    with torch.inference_mode():
        ref, got = run(model, example), run(folded, example)
    if not torch.allclose(ref, got, atol=atol * max(1.0, ref.abs().max().item()), rtol=0):
        return model, 0
    return folded, count
