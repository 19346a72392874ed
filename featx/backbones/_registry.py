"""Name -> backbone factory. Exact names are registered; three families are parsed."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from featx.utils.suggest import closest_names

if TYPE_CHECKING:  # the registry imports no torch
    from featx.backbones._base import Backbone

#: Name prefixes handled by a family rather than a registered entry.
FAMILIES = {
    "timm:": "timm:<name>[.<tag>]      any timm model; weights via timm's cache (internet once)",
    "torchvision:": "torchvision:<name>[:<weights>]  torchvision weights via torch hub's cache (internet once)",
    "file:": "file:<path> + arch=...   a local checkpoint loaded with weights_only=True",
    "onnx:": "onnx:<path> [+ output=, preprocessing=]  an ONNX graph run by onnxruntime (featx[onnx])",
}


@dataclass(frozen=True)
class BackboneEntry:
    """One registered backbone name.

    Attributes
    ----------
    name : str
    description : str
        One line shown by ``featx backbones``.
    factory : callable
        ``factory(*, layers=None, **kwargs) -> Backbone`` (:func:`create_backbone` calls it).
    """

    name: str
    description: str
    factory: Callable[..., Backbone]


_REGISTRY: dict[str, BackboneEntry] = {}


def register_backbone(name: str, factory: Callable[..., Backbone], *, description: str = "") -> None:
    """Register a backbone factory under ``name``.

    Parameters
    ----------
    name : str
        Unique name without ``:`` (colons are reserved for the families).
    factory : callable
        ``factory(*, layers=None, **kwargs) -> Backbone``.
    description : str
        One line shown by ``featx backbones``.

    Raises
    ------
    ValueError
        If ``name`` is already registered or contains ``:``.
    """
    if ":" in name:
        raise ValueError(f"Backbone names may not contain ':' (reserved for {sorted(FAMILIES)}); got {name!r}.")
    if name in _REGISTRY:
        raise ValueError(f"A backbone is already registered under the name {name!r}.")
    _REGISTRY[name] = BackboneEntry(name, description, factory)


def unregister_backbone(name: str) -> None:
    """Remove a registered name (``KeyError`` when absent)."""
    try:
        del _REGISTRY[name]
    except KeyError:
        raise KeyError(f"No backbone is registered under the name {name!r}.") from None


def list_backbones(pattern: str | None = None) -> dict[str, str]:
    """Registered backbone names (sorted, optionally filtered by a shell-style ``pattern``) and
    what each one is, as :func:`featx.methods.list_methods`, :func:`featx.transferability.list_scores`
    and :func:`featx.select.list_validators` list theirs. The families (:data:`FAMILIES`) are
    parsed, not listed.

    Examples
    --------
    >>> "efficientnet_lite0" in list_backbones("efficientnet_lite*")
    True
    """
    names = sorted(_REGISTRY)
    return {n: _REGISTRY[n].description for n in names if not pattern or fnmatch.fnmatch(n, pattern)}


def get_backbone(name: str) -> BackboneEntry:
    """The registry entry of backbone ``name`` (its description and factory; :func:`create_backbone`
    builds the network).

    Raises
    ------
    ValueError
        If no backbone is registered under ``name``.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"Unknown backbone {name!r}; expected one of {sorted(_REGISTRY)} (or a name of the families "
                         f"{sorted(FAMILIES)}, which create_backbone parses).") from None


def create_backbone(name: str, *, layers=None, **kwargs) -> Backbone:
    """Build a frozen backbone by name.

    Parameters
    ----------
    name : str
        A registered name (see :func:`list_backbones`; default ``efficientnet_lite0``),
        ``timm:<name>[.<tag>]``, ``torchvision:<name>[:<weights>]``, ``file:<path>`` or
        ``onnx:<path>`` (:func:`featx.backbones.onnx_backbone`).
    layers : sequence of str, optional
        ``"pooled"`` (the default: pooled penultimate embedding) and/or module names,
        each globally average-pooled and concatenated.
    **kwargs
        Passed to the factory: ``pretrained=False`` for ``timm:``, ``arch=`` for ``file:``,
        ``output=``, ``preprocessing=`` and ``providers=`` for ``onnx:``.

    Returns
    -------
    Backbone
        In eval mode, with no parameter requiring grad.

    Examples
    --------
    >>> from featx.backbones import create_backbone
    >>> bb = create_backbone("timm:test_resnet", pretrained=False)
    >>> bb.embed_dim
    96
    """
    if isinstance(layers, str):
        layers = (layers,)
    family, sep, rest = name.partition(":")
    if sep:
        if f"{family}:" not in FAMILIES:
            raise ValueError(f"Unknown backbone family {family + ':'!r}; expected one of {sorted(FAMILIES)}.")
        if not rest:
            raise ValueError(f"Backbone name {name!r} names no model after {family + ':'!r}.")
        from featx.backbones import _file, _onnx, _timm, _torchvision

        builder = {"timm": _timm.timm_backbone, "torchvision": _torchvision.torchvision_backbone,
                   "file": _file.file_backbone, "onnx": _onnx.onnx_backbone}[family]
        return builder(rest, layers=layers, **kwargs)
    if name not in _REGISTRY:
        close = closest_names(name, _REGISTRY)
        raise ValueError(
            f"Unknown backbone {name!r}; " + (f"did you mean {close}? " if close else "")
            + f"Expected one of {list(list_backbones())} or a name starting with {sorted(FAMILIES)}."
        )
    return _REGISTRY[name].factory(layers=layers, **kwargs)


def backbone_with(backbone, layers=None, **kwargs) -> Backbone:
    """The backbone to extract with: built by name with ``layers`` (and ``kwargs``, as for
    :func:`create_backbone`), or the instance given, whose own layers must then be the ones
    asked for (``ValueError`` otherwise).

    Examples
    --------
    >>> from featx.backbones import backbone_with
    >>> backbone_with("timm:test_resnet", ["layer1", "pooled"], pretrained=False).layers
    ('layer1', 'pooled')
    """
    if isinstance(backbone, str):
        import featx.backbones  # the package's name, so that a factory replaced there is the one called

        return featx.backbones.create_backbone(backbone, layers=layers, **kwargs)
    if layers is not None and tuple(layers) != tuple(backbone.layers):
        raise ValueError(f"The backbone given reports layers {list(backbone.layers)}; got layers={list(layers)}. "
                         "Pass the backbone by name, or build it with those layers.")
    return backbone
