"""Keep a CNN's first stage in float32 when the rest of the forward pass runs in bfloat16/float16.

Autocast rounds every convolution's inputs and weights to 8 (bfloat16) or 11 (float16)
significant bits. In a CNN the layers at half the input resolution (the stem and the first
block: few channels, the largest maps, inputs with flat backgrounds) are where that rounding
costs most: with EfficientNet-Lite0, mean cosine similarity of bfloat16 to float32
embeddings over 64 images each (``benchmarks/precision_fidelity.py`` for the full run)

=================  ========  ===================  ===========================
images             all bf16  ``blocks.0`` in fp32  stem + ``blocks.0`` in fp32
=================  ========  ===================  ===========================
MNIST (28 px)      0.99881   0.99964              0.99970
USPS (16 px)       0.99745   0.99915              0.99935
hymenoptera        0.99927   0.99949              0.99958
=================  ========  ===================  ===========================

while keeping the stem, the head or the last stage in float32 instead changes nothing
(0.99888, 0.99882, 0.99889 on MNIST). Those layers are about 5% of the multiply-adds and
8.5% of the float32 forward time on a CPU. Keeping the first layers of a network in higher
precision is the usual rule in low-precision inference (e.g. Micikevicius et al., "Mixed
Precision Training", ICLR 2018; Jacob et al., "Quantization and Training of Neural Networks
for Efficient Integer-Arithmetic-Only Inference", CVPR 2018).

The first stage is read from timm's ``model.feature_info``: every module that runs up to and
including the last feature map at reduction 2. Models without that record (torchvision,
files) or without a reduction-2 map (ViTs, ConvNeXt) keep plain autocast.
"""

from __future__ import annotations

import torch
from torch import nn


def first_stage_modules(model: nn.Module) -> tuple[str, ...]:
    """Names of the modules that compute ``model``'s reduction-2 features, in execution order.

    ``model.feature_info`` (timm's list of ``{"module", "reduction", ...}``) names the last
    module of each stage. Every module registered before that one on the path from the root
    (children run in registration order in timm's CNNs) belongs to the stage too: for an
    EfficientNet ``blocks.0`` gives ``("conv_stem", "bn1", "blocks.0")``, for a ResNet
    ``act1`` gives ``("conv1", "bn1", "act1")``. Empty when there is no such record.
    """
    info = getattr(model, "feature_info", None)
    if not isinstance(info, (list, tuple)):
        return ()
    stage = [f["module"] for f in info if isinstance(f, dict) and f.get("reduction") == 2 and f.get("module")]
    if not stage:
        return ()
    names, parent, prefix = [], model, ""
    for part in stage[-1].split("."):
        children = dict(parent.named_children())
        if part not in children:
            return ()
        for child in children:
            if child == part:
                break
            names.append(prefix + child)
        prefix, parent = prefix + part + ".", children[part]
    return (*names, stage[-1])


class _Float32Forward:
    """A module's own ``forward`` run with autocast off and floating-point inputs as float32.

    Set as the instance's ``forward``: module names, parameters and hooks stay as they were,
    and the module pickles (to Ray workers) and deep-copies with it.
    """

    def __init__(self, module: nn.Module):
        self.module = module

    def __call__(self, *args, **kwargs):
        device = next((a.device.type for a in args if isinstance(a, torch.Tensor)), "cpu")
        args = [a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args]
        with torch.autocast(device_type=device, enabled=False):
            return type(self.module).forward(self.module, *args, **kwargs)


def keep_in_float32(model: nn.Module, names) -> int:
    """Make the named submodules of ``model`` run in float32 under autocast (in place).

    Returns how many modules were changed. Their outputs are float32, so the next layer
    starts from unrounded values whatever autocast does to it.
    """
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise ValueError(f"No module named {missing} in the model; expected names from named_modules().")
    for n in names:
        modules[n].forward = _Float32Forward(modules[n])
    return len(names)
