"""Several backbones in one comparison: each source embedded (and cached) by every backbone, the
columns side by side, each backbone's (or each backbone layer's) columns a block that
``MODEL@NAME`` fits on alone and ``MODEL@ensemble`` fits one model per block of, with the class
probabilities averaged (:class:`featx.adapt.BlockEnsemble`)."""

from __future__ import annotations

import numpy as np

from featx.features import FeatureSet


def block_names(backbones) -> list[str]:
    """The block name of each backbone layer, in column order: the backbone's name, or
    ``NAME/LAYER`` when it reports several layers.

    Raises
    ------
    ValueError
        If two backbones share a name (their blocks could not be told apart).

    Examples
    --------
    >>> from types import SimpleNamespace as B
    >>> block_names([B(name="a", layers=("pooled",)), B(name="b", layers=("x", "pooled"))])
    ['a', 'b/x', 'b/pooled']
    """
    names = [b.name for b in backbones]
    if len(set(names)) < len(names):
        raise ValueError(f"backbones must differ; got {names}.")
    return [b.name if len(b.layers) == 1 else f"{b.name}/{layer}" for b in backbones for layer in b.layers]


def side_by_side(backbones, sets) -> FeatureSet:
    """The feature sets of one source under ``backbones`` (in order) as one set whose columns
    are theirs side by side, its layer record naming each block (:func:`block_names`) and its
    key holding every backbone's key.

    Raises
    ------
    ValueError
        If the sets do not hold the same rows in the same order (an image one backbone could
        not read and another could).
    """
    first = sets[0]
    for b, fs in zip(backbones[1:], sets[1:]):
        if len(fs) != len(first) or not np.array_equal(np.asarray(fs.ids), np.asarray(first.ids)):
            raise ValueError(f"{b.name} embedded {len(fs)} rows of {first.metadata.get('source', 'the source')} and "
                             f"{backbones[0].name} {len(first)}, or in another order; the backbones must read the "
                             "same images. Remove the unreadable ones (featx extract lists them) and run again.")
    widths = [w for b in backbones for w in b.layer_dims]
    metadata = {"backbone": {"layers": block_names(backbones), "layer_dims": widths,
                             "backbones": [b.name for b in backbones]},
                "key": {"backbones": [fs.metadata.get("key") for fs in sets]},
                "path": [str(fs.metadata.get("path")) for fs in sets],
                "n_computed": sum(int(fs.metadata.get("n_computed", 0)) for fs in sets)}
    return FeatureSet(X=np.hstack([fs.X for fs in sets]), y=first.y, ids=first.ids, domains=first.domains,
                      classes=first.classes, metadata=metadata)
