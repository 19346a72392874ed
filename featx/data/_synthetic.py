"""Two feature domains with a known shift, for examples, tests and quick checks."""

from __future__ import annotations

import numbers

import numpy as np


def make_shifted_domains(n_source: int = 100, n_target: int = 100, n_features: int = 8, n_classes: int = 3, *,
                         class_sep: float = 3.0, shift: float = 1.5, rotation: float = 0.3, stretch: float = 1.0,
                         random_state=None):
    r"""A labelled source domain and an unlabelled target domain of Gaussian classes, the target
    moved by a known covariate shift.

    Each class ``c`` has a centre :math:`\mu_c \sim \mathcal N(0, \mathrm{class\_sep}^2 I)`;
    rows are :math:`x = \mu_y + \varepsilon`, :math:`\varepsilon \sim \mathcal N(0, I)`, with
    classes taken in turn (balanced). Target rows are then mapped by
    :math:`x \mapsto x\,S\,((1 - r) I + r Q) + \mathrm{shift}`, with :math:`S` diagonal from
    ``stretch`` down to ``1 / stretch`` (geometrically), :math:`Q` a random orthogonal matrix and
    :math:`r` = ``rotation``: a rescaling, a partial rotation and a translation, the covariate
    shift the alignment methods (CORAL, Sun et al. 2016; OT, Courty et al. 2017) are made to
    undo. ``shift=0, rotation=0, stretch=1`` gives two samples of one distribution.

    Parameters
    ----------
    n_source, n_target : int, default=100
        Rows of each domain (at least one per class in the source).
    n_features : int, default=8
    n_classes : int, default=3
    class_sep : float, default=3.0
        Spread of the class centres (the noise has unit variance).
    shift : float, default=1.5
        Added to every target feature.
    rotation : float in [0, 1], default=0.3
        How much of the random rotation is blended into the target.
    stretch : float > 0, default=1.0
        The target's first feature is scaled by ``stretch``, its last by ``1 / stretch``.
    random_state : int, Generator or None
        Seeds the centres, the rows and the rotation.

    Returns
    -------
    X : ndarray of shape (n_source + n_target, n_features)
        Source rows, then target rows.
    y : ndarray of shape (n_source + n_target,)
        Class labels of the source rows, ``-1`` (unlabelled) for the target rows.
    sample_domain : ndarray of shape (n_source + n_target,)
        ``1`` for the source, ``-2`` for the target (skada's convention).
    y_target : ndarray of shape (n_target,)
        The target rows' true classes, to score with and for nothing else.

    Examples
    --------
    >>> X, y, sd, y_target = make_shifted_domains(30, 20, random_state=0)
    >>> X.shape, bool((y[sd < 0] == -1).all()), sorted(set(y_target.tolist()))
    ((50, 8), True, [0, 1, 2])
    """
    for name, value, low in (("n_source", n_source, n_classes), ("n_target", n_target, 1),
                             ("n_features", n_features, 1), ("n_classes", n_classes, 2)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an int of at least {low}; got {value!r}.")
    if not 0.0 <= rotation <= 1.0:
        raise ValueError(f"rotation must be in [0, 1]; got {rotation!r}.")
    if not stretch > 0:
        raise ValueError(f"stretch must be > 0; got {stretch!r}.")
    rng = np.random.default_rng(random_state)
    centres = rng.normal(size=(n_classes, n_features)) * class_sep
    q = np.linalg.qr(rng.normal(size=(n_features, n_features)))[0]
    ys, yt = np.arange(n_source) % n_classes, np.arange(n_target) % n_classes
    Xs = centres[ys] + rng.normal(size=(n_source, n_features))
    scale = float(stretch) ** np.linspace(1.0, -1.0, n_features)
    Xt = ((centres[yt] + rng.normal(size=(n_target, n_features))) * scale) @ ((1 - rotation) * np.eye(n_features)
                                                                              + rotation * q) + shift
    from featx.domains import with_unlabelled_target  # scikit-learn: imported when data is made, not with featx.data

    X, y, sd = with_unlabelled_target(Xs, ys, np.ones(n_source, np.int64), Xt)
    return X, y, sd, yt
