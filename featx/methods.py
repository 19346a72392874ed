"""The method registry: every named method featx runs, defined once.

One table holds the classifier heads, the alignment methods (EasyTL among them) and the
fine-tuning strategies, each with its description, its defaults and the hyper-parameter
grid that inner cross-validation searches on the labelled source rows. Python
(:func:`make_method`), ``featx fit``, ``featx evaluate`` and ``featx compare`` all build
from it, so one name is one model everywhere.

A model name is ``ALIGNMENT+HEAD`` (``coral+1nn``); a head alone (``logreg``) means no
alignment, an alignment alone (``coral``) means its default head (:data:`DEFAULT_HEAD`;
EasyTL is a classifier and takes none). On features of several layers (or backbones) side by
side, ``MODEL@LAYER`` fits the model on one layer's columns and ``MODEL@ensemble`` fits one
model per layer and averages their probabilities (:class:`featx.adapt.BlockEnsemble`); a
name without ``@`` sees every column. Every feature model first standardises each
domain with its own moments (``scale="zscore"``), the first step of the literature's
shallow domain adaptation, unless told otherwise.

Fine-tuning entries are data here (keyword arguments of
:class:`featx.finetune.FineTuneClassifier`); this module imports neither torch nor the
fine-tuning code. The deep domain-adaptation heads (:mod:`featx.deepda`) import torch when
one is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from featx.adapt import (BDA, CORAL, GFK, JDA, JDOT, MEDA, PACE, TCA, AdaptThenClassify, BlockEnsemble, DomainScaled,
                         EasyTL, OTMapping, PerSourceEnsemble, PooledSources, SubspaceAlignment)
from featx.classify import ClassBalancedSelfTraining, FlooredStandardScaler, TunedClassifier

__all__ = [
    "DEFAULT_HEAD",
    "ENSEMBLE",
    "REGISTRY",
    "SCALES",
    "SOURCES",
    "Method",
    "canonical_name",
    "default_methods",
    "describe",
    "finetune_params",
    "get_method",
    "grid_text",
    "kind_of",
    "list_methods",
    "make_head",
    "make_method",
    "make_selected",
    "on_layers",
    "parse_method",
    "seeded",
    "selection_grid",
    "split_layer",
    "sweep_layers",
]

#: The head an alignment method gets when none is named.
DEFAULT_HEAD = "logreg"
#: Per-domain scalings a feature model can start with (:class:`featx.adapt.DomainScaled`).
SCALES = ("zscore", "unit", "none")
#: ``MODEL@ENSEMBLE``: one model per layer of the features, the probabilities averaged.
ENSEMBLE = "ensemble"
#: How a model treats several labelled source domains: as the method does ("native": CORAL and
#: OT map each source on its own, the others pool), all as one ("pooled", scaling included),
#: or one model per source with the probabilities averaged ("per-source").
SOURCES = ("native", "pooled", "per-source")


@dataclass(frozen=True)
class Method:
    """One registry entry.

    Attributes
    ----------
    name : str
    kind : {"head", "alignment", "finetune"}
    description : str
        What it is, in words (part of the key under which ``featx compare`` reuses results).
    build : callable
        ``build()`` -> a new estimator with the defaults: a classifier (head), an adapter
        or ``"passthrough"`` (alignment), a domain-aware classifier (EasyTL), or the
        keyword arguments of ``FineTuneClassifier`` (fine-tuning).
    grid : dict
        Candidate values that inner cross-validation on the labelled rows searches
        (parameter names of the built estimator); empty: the defaults are used as they are.
    own_head : bool
        The alignment is a classifier itself (EasyTL): no head is added.
    select_grid : dict
        An alignment's or a fine-tuning strategy's candidate values (parameter names of the
        built adapter, or ``FineTuneClassifier`` keywords) that a validator without target
        labels chooses from (:func:`selection_grid`); a head's ``grid`` is searched the same
        way then, instead of by inner cross-validation.
    """

    name: str
    kind: str
    description: str
    build: Callable
    grid: dict = field(default_factory=dict)
    own_head: bool = False
    select_grid: dict = field(default_factory=dict)


def _deepda(name: str, **params):
    """A builder of a :mod:`featx.deepda` head: torch is imported when the model is built,
    not with the registry."""
    def build():
        import featx.deepda as deepda

        return getattr(deepda, name)(**params)

    return build


def _scaled(estimator):
    return make_pipeline(FlooredStandardScaler(), estimator)


_LOGREG_C = {"logisticregression__C": [0.01, 0.1, 1.0, 10.0, 100.0]}
_TRADE_OFF = {"trade_off": [0.3, 1.0, 3.0]}  # the transfer loss's weight, around the papers' 1
_FT_LR = {"lr": [3e-4, 1e-3, 3e-3]}  # around FineTuneClassifier's default 1e-3, a factor ~3 apart
_ENTRIES = [
    # heads: trained on labelled source rows only
    Method("logreg", "head", "logistic regression (lbfgs) on standardised features",
           lambda: _scaled(LogisticRegression(max_iter=2000)),
           _LOGREG_C),
    Method("linear-svm", "head", "linear SVM (libsvm) on standardised features",
           lambda: _scaled(SVC(kernel="linear")), {"svc__C": [0.001, 0.01, 0.1, 1.0]}),
    Method("rbf-svm", "head", "RBF SVM on standardised features, gamma='scale'",
           lambda: _scaled(SVC(kernel="rbf")), {"svc__C": [0.1, 1.0, 10.0, 100.0]}),
    Method("knn", "head", "k-NN, distance-weighted",
           lambda: KNeighborsClassifier(5, weights="distance"), {"n_neighbors": [1, 3, 5, 10]}),
    Method("1nn", "head", "1-nearest neighbour, Euclidean", lambda: KNeighborsClassifier(1)),
    Method("ncm", "head", "nearest class mean", NearestCentroid),
    Method("selftrain", "head", "class-balanced self-training (Zou et al. 2018) of the logistic head on the target: "
           "C by inner CV on the source, then up to 10 rounds adding the most confident 20% to 50% of each "
           "predicted class", lambda: ClassBalancedSelfTraining(
               TunedClassifier(_scaled(LogisticRegression(max_iter=2000)), _LOGREG_C))),
    Method("ridge", "head", "ridge classifier on standardised features",
           lambda: _scaled(RidgeClassifier()), {"ridgeclassifier__alpha": [0.1, 1.0, 10.0, 100.0]}),
    # alignment: fitted on labelled source + unlabelled target rows
    Method("none", "alignment", "no alignment", lambda: "passthrough"),
    Method("coral", "alignment", "CORAL (Sun et al. 2016), one map per source, regulariser 10x the mean feature variance", CORAL,
           select_grid={"reg": [1.0, 10.0, 100.0]}),
    Method("sa", "alignment", "subspace alignment (Fernando et al. 2013), up to 100-d subspaces", SubspaceAlignment,
           select_grid={"n_components": [20, 50, 100]}),
    Method("gfk", "alignment", "geodesic flow kernel (Gong et al. 2012), 20-d subspaces", GFK,
           select_grid={"n_components": [10, 20, 40]}),
    Method("tca", "alignment", "transfer component analysis (Pan et al. 2011), 30 unit-length components", TCA,
           select_grid={"n_components": [10, 30, 100], "mu": [0.1, 1.0]}),
    Method("jda", "alignment", "joint distribution adaptation (Long et al. 2013), 30 unit-length components, "
           "10 rounds", JDA, select_grid={"n_components": [30, 100], "mu": [0.1, 1.0]}),
    Method("bda", "alignment", "balanced distribution adaptation (Wang et al. 2017), balance 0.5", BDA,
           select_grid={"n_components": [30, 100], "balance": [0.25, 0.5, 0.75]}),
    Method("easytl", "alignment", "EasyTL (Wang et al. 2019): CORAL-aligned centroids + intra-domain programming, "
           "its own classifier", EasyTL, own_head=True),
    Method("meda", "alignment", "MEDA (Wang et al. 2018): GFK manifold, adaptive marginal/conditional MMD and a "
           "graph Laplacian in a kernel classifier, 10 pseudo-label rounds, its own classifier", MEDA, own_head=True,
           select_grid={"lam": [1.0, 10.0, 100.0], "rho": [0.0, 1.0]}),
    Method("ot", "alignment", "class-regularised entropic optimal transport (OT-GL, Courty et al. 2017) through POT: "
           "each source row moved to the barycentre of its target coupling, reg_e 0.1 on the median-normalised cost, "
           "reg_cl 1", OTMapping, select_grid={"reg_e": [0.1, 0.5], "reg_cl": [0.1, 1.0, 10.0]}),
    Method("pace", "alignment", "PACE (Liao et al. 2022): CORAL and the logistic head (C by inner CV on the source) "
           "on each layer of the features, every head refitted on the target pseudo-labels of the layers' mean "
           "probabilities, class-balanced rounds as selftrain's; one layer's model on single-layer features",
           lambda: PACE(CORAL(), make_head("logreg")), own_head=True,
           select_grid={"adapter__reg": [1.0, 10.0, 100.0]}),
    Method("jdot", "alignment", "JDOT (Courty et al. 2017): exact OT on features and labels alternated with a ridge "
           "classifier of the target, 10 rounds, ridge penalty by GCV on the source, its own classifier", JDOT,
           own_head=True, select_grid={"alpha": [0.1, 1.0, 10.0]}),
    Method("jdot-rbf", "alignment", "JDOT with the reference code's kernel ridge classifier (RBF kernel, width "
           "1 / (d Var X), penalty 1: the kernel's mean eigenvalue), 10 rounds, its own classifier",
           lambda: JDOT(kernel="rbf", reg=1.0), own_head=True,
           select_grid={"alpha": [0.1, 1.0, 10.0], "reg": [1.0, 10.0, 100.0]}),
    # deep domain adaptation on the embeddings (torch; a bottleneck + classifier, the backbone untouched)
    Method("dann", "alignment", "DANN (Ganin et al. 2016) head on the embeddings: 256-d bottleneck, adversarial "
           "domain classifier through gradient reversal, 1000 SGD steps, its own classifier", _deepda("DANN"),
           own_head=True, select_grid=_TRADE_OFF),
    Method("cdan-e", "alignment", "CDAN+E (Long et al. 2018) head on the embeddings: the domain classifier on the "
           "features x predictions map, entropy-weighted, 1000 SGD steps, its own classifier", _deepda("CDAN"),
           own_head=True, select_grid=_TRADE_OFF),
    Method("mcc", "alignment", "MCC (Jin et al. 2020) head on the embeddings: minimum class confusion of the target "
           "predictions, temperature 2.5, 1000 SGD steps, its own classifier", _deepda("MCC"), own_head=True,
           select_grid=_TRADE_OFF),
    # fine-tuning the backbone on the images (FineTuneClassifier keyword arguments)
    # (lr: the head's AdamW rate; the backbone's is backbone_lr_factor=0.1 of it)
    Method("ft-last", "finetune", "fine-tune the last 2 stages and the head", lambda: {"freeze": "last:2"},
           select_grid=_FT_LR),
    Method("ft-full", "finetune", "fine-tune every layer", lambda: {"freeze": "none"}, select_grid=_FT_LR),
    Method("lp-ft", "finetune", "linear probe (logistic-regression warm start), then fine-tune every layer",
           lambda: {"freeze": "lp-ft", "lp_epochs": 0, "head_init": "logreg"}, select_grid=_FT_LR),
]
REGISTRY: dict[str, Method] = {m.name: m for m in _ENTRIES}


def list_methods(kind: str | None = None) -> dict[str, str]:
    """Registry names and what each one is, optionally of one ``kind``
    (``"head"``, ``"alignment"`` or ``"finetune"``)."""
    kinds = {m.kind for m in _ENTRIES}
    if kind is not None and kind not in kinds:
        raise ValueError(f"kind must be one of {sorted(kinds)} or None; got {kind!r}.")
    return {m.name: m.description for m in _ENTRIES if kind is None or m.kind == kind}


def get_method(name: str, kind: str | None = None) -> Method:
    """The registry entry ``name`` (of ``kind``, when given)."""
    entry = REGISTRY.get(name)
    if entry is None or (kind is not None and entry.kind != kind):
        raise ValueError(f"Unknown {kind or 'method'} {name!r}; expected one of {sorted(list_methods(kind))}.")
    return entry


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


def sweep_layers(methods, layers) -> list[str]:
    """Each frozen or aligned model once per layer (``MODEL@LAYER``), in the layers' order;
    fine-tuning names and names that already pick a layer are kept as they are.

    Examples
    --------
    >>> sweep_layers(["logreg", "coral@ensemble", "ft-last"], ["blocks.5", "pooled"])
    ['logreg@blocks.5', 'logreg@pooled', 'coral@ensemble', 'ft-last']
    """
    layers = list(layers or [])
    if not layers or ENSEMBLE in layers:
        raise ValueError(f"A layer sweep needs the layers' names (not {ENSEMBLE!r}); got {layers}.")
    out = []
    for m in methods:
        if split_layer(m)[1] is not None or kind_of(m) == "finetuned":
            out.append(m)
        else:
            out += [f"{m}@{layer}" for layer in layers]
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


def kind_of(name: str) -> str:
    """``"frozen"`` (a head on unaligned features), ``"aligned"`` or ``"finetuned"``."""
    alignment, head = parse_method(name)
    if REGISTRY[alignment].kind == "finetune":
        return "finetuned"
    return "frozen" if alignment == "none" else "aligned"


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


def make_head(name: str, *, tune: bool = True, random_state=0):
    """A new, unfitted classifier head: the registry's defaults, wrapped in
    :class:`featx.classify.TunedClassifier` with its grid unless ``tune=False``.

    Examples
    --------
    >>> make_head("1nn", tune=False)
    KNeighborsClassifier(n_neighbors=1)
    """
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
    import itertools

    alignment, head = parse_method(name)
    axes = dict(REGISTRY[alignment].select_grid)
    if head is not None:
        axes.update({k.split("__")[-1]: v for k, v in REGISTRY[head].grid.items()})
    return [dict(zip(axes, values)) for values in itertools.product(*axes.values())]


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
        raise ValueError(f"{name!r} has no selectable parameters {unknown}; expected some of {sorted(entry.select_grid)}.")
    return {**entry.build(), **(params or {})}


def default_methods(with_target: bool, finetune: bool = True) -> list[str]:
    """What ``featx compare`` runs by default: the frozen heads; the alignment methods when
    there is a target; the fine-tuning strategies when there are images."""
    out = ["logreg", "linear-svm", "rbf-svm", "knn", "ncm"]
    if with_target:
        out += ["coral", "sa", "gfk", "tca", "jda", "easytl", "meda", "mcc"]
    if finetune:
        out += list(list_methods("finetune"))
    return out
