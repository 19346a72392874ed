"""The registry as data: one :class:`Method` per named model, with its defaults and grids."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

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
        What it is, in words (not part of the key under which ``featx compare`` reuses fits:
        see :func:`featx.methods.model_spec`).
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


def _new(module: str, name: str, *args, **kwargs) -> Callable:
    """A builder of ``module.name(*args, **kwargs)``: the estimator's module is imported when a
    model is built, not with the registry (``featx methods``, ``--help`` and every listing
    start without scikit-learn, scipy or torch)."""
    def build():
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    return build


def _scaled(module: str, name: str, **kwargs) -> Callable:
    """A builder of ``make_pipeline(FlooredStandardScaler(), module.name(**kwargs))``."""
    def build():
        from sklearn.pipeline import make_pipeline

        from featx.classify import FlooredStandardScaler

        return make_pipeline(FlooredStandardScaler(), _new(module, name, **kwargs)())

    return build


def _adapt(name: str, *args, **kwargs) -> Callable:
    """A builder of :mod:`featx.adapt`'s ``name`` (scipy and scikit-learn imported when it is built)."""
    return _new("featx.adapt", name, *args, **kwargs)


def _deepda(name: str, **params):
    """A builder of a :mod:`featx.deepda` head: torch is imported when the model is built."""
    return _new("featx.deepda", name, **params)


def _selftrain():
    from featx.classify import ClassBalancedSelfTraining, TunedClassifier

    return ClassBalancedSelfTraining(TunedClassifier(_scaled("sklearn.linear_model", "LogisticRegression",
                                                             max_iter=2000)(), _LOGREG_C))


def _pace():
    from featx.adapt import CORAL, PACE
    from featx.methods._build import make_head

    return PACE(CORAL(), make_head("logreg"))


_LOGREG_C = {"logisticregression__C": [0.01, 0.1, 1.0, 10.0, 100.0]}
_TRADE_OFF = {"trade_off": [0.3, 1.0, 3.0]}  # the transfer loss's weight, around the papers' 1
_FT_LR = {"lr": [3e-4, 1e-3, 3e-3]}  # around FineTuneClassifier's default 1e-3, a factor ~3 apart
_FT_DA = {**_FT_LR, **_TRADE_OFF}
#: BatchNorm keeps the pretrained statistics while fine-tuning (FineTuneClassifier's batchnorm)
_FROZEN_BN = {"batchnorm": "frozen"}


def _ft_da(loss: str) -> Callable:
    """LP-FT (the head warm-started by logistic regression, then every layer, the pretrained
    ones at a tenth of the head's rate) with the domain-adaptation objective ``loss``."""
    return lambda: {"freeze": "lp-ft", "lp_epochs": 0, "head_init": "logreg", "da_loss": loss, **_FROZEN_BN}


