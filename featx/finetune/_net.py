"""The trainable network: a copy of a featx backbone's model plus a new linear head."""

from __future__ import annotations

import copy

import torch
from torch import nn

from featx.backbones import Backbone


class FineTuneNet(nn.Module):
    """``head(pooled(body(normalise(x))))`` with the backbone's own normalisation and pooling.

    Parameters
    ----------
    backbone : Backbone
        Its model is deep-copied (the frozen extractor is left as it is).
    n_classes : int
        Outputs of the new linear head.
    """

    def __init__(self, backbone: Backbone, n_classes: int):
        super().__init__()
        self.body = copy.deepcopy(backbone.model)
        for m in self.body.modules():  # layer-capture hooks belong to the extractor
            m._forward_hooks.clear()
        if hasattr(self.body, "reset_classifier"):  # timm keeps its ImageNet classifier; pooling ignores it
            self.body.reset_classifier(0)
        self.body.requires_grad_(True)
        self.head = nn.Linear(backbone.pooled_dim, n_classes)
        self._pooled_fn = backbone.pooled_fn
        pre = backbone.preprocessing
        self.register_buffer("_mean", torch.tensor(pre.mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("_inv_std", 1.0 / torch.tensor(pre.std, dtype=torch.float32).view(1, 3, 1, 1),
                             persistent=False)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled embedding of uint8 [0, 255] or float [0, 1] images."""
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        return self._pooled_fn(self.body, (x - self._mean) * self._inv_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        return self.head(self.embed(x))
