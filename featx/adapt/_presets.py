"""Named alignment methods, each turned into one estimator together with a classifier head."""

from __future__ import annotations

from featx.adapt._compose import AdaptThenClassify
from featx.adapt._coral import CORAL
from featx.adapt._easytl import EasyTL
from featx.adapt._gfk import GFK
from featx.adapt._scaled import DomainScaled
from featx.adapt._subspace import SubspaceAlignment
from featx.adapt._tca import BDA, JDA, TCA
from featx.classify import make_classifier

_METHODS = {
    "none": ("no alignment: the head trained on source rows", None),
    "coral": ("CORAL (Sun et al. 2016), identity added to both covariances", CORAL),
    "sa": ("subspace alignment (Fernando et al. 2013), default subspace size", SubspaceAlignment),
    "gfk": ("geodesic flow kernel (Gong et al. 2012), 20-d subspaces", GFK),
    "tca": ("transfer component analysis (Pan et al. 2011), 30 components", TCA),
    "jda": ("joint distribution adaptation (Long et al. 2013), 30 components, 10 rounds", JDA),
    "bda": ("balanced distribution adaptation (Wang et al. 2017), balance 0.5", BDA),
    "easytl": ("EasyTL (Wang et al. 2019): its own classifier, no head", None),
}


def list_methods() -> dict[str, str]:
    """Method names and what each one is."""
    return {name: text for name, (text, _) in _METHODS.items()}


def make_method(method: str, head: str = "logreg", scale: str = "none"):
    """A new, unfitted domain-aware classifier: alignment ``method`` followed by ``head``.

    Parameters
    ----------
    method : str
        One of :func:`list_methods`.
    head : str, default="logreg"
        A :func:`featx.classify.make_classifier` preset; ignored by ``easytl``, which is a
        classifier itself.
    scale : {"none", "zscore", "unit"}, default="none"
        Per-domain scaling done inside the model first (:class:`DomainScaled`), so that a
        saved model scales new target rows as it scaled its training rows.

    Returns
    -------
    estimator
        ``fit(X, y, sample_domain=...)`` / ``predict(X)``: an :class:`AdaptThenClassify`
        (with ``"passthrough"`` for ``none``) or :class:`EasyTL`, wrapped in
        :class:`DomainScaled` unless ``scale="none"``.

    Examples
    --------
    >>> from featx.adapt import make_method
    >>> model = make_method("coral", "1nn")
    >>> type(model.adapter).__name__, type(model.classifier).__name__
    ('CORAL', 'KNeighborsClassifier')
    """
    if method not in _METHODS:
        raise ValueError(f"Unknown alignment method {method!r}; expected one of {sorted(_METHODS)}.")
    if method == "easytl":
        model = EasyTL()
    else:
        adapter = "passthrough" if method == "none" else _METHODS[method][1]()
        model = AdaptThenClassify(adapter, make_classifier(head))
    return model if scale == "none" else DomainScaled(model, how=scale)
