"""Frozen pretrained backbones: a registry of names, each with its own preprocessing.

The registry (names, descriptions, :func:`create_backbone`) imports no torch: listing names
(``featx backbones``) stays cheap. The torch classes and functions below are imported on
first use.
"""

from featx.backbones._embedded import weights_file
from featx.utils.lazy import lazy_getattr
from featx.backbones._registry import (
    FAMILIES,
    BackboneEntry,
    backbone_with,
    create_backbone,
    get_backbone,
    list_backbones,
    register_backbone,
    unregister_backbone,
)

#: The backbone used when none is named.
DEFAULT_BACKBONE = "efficientnet_lite0"

#: Names importing torch, and the module each lives in (loaded on first use).
__getattr__ = lazy_getattr(__name__, {
    "POOLED": "._base",
    "Backbone": "._base",
    "global_average_pool": "._base",
    "OnnxBackbone": "._onnx",
    "export_onnx": "._onnx",
    "onnx_backbone": "._onnx",
    "Preprocessing": "._preprocessing",
    "efficientnet_lite0": "._timm",
    "efficientnet_lite1": "._timm",
    "efficientnet_lite2": "._timm",
    "map_state_dict_by_position": "._timm",
})


def _lite(variant: int):
    """The factory of EfficientNet-Lite``variant`` (:mod:`._timm`, imported when it is built)."""
    def efficientnet_lite(*, layers=None):
        from featx.backbones import _timm

        return getattr(_timm, f"efficientnet_lite{variant}")(layers=layers)

    efficientnet_lite.__name__ = efficientnet_lite.__qualname__ = f"efficientnet_lite{variant}"
    return efficientnet_lite


register_backbone(
    "efficientnet_lite0",
    _lite(0),
    description="EfficientNet-Lite0, ImageNet, 1280-d, 224 px; embedded weights, no download (default)",
)
register_backbone(
    "efficientnet_lite1",
    _lite(1),
    description="EfficientNet-Lite1, ImageNet, 1280-d, 240 px; embedded weights, no download (featx[lite])",
)
register_backbone(
    "efficientnet_lite2",
    _lite(2),
    description="EfficientNet-Lite2, ImageNet, 1280-d, 260 px; embedded weights, no download (featx[lite])",
)

__all__ = [
    "DEFAULT_BACKBONE",
    "FAMILIES",
    "POOLED",
    "Backbone",
    "BackboneEntry",
    "OnnxBackbone",
    "Preprocessing",
    "backbone_with",
    "create_backbone",
    "get_backbone",
    "export_onnx",
    "global_average_pool",
    "list_backbones",
    "map_state_dict_by_position",
    "onnx_backbone",
    "register_backbone",
    "unregister_backbone",
    "weights_file",
]
