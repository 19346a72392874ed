"""Builders: a registry name to a new, unfitted estimator (the estimators' modules are imported
when one is built, so that listing the registry imports neither scikit-learn nor torch)."""

from __future__ import annotations

from featx.methods._names import parse_method, split_layer
from featx.methods._registry import ENSEMBLE, REGISTRY, SCALES, SOURCES, get_method


def make_head(name: str, *, tune: bool = True, random_state=0):
    """A new, unfitted classifier head: the registry's defaults, wrapped in
    :class:`featx.classify.TunedClassifier` with its grid unless ``tune=False``.

    Examples
    --------
    >>> make_head("1nn", tune=False)
    KNeighborsClassifier(n_neighbors=1)
    """
    from featx.classify import TunedClassifier

    entry = get_method(name, "head")
    built = entry.build()
    if not tune or getattr(built, "uses_unlabelled", False):  # a self-training head tunes inside
        return built
    return TunedClassifier(built, entry.grid or None, random_state=random_state)


def _layer_blocks(layers):
    """``(names, widths)`` of ``layers``: ``(name, width)`` pairs in column order."""
    try:
        names, widths = zip(*[(str(n), w) for n, w in layers])
    except (TypeError, ValueError):
        raise ValueError(f"layers must be (name, width) pairs in column order; got {layers!r}.") from None
    return list(names), list(widths)


def on_layers(model, layer: str | None, layers=None):
    """``model`` fitted on ``layer``'s columns of features made of ``layers`` (one per layer,
    averaged, for :data:`ENSEMBLE`), as a :class:`featx.adapt.BlockEnsemble`; ``model`` itself
    when ``layer`` is ``None``.

    Raises
    ------
    ValueError
        If ``layer`` is given without ``layers``, or names none of them.
    """
    from featx.adapt import BlockEnsemble

    if layer is None:
        return model
    if not layers:
        raise ValueError(f"@{layer} picks columns of the features' layers; pass layers=[(name, width), ...] "
                         "(a FeatureSet's metadata['layers'] and ['layer_dims']); got none.")
    names, widths = _layer_blocks(layers)
    if layer == ENSEMBLE:
        return BlockEnsemble(model, blocks=widths)
    if layer not in names:
        raise ValueError(f"Unknown layer {layer!r}; the features hold {names} (or @{ENSEMBLE}).")
    return BlockEnsemble(model, blocks=widths, use=[names.index(layer)])


def seeded(estimator, random_state):
    """``estimator`` with ``random_state`` set on it and on every nested estimator that has one
    (the deep heads' initialisation and minibatches, the row samples of OT, JDOT and the kernel
    methods), so that one seed given to :func:`make_method` reaches every random step.

    Examples
    --------
    >>> from featx.adapt import TCA
    >>> seeded(TCA(), 3).random_state, seeded("passthrough", 3)
    (3, 'passthrough')
    """
    if not hasattr(estimator, "get_params"):  # "passthrough": nothing to seed
        return estimator
    keys = [k for k in estimator.get_params(deep=True) if k == "random_state" or k.endswith("__random_state")]
    return estimator.set_params(**dict.fromkeys(keys, random_state))


