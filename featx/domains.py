"""The domain convention shared with skada: ``X, y, sample_domain`` (numpy only).

Every row has an integer domain: source domains are ``>= 0`` and target domains ``< 0``;
target rows whose label must stay unseen carry ``y == -1``. featx numbers the sources it
packs ``1, 2, ...`` and the targets ``-2, -3, ...`` (skada's defaults for one source and one
target are ``1`` and ``-2``).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from featx.features import FeatureSet

__all__ = [
    "check_labelled_source",
    "labelled_source_mask",
    "DEFAULT_SOURCE",
    "DEFAULT_TARGET",
    "LEAK_RTOL",
    "MASKED_LABEL",
    "check_sample_domain",
    "constant_columns",
    "domain_moments",
    "pack_domains",
    "scale_per_domain",
    "split_domains",
    "unit_rows",
    "with_unlabelled_target",
]

#: Label of an unlabelled (masked) target row.
MASKED_LABEL = -1
#: Domain given to source rows when it has to be inferred.
DEFAULT_SOURCE = 1
#: Domain given to target rows when it has to be inferred.
DEFAULT_TARGET = -2


def check_sample_domain(X, y=None, sample_domain=None) -> np.ndarray:
    """Validate or infer ``sample_domain`` for the rows of ``X``.

    Without ``sample_domain``, rows with ``y == -1`` are target and the others source; with
    neither ``y`` nor ``sample_domain`` every row is source.

    Returns
    -------
    ndarray of shape (n_samples,), int64

    Raises
    ------
    ValueError
        If the lengths disagree or the domains are not integers.
    """
    n = len(X)
    if y is not None:
        y = np.asarray(y)
        if len(y) != n:
            raise ValueError(f"Found input variables with inconsistent numbers of samples: [{n}, {len(y)}] "
                             f"(X has {n} rows, y has {len(y)}).")
    if sample_domain is None:
        if y is None:
            return np.full(n, DEFAULT_SOURCE, dtype=np.int64)
        masked = (y == MASKED_LABEL) if y.dtype.kind in "iuf" else np.zeros(n, dtype=bool)
        return np.where(masked, DEFAULT_TARGET, DEFAULT_SOURCE).astype(np.int64)
    sd = np.asarray(sample_domain)
    if sd.ndim != 1 or len(sd) != n:
        raise ValueError(f"sample_domain must have shape ({n},), one domain per row of X; got shape {sd.shape}.")
    if sd.dtype.kind not in "iu":
        if sd.dtype.kind == "f" and np.all(np.isfinite(sd)) and np.all(sd == np.round(sd)):
            sd = sd.astype(np.int64)
        else:
            raise ValueError(f"sample_domain must hold integers (source >= 0, target < 0); got dtype {sd.dtype}.")
    return sd.astype(np.int64)


def split_domains(X, y=None, sample_domain=None):
    """Split rows into source and target parts.

    Returns
    -------
    X_source, y_source, X_target, y_target
        ``y_*`` are ``None`` when ``y`` is ``None``.
    """
    sd = check_sample_domain(X, y, sample_domain)
    src, tgt = sd >= 0, sd < 0
    y = None if y is None else np.asarray(y)
    return X[src], None if y is None else y[src], X[tgt], None if y is None else y[tgt]


def pack_domains(source, target=None, *, mask_target_labels: bool = True):
    """Stack feature sets into skada's ``X, y, sample_domain`` triplet.

    Parameters
    ----------
    source : FeatureSet or sequence of FeatureSet
        Labelled source domain(s), numbered 1, 2, ...
    target : FeatureSet or sequence of FeatureSet, optional
        Target domain(s), numbered -2, -3, ...
    mask_target_labels : bool, default=True
        Replace target labels by -1, so nothing downstream can learn from them.

    Returns
    -------
    X : ndarray (n, d)
    y : ndarray (n,), int64
    sample_domain : ndarray (n,), int64
    domain_names : dict of int to str
        Domain number to the name of the domains in that feature set.

    Raises
    ------
    ValueError
        If the feature sets disagree on the number of features or on their classes.
    """
    sources = [source] if isinstance(source, FeatureSet) else list(source)
    targets = [] if target is None else [target] if isinstance(target, FeatureSet) else list(target)
    if not sources:
        raise ValueError("pack_domains needs at least one source FeatureSet.")
    parts = [(fs, i + 1) for i, fs in enumerate(sources)] + [(fs, -(i + 2)) for i, fs in enumerate(targets)]
    first = sources[0]
    for fs, _ in parts:
        if fs.X.shape[1] != first.X.shape[1]:
            raise ValueError(f"Feature sets must have the same number of features; got {fs.X.shape[1]} and "
                             f"{first.X.shape[1]}.")
        if fs.classes and first.classes and tuple(fs.classes) != tuple(first.classes):
            raise ValueError(f"Feature sets must share their classes; got {list(fs.classes)} and "
                             f"{list(first.classes)}.")
    X = np.concatenate([fs.X for fs, _ in parts])
    y = np.concatenate([
        np.full(len(fs), MASKED_LABEL, dtype=np.int64) if d < 0 and mask_target_labels else np.asarray(fs.y, np.int64)
        for fs, d in parts
    ])
    sd = np.concatenate([np.full(len(fs), d, dtype=np.int64) for fs, d in parts])
    names = {d: "+".join(sorted(set(map(str, fs.domains)))) for fs, d in parts}
    return X, y, sd, names


def with_unlabelled_target(X, y, sample_domain, X_target=None):
    """Labelled source rows with the unlabelled target rows appended: skada's triplet for a
    fit that sees the target without its labels (``y == MASKED_LABEL``, domain
    ``DEFAULT_TARGET``); the source rows alone when ``X_target`` is ``None``.

    Parameters
    ----------
    X : ndarray of shape (n, ...)
        Source rows (features, or row ids).
    y, sample_domain : ndarray of shape (n,)
    X_target : ndarray of shape (m, ...), optional

    Returns
    -------
    X, y, sample_domain : ndarray of n + m rows

    Examples
    --------
    >>> X, y, sd = with_unlabelled_target(np.zeros((2, 3)), [0, 1], [1, 1], np.ones((1, 3)))
    >>> y.tolist(), sd.tolist()
    ([0, 1, -1], [1, 1, -2])
    """
    y, sample_domain = np.asarray(y, np.int64), np.asarray(sample_domain, np.int64)
    if X_target is None:
        return np.asarray(X), y, sample_domain
    if np.shape(X_target)[1:] != np.shape(X)[1:]:
        raise ValueError(f"Target rows must have the source rows' {np.shape(X)[1:]} columns; "
                         f"got {np.shape(X_target)[1:]}.")
    m = len(X_target)
    return (np.concatenate([np.asarray(X), np.asarray(X_target)]), np.r_[y, np.full(m, MASKED_LABEL, np.int64)],
            np.r_[sample_domain, np.full(m, DEFAULT_TARGET, np.int64)])


#: Spread below which a column counts as constant, relative to the largest spread in the data:
#: featx's adapters compute in float64, whose rounding noise leaks into other columns at
#: about ``1e-16 * sqrt(d)`` of the data's scale; 1e-12 leaves four orders of margin.
LEAK_RTOL = 1e-12


def constant_columns(X: np.ndarray, mean=None, std=None) -> np.ndarray:
    r"""Columns whose spread is rounding noise, not data.

    .. math::

        \sigma_j \le 64\,\varepsilon\,\lvert\mu_j\rvert + 10^{-12} \max_k \sigma_k

    with :math:`\varepsilon` the machine epsilon of ``X``'s dtype: the first term is the
    rounding of the column's own values (a constant column stored in float32, or summed
    in float64), the second the noise a float64 linear map leaks from the other columns
    (:data:`LEAK_RTOL`). The floor is relative to the data, never an absolute epsilon, so
    features of any scale are treated alike; a column whose spread is all noise is
    treated as constant instead of being divided by its noise and blown up to unit
    variance.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    mean, std : ndarray of shape (n_features,), optional
        The columns' mean and (population) standard deviation, when already computed.

    Returns
    -------
    ndarray of shape (n_features,), bool
    """
    X = np.asarray(X)
    eps = np.finfo(X.dtype if X.dtype.kind == "f" else np.float64).eps
    if mean is None or std is None:
        X64 = np.asarray(X, dtype=np.float64)
        mean, std = X64.mean(axis=0), X64.std(axis=0)
    top = float(np.max(std, initial=0.0))
    return std <= 64 * eps * np.abs(mean) + LEAK_RTOL * top


def domain_moments(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and (population) standard deviation per feature, the deviation of a constant
    column (:func:`constant_columns`) replaced by 1.

    The pair defines :math:`z = (x - \mu_D) / \sigma_D` for the domain :math:`D` the rows
    come from, so that a feature constant within the domain maps to (about) 0 instead of
    its rounding noise being scaled up to unit variance.
    """
    X64 = np.asarray(X, dtype=np.float64)
    mean, std = X64.mean(axis=0), X64.std(axis=0)
    return mean, np.where(constant_columns(X, mean, std), 1.0, std)


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit Euclidean length, :math:`x / \\lVert x \\rVert_2` (zero rows kept at 0)."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def scale_per_domain(X, sample_domain, how: str = "zscore") -> np.ndarray:
    """Scale features domain by domain, the usual first step of shallow domain adaptation.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_domain : ndarray of shape (n_samples,)
    how : {"zscore", "unit", "none"}, default="zscore"
        ``zscore``: centre each domain and divide by its (population) standard deviation per
        feature, features constant within a domain left at 0, as the Office-Caltech and
        MNIST-USPS literature does; ``unit``: scale every row to unit length; ``none``: copy.

    Returns
    -------
    ndarray of shape (n_samples, n_features), float64
    """
    if how not in ("zscore", "unit", "none"):
        raise ValueError(f"how must be 'zscore', 'unit' or 'none'; got {how!r}.")
    X = np.array(X, dtype=np.float64)
    if how == "unit":
        return unit_rows(X)
    if how == "zscore":
        sd = check_sample_domain(X, None, sample_domain)
        for d in np.unique(sd):
            rows = sd == d
            mean, scale = domain_moments(X[rows])
            X[rows] = (X[rows] - mean) / scale
    return X


