"""The grammar of model names: ``ALIGNMENT+HEAD``, ``MODEL@LAYER``, and what a name means."""

from __future__ import annotations

import itertools

from featx.methods._registry import DEFAULT_HEAD, ENSEMBLE, REGISTRY, get_method

#: The rungs of the transfer ladder a model can stand on (:func:`rung_of`).
RUNGS = ("frozen", "aligned", "finetuned")

def split_layer(name: str) -> tuple[str, str | None]:
    """``(model, layer)`` of a model name: ``"coral+1nn@blocks.5"`` -> ``("coral+1nn", "blocks.5")``;
    ``layer`` is ``None`` without ``@`` and :data:`ENSEMBLE` for one model per layer.

    Raises
    ------
    ValueError
        If the name is not a non-empty string, or either side of ``@`` is empty.

    Examples
    --------
    >>> split_layer("coral@ensemble"), split_layer("logreg")
    (('coral', 'ensemble'), ('logreg', None))
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"A method name must be a non-empty string; got {name!r}.")
    if "@" not in name:
        return name, None
    model, layer = name.rsplit("@", 1)
    if not model or not layer:
        raise ValueError(f"A layered method name is MODEL@LAYER or MODEL@{ENSEMBLE}; got {name!r}.")
    return model, layer


def sweep_layers(methods, layers, ensemble: bool = False) -> list[str]:
    """Each frozen or aligned model once per layer (``MODEL@LAYER``), in the layers' order, and
    with ``ensemble`` once more as ``MODEL@ensemble`` (one model per layer, probabilities
    averaged); fine-tuning names and names that already pick a layer are kept as they are.

    Examples
    --------
    >>> sweep_layers(["logreg", "coral@ensemble", "ft-last"], ["blocks.5", "pooled"])
    ['logreg@blocks.5', 'logreg@pooled', 'coral@ensemble', 'ft-last']
    >>> sweep_layers(["knn"], ["a", "b"], ensemble=True)
    ['knn@a', 'knn@b', 'knn@ensemble']
    """
    layers = list(layers or [])
    if not layers or ENSEMBLE in layers:
        raise ValueError(f"A layer sweep needs the layers' names (not {ENSEMBLE!r}); got {layers}.")
    out = []
    for m in methods:
        if split_layer(m)[1] is not None or rung_of(m) == "finetuned":
            out.append(m)
        else:
            out += [f"{m}@{layer}" for layer in layers] + ([f"{m}@{ENSEMBLE}"] if ensemble else [])
    return out


def parse_method(name: str) -> tuple[str, str | None]:
    """``(alignment, head)`` of a model name: ``"coral+1nn"``, ``"coral"`` (its default head),
    ``"logreg"`` (no alignment) or a fine-tuning name (``head`` is ``None``, as for EasyTL).

    Examples
    --------
    >>> parse_method("coral+1nn"), parse_method("coral"), parse_method("knn"), parse_method("easytl")
    (('coral', '1nn'), ('coral', 'logreg'), ('none', 'knn'), ('easytl', None))
    """
    name, layer = split_layer(name)
    if layer is not None and get_method(name.split("+", 1)[0]).kind == "finetune":
        raise ValueError(f"{name!r} fine-tunes the whole backbone; it takes no layer (got {name}@{layer}).")
    if "+" in name:
        alignment, head = name.split("+", 1)
        entry = get_method(alignment, "alignment")
        if entry.own_head:
            raise ValueError(f"{alignment!r} is a classifier itself and takes no head; got {name!r}.")
        get_method(head, "head")
        return alignment, head
    entry = get_method(name)
    if entry.kind == "head":
        return "none", name
    if entry.kind == "finetune" or entry.own_head:
        return name, None
    return name, DEFAULT_HEAD


def canonical_name(name: str) -> str:
    """The shortest name of the same model (``"none+knn"`` -> ``"knn"``, ``"coral+logreg"`` -> ``"coral"``)."""
    alignment, head = parse_method(name)
    layer = split_layer(name)[1]
    suffix = "" if layer is None else f"@{layer}"
    if head is None or head == DEFAULT_HEAD and alignment != "none":
        return alignment + suffix
    return (head if alignment == "none" else f"{alignment}+{head}") + suffix


def rung_of(name: str) -> str:
    """Which rung of the transfer ladder a model stands on (:data:`RUNGS`): ``"frozen"`` (a
    head on unaligned features), ``"aligned"`` (an alignment, shallow or deep, on the frozen
    features) or ``"finetuned"`` (the backbone trained).

    A registry entry's ``kind`` says what the entry is (a head, an alignment, a fine-tuning
    strategy); a model's rung says what the model built from a name does.

    Examples
    --------
    >>> [rung_of(n) for n in ("knn", "coral+1nn", "ft-last")]
    ['frozen', 'aligned', 'finetuned']
    """
    alignment, _ = parse_method(name)
    if REGISTRY[alignment].kind == "finetune":
        return "finetuned"
    return "frozen" if alignment == "none" else "aligned"


def needs_target(name: str) -> bool:
    """Whether model ``name`` trains on unlabelled target rows or images: every alignment, and
    the fine-tuning strategies with a domain-adaptation objective (``da_loss``).

    Examples
    --------
    >>> [needs_target(n) for n in ("knn", "coral", "ft-last", "ft-mcc")]
    [False, True, False, True]
    """
    alignment, _ = parse_method(name)
    entry = REGISTRY[alignment]
    if entry.kind == "finetune":
        return entry.build().get("da_loss") is not None
    return alignment != "none"


def describe(name: str, scale: str = "zscore") -> str:
    """A model in words: scaling, alignment and head, with the head's inner-CV grid."""
    alignment, head = parse_method(name)
    entry = REGISTRY[alignment]
    if entry.kind == "finetune":
        return f"{entry.description}: FineTuneClassifier({entry.build()})"
    parts = [f"per-domain scaling {scale}", entry.description]
    if head is not None:
        parts.append(REGISTRY[head].description + grid_text(REGISTRY[head].grid))
    layer = split_layer(name)[1]
    if layer == ENSEMBLE:
        parts.append("one such model per layer, class probabilities averaged")
    elif layer is not None:
        parts.append(f"on layer {layer} only")
    return " + ".join(parts)


def grid_text(grid: dict) -> str:
    """``"; C by inner CV in [0.01, 0.1]"``, or nothing without a grid."""
    if not grid:
        return ""
    return "; " + ", ".join(f"{k.split('__')[-1]} by inner CV in {v}" for k, v in grid.items())



def selection_grid(name: str) -> list[dict]:
    """Every configuration a validator chooses from for model ``name``: the alignment's
    ``select_grid`` crossed with the head's ``grid``, as short names (``{"reg": 10.0, "C": 0.1}``).

    Examples
    --------
    >>> len(selection_grid("coral")), selection_grid("coral")[0]
    (15, {'reg': 1.0, 'C': 0.01})
    >>> selection_grid("easytl"), selection_grid("lp-ft")[0]
    ([{}], {'lr': 0.0003})
    """
    alignment, head = parse_method(name)
    axes = dict(REGISTRY[alignment].select_grid)
    if head is not None:
        axes.update({k.split("__")[-1]: v for k, v in REGISTRY[head].grid.items()})
    return [dict(zip(axes, values)) for values in itertools.product(*axes.values())]

