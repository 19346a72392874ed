"""torchvision backbones: ``torchvision:<name>[:<weights>]``."""

from __future__ import annotations

from torch import nn

from featx.backbones._base import Backbone
from featx.backbones._preprocessing import Preprocessing
from featx.utils.suggest import closest_names


def identity_pooled(model, x):
    return model(x)


def _weights(arch: str, weights_name: str):
    import torchvision.models as tvm

    known = tvm.list_models()
    if arch not in known:
        raise ValueError(f"Unknown torchvision model {arch!r}; the closest names torchvision knows: "
                         f"{closest_names(arch, known)}.")
    enum = tvm.get_model_weights(arch)
    try:
        return enum[weights_name]
    except KeyError:
        raise ValueError(
            f"Unknown weights {weights_name!r} for torchvision model {arch!r}; expected one of "
            f"{['DEFAULT'] + [w.name for w in enum]}."
        ) from None


def strip_classifier(model: nn.Module) -> tuple[str, int]:
    """Replace the last ``nn.Linear`` by identity; return its name and input width.

    The model's output becomes the penultimate embedding (after global pooling) for every
    torchvision classification network (``fc``, ``classifier.1``, ``heads.head``, ...).
    """
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no nn.Linear classifier to strip.")
    name, linear = linears[-1]
    parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
    setattr(parent, name.rpartition(".")[2], nn.Identity())
    return name, linear.in_features


def build_torchvision_architecture(arch: str):
    """A torchvision model with random weights, its classifier stripped, and the DEFAULT
    weights' preprocessing (read from torchvision's metadata, no download)."""
    import torchvision.models as tvm

    weights = _weights(arch, "DEFAULT")
    model = tvm.get_model(arch, weights=None)
    classifier, dim = strip_classifier(model)
    return model, Preprocessing.from_torchvision_transforms(weights.transforms()), classifier, dim


def torchvision_backbone(spec: str, *, layers=None) -> Backbone:
    """A torchvision classification model with pretrained weights.

    Parameters
    ----------
    spec : str
        ``<name>[:<weights>]``, e.g. ``resnet50`` or ``resnet50:IMAGENET1K_V2``; the
        weights default to ``DEFAULT``. Weights download once into torch hub's cache.
    layers : sequence of str, optional
        See :class:`Backbone`.
    """
    import torch.hub
    import torchvision.models as tvm

    arch, _, weights_name = spec.partition(":")
    weights = _weights(arch, weights_name or "DEFAULT")
    model = tvm.get_model(arch, weights=None)
    try:
        state = weights.get_state_dict(progress=False, check_hash=True)
    except Exception as exc:  # URLError, hash mismatch, unreadable cache file
        raise RuntimeError(
            f"Could not load torchvision weights {arch}:{weights.name} from {weights.url}: {exc}. They are "
            f"downloaded once into {torch.hub.get_dir()}; connect to the internet once, or pass a local "
            f"file: create_backbone('file:<path>', arch='torchvision:{arch}')."
        ) from exc
    model.load_state_dict(state)
    _, dim = strip_classifier(model)
    return Backbone(
        model,
        name=f"torchvision:{arch}:{weights.name}",
        preprocessing=Preprocessing.from_torchvision_transforms(weights.transforms()),
        pooled_fn=identity_pooled,
        pooled_dim=dim,
        layers=layers,
        info={"architecture": arch, "weights": weights.name},
    )