def make_method(method: str = "none", head: str | None = None, *, scale: str = "zscore", tune: bool = True,
                random_state=0, sources: str = "native", layers=None):
    """A new, unfitted domain-aware classifier from the registry: per-domain scaling,
    alignment ``method``, then ``head``.

    Parameters
    ----------
    method : str, default="none"
        An alignment name, a head name (no alignment) or a full ``ALIGNMENT+HEAD`` name
        (see :func:`parse_method`); :func:`list_methods` lists them.
    head : str, optional
        A head name; default the one ``method`` implies (:data:`DEFAULT_HEAD` for an
        alignment). EasyTL is a classifier itself and takes none.
    scale : {"zscore", "unit", "none"}, default="zscore"
        Per-domain scaling inside the model (:class:`featx.adapt.DomainScaled`): each
        domain standardised with its own moments, every row to unit length, or as given.
    tune : bool, default=True
        Choose the head's hyper-parameters from its registry grid by inner cross-validation
        on the labelled source rows (:class:`featx.classify.TunedClassifier`); ``False``
        keeps the registry's defaults.
    random_state : int, RandomState or None, default=0
        Seeds the model: the folds of that inner cross-validation and every random step of
        the alignment or of a method with its own classifier (see :func:`seeded`). The deep
        heads take an int only.
    sources : {"native", "pooled", "per-source"}, default="native"
        Several labelled source domains (:data:`SOURCES`): as the method treats them, pooled
        into one (:class:`featx.adapt.PooledSources`), or one model per source with the
        probabilities averaged (:class:`featx.adapt.PerSourceEnsemble`).
    layers : sequence of (str, int), optional
        The layers whose columns the features hold, in order, with their widths (a
        :class:`featx.FeatureSet`'s ``metadata["layers"]`` and ``["layer_dims"]``); needed by
        a ``MODEL@LAYER`` or ``MODEL@ensemble`` name (see :func:`on_layers`).

    Returns
    -------
    DomainScaled
        ``fit(X, y, sample_domain=...)`` / ``predict(X, sample_domain=None)`` around an
        :class:`featx.adapt.AdaptThenClassify` (or :class:`featx.adapt.EasyTL`); inside
        :class:`featx.adapt.PooledSources` or :class:`featx.adapt.PerSourceEnsemble` when
        ``sources`` says so; inside a :class:`featx.adapt.BlockEnsemble` for a ``@`` name.

    Examples
    --------
    >>> model = make_method("coral", "1nn")
    >>> type(model.estimator.adapter).__name__, model.how
    ('CORAL', 'zscore')
    >>> repr(make_method("coral+1nn")) == repr(model)
    True
    """
    from featx.adapt import AdaptThenClassify, DomainScaled, PerSourceEnsemble, PooledSources

    if scale not in SCALES:
        raise ValueError(f"scale must be one of {list(SCALES)}; got {scale!r}.")
    if sources not in SOURCES:
        raise ValueError(f"sources must be one of {list(SOURCES)}; got {sources!r}.")
    method, layer = split_layer(method)
    if head is not None:
        if "+" in method:
            raise ValueError(f"Give the head either in the name or as head=; got {method!r} and head={head!r}.")
        if get_method(method).kind == "head":
            raise ValueError(f"{method!r} is a head; pass an alignment as method (e.g. 'none') with head={head!r}.")
        method = f"{method}+{head}"
    alignment, head = parse_method(method if layer is None else f"{method}@{layer}")
    entry = REGISTRY[alignment]
    if entry.kind == "finetune":
        raise ValueError(f"{method!r} fine-tunes the backbone on images; build it with "
                         "featx.finetune.FineTuneClassifier(**featx.methods.finetune_params(name)).")
    built = seeded(entry.build(), random_state)
    if layer is None and layers and hasattr(built, "get_params") and "blocks" in built.get_params(deep=False):
        # PACE: a member per layer
        built.set_params(blocks=_layer_blocks(layers)[1])
    model = built if entry.own_head else AdaptThenClassify(built, make_head(head, tune=tune, random_state=random_state))
    model = DomainScaled(model, how=scale)
    if sources == "pooled":
        model = PooledSources(model)
    elif sources == "per-source":
        model = PerSourceEnsemble(model)
    return on_layers(model, layer, layers)


def make_selected(name: str, params: dict, *, scale: str = "zscore", layers=None):
    """Model ``name`` with the head untuned and ``params`` (short names of
    :func:`selection_grid`) set on its alignment and head: one point of the selection grid
    (``layers`` as for :func:`make_method`).

    Raises
    ------
    ValueError
        If a parameter belongs to neither the alignment's ``select_grid`` nor the head's ``grid``.
    """
    alignment, head = parse_method(name)
    name, layer = split_layer(name)
    model = make_method(name, scale=scale, tune=False, layers=layers if layer is None else None)
    own = {k: f"estimator__{k}" if REGISTRY[alignment].own_head else f"estimator__adapter__{k}"
           for k in REGISTRY[alignment].select_grid}
    if head is not None:
        own.update({k.split("__")[-1]: f"estimator__classifier__{k}" for k in REGISTRY[head].grid})
    unknown = sorted(set(params) - set(own))
    if unknown:
        raise ValueError(f"{name!r} has no selectable parameters {unknown}; expected some of {sorted(own)}.")
    return on_layers(model.set_params(**{own[k]: v for k, v in params.items()}), layer, layers)


def finetune_params(name: str, params: dict | None = None) -> dict:
    """Keyword arguments of :class:`featx.finetune.FineTuneClassifier` for a fine-tuning name,
    with ``params`` (a point of its :func:`selection_grid`) set.

    Raises
    ------
    ValueError
        If ``name`` is not a fine-tuning strategy or a parameter is not in its selection grid.
    """
    entry = get_method(name, "finetune")
    unknown = sorted(set(params or {}) - set(entry.select_grid))
    if unknown:
        raise ValueError(f"{name!r} has no selectable parameters {unknown}; expected some of "
                         f"{sorted(entry.select_grid)}.")
    return {**entry.build(), **(params or {})}


