"""TensorFlow "SAME" convolutions without the padded copy of their input.

TensorFlow-ported networks (timm's ``tf_*`` models, among them the default
EfficientNet-Lite0) pad strided convolutions asymmetrically: one more zero row and column
at the bottom and right than at the top and left. PyTorch's ``conv2d`` only pads
symmetrically, so timm's ``Conv2dSame`` copies every input into a padded tensor first;
for EfficientNet-Lite0 at batch 32 that is 5 copies and about 270 MB per batch, 10% of the
forward pass on a 2-core CPU.

A convolution with a kernel one tap larger, whose first row and column are zero, padded
symmetrically by the larger side, computes the same sums: with stride ``s``, left pad
``l`` and right pad ``l + 1``,

.. math::

    y_i = \\sum_{j=0}^{k-1} w_j\\, x_{s i + j - l}
        = \\sum_{j'=0}^{k} w'_{j'}\\, x_{s i + j' - (l + 1)}, \\qquad
    w'_0 = 0,\\; w'_{j+1} = w_j,

the extra products being exact zeros. ``SamePadConv2d`` does this per input size, and falls
back to the padded copy where the rewrite does not apply (dilation > 1).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def tf_same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TF "SAME" padding ``(before, after)`` along one axis: ``total = max((ceil(size / stride) - 1)
    * stride + (kernel - 1) * dilation + 1 - size, 0)``, ``total // 2`` before, the rest after."""
    total = max((math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def same_padding_plan(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int] | None:
    """``(extra_taps, symmetric_padding)`` that reproduce TF "SAME" padding along one axis.

    Equal sides (:func:`tf_same_padding`) need no extra tap. One more after is matched by
    one zero tap in front and symmetric padding of the larger side ``a = b + 1`` (see the
    module docstring); the output size is TF's, since ``size + 2a - (kernel + 1) = size +
    total - kernel``. ``None`` for dilation > 1 (a zero tap in front would shift by the
    dilation, not by one).
    """
    before, after = tf_same_padding(size, kernel, stride, dilation)
    if before == after:
        return 0, before
    return None if dilation != 1 else (1, after)


class SamePadConv2d(nn.Conv2d):
    """A TF "SAME" convolution that pads inside ``conv2d`` instead of copying its input.

    Built from a timm ``Conv2dSame`` (sharing its parameters); equal to it for every input
    size, bit for bit where the backend sums the extra zero products in place (the case on
    the CPUs measured).
    """

    def __init__(self, conv: nn.Conv2d):
        super().__init__(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, 0, conv.dilation,
                         conv.groups, conv.bias is not None, device=conv.weight.device, dtype=conv.weight.dtype)
        self.weight, self.bias = conv.weight, conv.bias
        self._plans: dict[tuple[int, int], tuple | None] = {}

    def _plan(self, hw: tuple[int, int]):
        if hw not in self._plans:
            plans = [same_padding_plan(n, k, s, d) for n, k, s, d in zip(hw, self.kernel_size, self.stride,
                                                                           self.dilation)]
            self._plans[hw] = None if None in plans else tuple(zip(*plans))
        return self._plans[hw]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        plan = self._plan(tuple(x.shape[-2:]))
        if plan is None:  # TF's padded copy, as timm does it
            (top, bottom), (left, right) = (tf_same_padding(*a) for a in zip(x.shape[-2:], self.kernel_size,
                                                                               self.stride, self.dilation))
            pads = [left, right, top, bottom]
            return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        (extra_h, extra_w), padding = plan
        weight = F.pad(self.weight, (extra_w, 0, extra_h, 0)) if extra_h or extra_w else self.weight
        return F.conv2d(x, weight, self.bias, self.stride, padding, self.dilation, self.groups)


def replace_same_padding(model: nn.Module) -> int:
    """Swap every timm ``Conv2dSame`` in ``model`` for a :class:`SamePadConv2d`, in place;
    return how many were swapped."""
    try:
        from timm.layers import Conv2dSame
    except ImportError:  # pragma: no cover - timm is a dependency
        return 0
    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is Conv2dSame:
                setattr(parent, name, SamePadConv2d(child))
                count += 1
    return count