def labelled_source_mask(y, sample_domain) -> np.ndarray:
    """Rows that are source (``sample_domain >= 0``) and carry a label (``y != -1``)."""
    y = np.asarray(y)
    masked = (y == MASKED_LABEL) if y.dtype.kind in "iuf" else np.zeros(len(y), dtype=bool)
    return (np.asarray(sample_domain) >= 0) & ~masked


def check_labelled_source(estimator, X, y, sample_domain):
    """Validate ``X, y`` for a domain-aware classifier's ``fit``.

    Returns ``X, y, sample_domain, keep`` where ``keep`` marks the labelled source rows.

    Raises
    ------
    ValueError
        When no source row carries a label, or the labelled source rows hold one class.
    """
    X, y = validate_data(estimator, X, y, dtype=[np.float64, np.float32])
    sd = check_sample_domain(X, y, sample_domain)
    keep = labelled_source_mask(y, sd)
    if not keep.any():
        raise ValueError(
            f"{type(estimator).__name__} needs labelled source rows (sample_domain >= 0, y != -1); got none."
        )
    check_classification_targets(y[keep])
    classes = np.unique(y[keep])
    if len(classes) < 2:
        raise ValueError(f"{type(estimator).__name__} needs labelled source rows of at least 2 classes; "
                         f"got 1 class ({classes[0]}).")
    return X, y, sd, keep
