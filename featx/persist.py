"""Save and load fitted featx models without pickle (skops), refusing types featx does not trust."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "load_model",
    "save_model",
    "trusted_types",
]

#: featx estimators outside the numpy-only layers (named, not imported: persist stays light)
_IMAGE_MODELS = (
    "featx.extract._embedder.Embedder",
    "featx.finetune._classifier.FineTuneClassifier",
)
#: scikit-learn internals a fitted k-NN head holds; skops does not trust them by default
_SKLEARN_INTERNALS = (
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.EuclideanDistance32",
    "pathlib.PosixPath",  # an Embedder's cache_dir: built from its string, runs nothing
    "pathlib.WindowsPath",
)


def _skops():
    import skops.io

    return skops.io


def trusted_types() -> list[str]:
    """Types :func:`load_model` accepts beyond skops's defaults: featx's estimators, the helper
    types they hold, and the scikit-learn internals of a fitted k-NN."""
    from featx.adapt import CovPower, FeatureMap
    from featx.utils.discovery import all_estimators

    own = [f"{cls.__module__}.{cls.__qualname__}" for _, cls in all_estimators()]
    return sorted({*own, *(f"{c.__module__}.{c.__qualname__}" for c in (CovPower, FeatureMap)), *_IMAGE_MODELS,
                   *_SKLEARN_INTERNALS})


def save_model(model, path) -> Path:
    """Write a fitted estimator to ``path`` in skops's format (a zip of JSON and ``.npy``
    arrays; no pickle).

    Parameters
    ----------
    model : estimator
        Any featx or scikit-learn estimator (fitted or not).
    path : str or Path
        Destination, conventionally ``*.skops``.

    Returns
    -------
    Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _skops().dump(model, path)
    return path


def load_model(path, *, trusted=()):
    """Read a model written by :func:`save_model`, running no code from the file.

    skops rebuilds only types it knows to be safe. Any other type named in the file (a
    function such as ``os.system``, an unknown class) makes this raise, listing them,
    unless it is in :func:`trusted_types` or in ``trusted``.

    Parameters
    ----------
    path : str or Path
    trusted : sequence of str, optional
        Further fully qualified type names to accept: only for files whose origin you trust.

    Returns
    -------
    estimator

    Raises
    ------
    ValueError
        For a file that is not a skops model, holds untrusted types, or holds an image model
        (:class:`featx.Embedder`) whose backbone builds here with other weights.
    FileNotFoundError
        For a missing file.
    """
    sio = _skops()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {str(path)!r}.")
    try:
        found = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise ValueError(f"{str(path)!r} is not a skops model file (written by featx.persist.save_model): "
                         f"{type(exc).__name__}: {exc}") from exc
    allowed = set(trusted_types()) | set(trusted)
    refused = sorted(t for t in found if t not in allowed)
    if refused:
        raise ValueError(f"{str(path)!r} holds types featx does not trust: {refused}. Loading them could run code; "
                         "pass trusted=[...] only if you trust where the file came from.")
    model = sio.load(path, trusted=found)
    for step in _steps(model):  # an image model's backbone must be buildable here, with the same weights
        check = getattr(step, "check_backbone", None)
        if callable(check):
            check()
    return model


def _steps(model) -> list:
    """``model`` and, for a pipeline, its steps."""
    steps = getattr(model, "steps", None)
    return [model] + ([s for _, s in steps] if isinstance(steps, list) else [])