_ENTRIES = [
    # heads: trained on labelled source rows only
    Method("logreg", "head", "logistic regression (lbfgs) on standardised features",
           _scaled("sklearn.linear_model", "LogisticRegression", max_iter=2000),
           _LOGREG_C),
    Method("linear-svm", "head", "linear SVM (libsvm) on standardised features",
           _scaled("sklearn.svm", "SVC", kernel="linear"), {"svc__C": [0.001, 0.01, 0.1, 1.0]}),
    Method("rbf-svm", "head", "RBF SVM on standardised features, gamma='scale'",
           _scaled("sklearn.svm", "SVC", kernel="rbf"), {"svc__C": [0.1, 1.0, 10.0, 100.0]}),
    Method("knn", "head", "k-NN, distance-weighted",
           _new("sklearn.neighbors", "KNeighborsClassifier", 5, weights="distance"), {"n_neighbors": [1, 3, 5, 10]}),
    Method("1nn", "head", "1-nearest neighbour, Euclidean", _new("sklearn.neighbors", "KNeighborsClassifier", 1)),
    Method("ncm", "head", "nearest class mean", _new("sklearn.neighbors", "NearestCentroid")),
    Method("selftrain", "head", "class-balanced self-training (Zou et al. 2018) of the logistic head on the target: "
           "C by inner CV on the source, then up to 10 rounds adding the most confident 20% to 50% of each "
           "predicted class", _selftrain),
    Method("ridge", "head", "ridge classifier on standardised features",
           _scaled("sklearn.linear_model", "RidgeClassifier"), {"ridgeclassifier__alpha": [0.1, 1.0, 10.0, 100.0]}),
    # alignment: fitted on labelled source + unlabelled target rows
    Method("none", "alignment", "no alignment", lambda: "passthrough"),
    Method("coral", "alignment",
           "CORAL (Sun et al. 2016), one map per source, regulariser 10x the mean feature variance", _adapt("CORAL"),
           select_grid={"reg": [1.0, 10.0, 100.0]}),
    Method("sa", "alignment", "subspace alignment (Fernando et al. 2013), up to 100-d subspaces",
           _adapt("SubspaceAlignment"),
           select_grid={"n_components": [20, 50, 100]}),
    Method("gfk", "alignment", "geodesic flow kernel (Gong et al. 2012), 20-d subspaces", _adapt("GFK"),
           select_grid={"n_components": [10, 20, 40]}),
    Method("tca", "alignment", "transfer component analysis (Pan et al. 2011), 30 unit-length components",
           _adapt("TCA"),
           select_grid={"n_components": [10, 30, 100], "mu": [0.1, 1.0]}),
    Method("jda", "alignment", "joint distribution adaptation (Long et al. 2013), 30 unit-length components, "
           "10 rounds", _adapt("JDA"), select_grid={"n_components": [30, 100], "mu": [0.1, 1.0]}),
    Method("bda", "alignment", "balanced distribution adaptation (Wang et al. 2017), balance 0.5", _adapt("BDA"),
           select_grid={"n_components": [30, 100], "balance": [0.25, 0.5, 0.75]}),
    Method("easytl", "alignment", "EasyTL (Wang et al. 2019): CORAL-aligned centroids + intra-domain programming, "
           "its own classifier", _adapt("EasyTL"), own_head=True),
    Method("meda", "alignment", "MEDA (Wang et al. 2018): GFK manifold, adaptive marginal/conditional MMD and a "
           "graph Laplacian in a kernel classifier, 10 pseudo-label rounds, its own classifier", _adapt("MEDA"),
           own_head=True,
           select_grid={"lam": [1.0, 10.0, 100.0], "rho": [0.0, 1.0]}),
    Method("ot", "alignment", "class-regularised entropic optimal transport (OT-GL, Courty et al. 2017) through POT: "
           "each source row moved to the barycentre of its target coupling, reg_e 0.1 on the median-normalised cost, "
           "reg_cl 1", _adapt("OTMapping"), select_grid={"reg_e": [0.1, 0.5], "reg_cl": [0.1, 1.0, 10.0]}),
    Method("pace", "alignment", "PACE (Liao et al. 2022): CORAL and the logistic head (C by inner CV on the source) "
           "on each layer of the features, every head refitted on the target pseudo-labels of the layers' mean "
           "probabilities, class-balanced rounds as selftrain's; one layer's model on single-layer features",
           _pace, own_head=True,
           select_grid={"adapter__reg": [1.0, 10.0, 100.0]}),
    Method("jdot", "alignment", "JDOT (Courty et al. 2017): exact OT on features and labels alternated with a ridge "
           "classifier of the target, 10 rounds, ridge penalty by GCV on the source, its own classifier",
           _adapt("JDOT"),
           own_head=True, select_grid={"alpha": [0.1, 1.0, 10.0]}),
    Method("jdot-rbf", "alignment", "JDOT with the reference code's kernel ridge classifier (RBF kernel, width "
           "1 / (d Var X), penalty 1: the kernel's mean eigenvalue), 10 rounds, its own classifier",
           _adapt("JDOT", kernel="rbf", reg=1.0), own_head=True,
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
    Method("ft-last", "finetune", "fine-tune the last 2 stages and the head",
           lambda: {"freeze": "last:2", **_FROZEN_BN}, select_grid=_FT_LR),
    Method("ft-full", "finetune", "fine-tune every layer", lambda: {"freeze": "none", **_FROZEN_BN},
           select_grid=_FT_LR),
    Method("lp-ft", "finetune", "linear probe (logistic-regression warm start), then fine-tune every layer",
           lambda: {"freeze": "lp-ft", "lp_epochs": 0, "head_init": "logreg", **_FROZEN_BN}, select_grid=_FT_LR),
    # ... and with a domain-adaptation objective on the unlabelled target images (featx.deepda's losses)
    Method("ft-dann", "finetune", "LP-FT with DANN's adversarial objective (Ganin et al. 2016) on the unlabelled "
           "target images: a domain classifier on the pooled embedding through gradient reversal",
           _ft_da("dann"), select_grid=_FT_DA),
    Method("ft-cdan-e", "finetune", "LP-FT with CDAN+E's objective (Long et al. 2018) on the unlabelled target "
           "images: the domain classifier on the embedding x predictions map, entropy-weighted",
           _ft_da("cdan-e"), select_grid=_FT_DA),
    Method("ft-mcc", "finetune", "LP-FT with MCC's objective (Jin et al. 2020) on the unlabelled target images: "
           "minimum class confusion of their predictions, temperature 2.5", _ft_da("mcc"), select_grid=_FT_DA),
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



def default_methods(with_target: bool, finetune: bool = True) -> list[str]:
    """What ``featx compare`` runs by default: the frozen heads; the alignment methods when
    there is a target; the fine-tuning strategies when there are images."""
    out = ["logreg", "linear-svm", "rbf-svm", "knn", "ncm"]
    if with_target:
        out += ["coral", "sa", "gfk", "tca", "jda", "easytl", "meda", "mcc"]
    if finetune:
        out += ["ft-last", "ft-full", "lp-ft"] + (["ft-mcc"] if with_target else [])
    return out
