"""Local checkpoints: ``file:<path>`` with an architecture name."""

from __future__ import annotations

from pathlib import Path

import torch

from featx.backbones._base import Backbone
from featx.backbones._timm import build_timm_architecture, timm_module, timm_pooled
from featx.backbones._torchvision import build_torchvision_architecture, identity_pooled
from featx.backbones._preprocessing import Preprocessing


def load_state_dict_file(path) -> dict:
    """Read a checkpoint safely (``torch.load(..., weights_only=True)``) and return its state dict.

    Accepts a bare state dict or a training checkpoint holding one under ``state_dict``,
    ``model`` or ``model_state_dict``; a ``module.`` prefix (DataParallel) is removed.
    """
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(
            f"{str(path)!r} holds no state dict: expected a mapping of parameter names to tensors "
            f"(or a checkpoint with one under 'state_dict' / 'model'); got {type(obj).__name__}."
        )
    return {k.removeprefix("module."): v for k, v in obj.items()}


def file_backbone(path: str, *, arch: str | None = None, layers=None) -> Backbone:
    """Weights from a local file loaded into a timm or torchvision architecture.

    Parameters
    ----------
    path : str
        Checkpoint file (``.pth``, ``.pt``, ``.bin``) readable by ``torch.load(weights_only=True)``.
    arch : str
        ``timm:<name>``, ``torchvision:<name>``, or a bare timm name. Preprocessing is that
        architecture's default (timm's data config, or torchvision's DEFAULT weights).
    layers : sequence of str, optional
        See :class:`Backbone`.

    Notes
    -----
    Classifier weights in the file are ignored (the backbone reports embeddings), so a
    fine-tuned checkpoint with any number of classes loads. Every other key must match.
    """
    if not arch:
        raise ValueError(f"'file:{path}' needs an architecture: pass arch='timm:<name>' or 'torchvision:<name>'.")
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise FileNotFoundError(f"Checkpoint {str(file)!r} does not exist.")
    family, _, arch_name = arch.rpartition(":")
    if family == "torchvision":
        model, pre, classifier, dim = build_torchvision_architecture(arch_name)
        pooled_fn = identity_pooled
    elif family in ("", "timm"):
        model = build_timm_architecture(arch_name)
        classifier = model.pretrained_cfg.get("classifier") or ""
        cfg = timm_module().data.resolve_model_data_config(model)
        model.reset_classifier(0)
        pre, pooled_fn, dim = Preprocessing.from_timm_config(cfg), timm_pooled, model.num_features
    else:
        raise ValueError(f"arch must be 'timm:<name>' or 'torchvision:<name>'; got {arch!r}.")
    state = {k: v for k, v in load_state_dict_file(file).items() if not k.startswith(f"{classifier}.")}
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"{str(file)!r} does not fit architecture {arch!r}: missing keys {result.missing_keys[:5]} "
            f"({len(result.missing_keys)} in all), unexpected keys {result.unexpected_keys[:5]} "
            f"({len(result.unexpected_keys)} in all)."
        )
    return Backbone(
        model,
        name=f"file:{file}",
        preprocessing=pre,
        pooled_fn=pooled_fn,
        pooled_dim=dim,
        layers=layers,
        info={"architecture": arch, "file": str(file)},
    )
