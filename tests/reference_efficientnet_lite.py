"""An independent, functional EfficientNet-Lite forward pass over the *original* checkpoint.

It reads the weights by their original names (``_conv_stem``, ``_blocks.N._depthwise_conv``,
``_fc``, ...) and follows the original PyTorch EfficientNet code the checkpoint was made
with: TensorFlow "same" padding computed statically, BatchNorm eps 1e-3, ReLU6, no
squeeze-excite, identity skip when stride is 1 and widths match. Used only to check that
featx's position-mapped timm model computes the same logits.
"""

import math

import torch.nn.functional as F

# The seven stages of every EfficientNet-Lite stride 1, 2, 2, 2, 1, 2, 1 in their first block; a
# stage starts where the block's output width changes (Lite0: blocks 1, 3, 5 and 11 have stride 2).
_STRIDE2_STAGES = {1, 2, 3, 5}


def _stride2_blocks(sd, n_blocks):
    widths = [sd[f"_blocks.{i}._project_conv.weight"].shape[0] for i in range(n_blocks)]
    starts = [i for i in range(n_blocks) if i == 0 or widths[i] != widths[i - 1]]
    assert len(starts) == 7, f"expected the 7 stages of an EfficientNet-Lite, found {len(starts)}"
    return {starts[s] for s in _STRIDE2_STAGES}


def _same_pad(x, k, s):
    ih, iw = x.shape[-2:]
    ph = max((math.ceil(ih / s) - 1) * s + k - ih, 0)
    pw = max((math.ceil(iw / s) - 1) * s + k - iw, 0)
    return F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])


def _bn(x, sd, p):
    return F.batch_norm(
        x, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"], sd[p + ".bias"], False, 0.0, 1e-3
    )


def efficientnet_lite_logits(sd, x):
    """Logits (N, 1000) of normalised images ``x`` (N, 3, H, W) with the original state dict ``sd``."""
    x = F.relu6(_bn(F.conv2d(_same_pad(x, 3, 2), sd["_conv_stem.weight"], stride=2), sd, "_bn0"))
    n_blocks = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("_blocks."))
    stride2 = _stride2_blocks(sd, n_blocks)
    for i in range(n_blocks):
        p = f"_blocks.{i}."
        inp = x
        if p + "_expand_conv.weight" in sd:
            x = F.relu6(_bn(F.conv2d(x, sd[p + "_expand_conv.weight"]), sd, p + "_bn0"))
        w = sd[p + "_depthwise_conv.weight"]
        k, s = w.shape[-1], 2 if i in stride2 else 1
        x = F.relu6(_bn(F.conv2d(_same_pad(x, k, s), w, stride=s, groups=w.shape[0]), sd, p + "_bn1"))
        x = _bn(F.conv2d(x, sd[p + "_project_conv.weight"]), sd, p + "_bn2")
        if s == 1 and x.shape == inp.shape:
            x = x + inp
    x = F.relu6(_bn(F.conv2d(x, sd["_conv_head.weight"]), sd, "_bn1"))
    return F.linear(x.mean((2, 3)), sd["_fc.weight"], sd["_fc.bias"])
