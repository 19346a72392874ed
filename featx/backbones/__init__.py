"""Frozen pretrained backbones: a registry of names, each with its own preprocessing."""

from featx.backbones._base import POOLED, Backbone, global_average_pool
from featx.backbones._onnx import OnnxBackbone, export_onnx, onnx_backbone
from featx.backbones._preprocessing import Preprocessing
from featx.backbones._registry import (
    FAMILIES,
    backbone_with,
    create_backbone,
    BackboneEntry,
    get_backbone,
    list_backbones,
    register_backbone,
    unregister_backbone,
)
from featx.backbones._timm import efficientnet_lite0, efficientnet_lite1, efficientnet_lite2, map_state_dict_by_position

#: The backbone used when none is named.
DEFAULT_BACKBONE = "efficientnet_lite0"

register_backbone(
    "efficientnet_lite0",
    efficientnet_lite0,
    description="EfficientNet-Lite0, ImageNet, 1280-d, 224 px; embedded weights, no download (default)",
)
register_backbone(
    "efficientnet_lite1",
    efficientnet_lite1,
    description="EfficientNet-Lite1, ImageNet, 1280-d, 240 px; embedded weights, no download (featx[lite])",
)
register_backbone(
    "efficientnet_lite2",
    efficientnet_lite2,
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
]
