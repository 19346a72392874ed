"""Choosing a configuration without target labels: every validator scores every point of a
grid on the same fits, and the oracle (target labels) is computed beside them only to report
the upper bound and the gap."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from featx.domains import DEFAULT_SOURCE, DEFAULT_TARGET, MASKED_LABEL, check_sample_domain
from featx.metrics import accuracy
from featx.select._scores import (
    cross_entropy,
    deep_embedded_validation_risk,
    domain_density_ratio,
    importance_weighted_accuracy,
    mixup_pairs,
    mixval_score,
    prediction_entropy,
    soft_neighbourhood_density,
)

#: Validator name -> what it scores (higher is better for every one, as returned).
VALIDATORS = {
    "source-cv": "accuracy on held-out labelled source rows (stratified folds)",
    "iwcv": "importance-weighted held-out source accuracy, weights from a domain classifier (Sugiyama et al. 2007)",
    "dev": "minus the deep-embedded-validation risk: weighted held-out cross-entropy with a control variate "
           "(You et al. 2019)",
    "entropy": "minus the mean entropy of the target predictions (Morerio et al. 2018)",
    "snd": "soft neighbourhood density of the target predictions (Saito et al. 2021)",
    "reverse": "reverse validation: a model trained on the target's pseudo-labels, scored on held-out source "
               "rows (Bruzzone and Marconcini 2010)",
    "mixval": "MixVal: accuracy on mixed target probes against the heavier partner's pseudo-label "
              "(Hu et al. 2023)",
}
ORACLE = "oracle"
#: What ``select="default"`` (``featx compare --select`` without a value) runs: reverse validation
#: trailed the oracle least on every measured set (Office-Caltech10 SURF, MNIST <-> USPS pixels,
#: Lite0 embeddings of digit images; ``pipelines/select_validators.py``).
DEFAULT_VALIDATOR = "reverse"
_FOLDED = ("source-cv", "iwcv", "dev")  # share the held-out source fits
_ON_TARGET = ("entropy", "snd", "mixval")  # share the fit on every row


@dataclass(frozen=True)
class Validator:
    """One validator: its name and what it scores (higher is better for every one)."""

    name: str
    description: str


def list_validators() -> dict[str, str]:
    """Validator names and what each one scores (:data:`VALIDATORS`), as the other registries
    list theirs.

    Examples
    --------
    >>> list(list_validators())[:2]
    ['source-cv', 'iwcv']
    """
    return dict(VALIDATORS)


def get_validator(name: str) -> Validator:
    """Validator ``name`` as an entry with its description.

    Raises
    ------
    ValueError
        If ``name`` is not a validator of :data:`VALIDATORS`.
    """
    if name not in VALIDATORS:
        raise ValueError(f"Unknown validator {name!r}; expected one of {list(VALIDATORS)}.")
    return Validator(name, VALIDATORS[name])


def check_validators(validators) -> list[str]:
    """``"all"``, ``"default"`` (:data:`DEFAULT_VALIDATOR`), a comma-separated string or a list ->
    validator names in registry order."""
    if validators in ("all", None):
        return list(VALIDATORS)
    if validators == "default":
        return [DEFAULT_VALIDATOR]
    names = [v.strip() for v in validators.split(",")] if isinstance(validators, str) else list(validators)
    unknown = [v for v in names if v not in VALIDATORS]
    if unknown or not names:
        raise ValueError(f"Unknown validators {unknown or names}; expected some of {list(VALIDATORS)}, 'default' "
                         "or 'all' (the oracle is always reported beside them).")
    return [v for v in VALIDATORS if v in names]


@dataclass
class Selection:
    """What :func:`select` measured on one grid.

    Attributes
    ----------
    configs : list of dict
        The grid's points, in order.
    scores : dict of str to ndarray
        Validator -> its score of every configuration (higher is better; NaN where the
        validator does not apply, e.g. probabilities a model lacks, entropy of hard (0/1)
        probabilities, or a single row per class).
    accuracy : ndarray or None
        Target accuracy of every configuration refitted on all rows (only with ``y_target``).
    picks : dict of str to int or None
        Validator (and ``"oracle"``) -> index of the configuration it picks.
    seconds : dict of str to float
        Validator -> seconds of the fits it needed (fits shared by several validators are
        counted for each).
    errors : dict of int to str
        Configuration index -> the error its fit raised (e.g. more subspace dimensions than the
        data has); such a configuration scores NaN everywhere and is never picked.
    """

    configs: list
    scores: dict = field(default_factory=dict)
    accuracy: np.ndarray | None = None
    picks: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)

    def picked(self, validator: str) -> dict | None:
        """The configuration ``validator`` picks (``None`` when it scored none)."""
        i = self.picks.get(validator)
        return None if i is None else self.configs[i]

    def gap(self, validator: str) -> float:
        """Oracle accuracy minus the accuracy of ``validator``'s pick (NaN without either)."""
        if self.accuracy is None or self.picks.get(validator) is None or self.picks.get(ORACLE) is None:
            return float("nan")
        return float(self.accuracy[self.picks[ORACLE]] - self.accuracy[self.picks[validator]])


def select(build, grid, X, y, sample_domain, *, validators="all", y_target=None, test=None, n_splits=3,
           alpha=0.55, features=None, mix=None, random_state=0) -> Selection:
    """Score every configuration of ``grid`` with every validator, without target labels.

    For each configuration, ``build(params)`` makes an unfitted domain-aware classifier
    (``fit(X, y, sample_domain=...)``, ``predict(X, sample_domain=...)``; ``predict_proba`` for
    the validators that need probabilities). The labelled source rows are split into
    ``n_splits`` stratified folds (fewer when a class has fewer rows; none with one row per
    class): a fit on the other folds and every target row scores the held-out fold
    (``source-cv``, ``iwcv``, ``dev``) and, trained again on its own target pseudo-labels,
    the held-out fold once more (``reverse``); one fit on every row scores the target
    predictions (``entropy``, ``snd``, ``mixval``). ``y_target``, when given, is read only to
    compute each configuration's target accuracy: the oracle and the gaps.

    Parameters
    ----------
    build : callable
        ``params -> estimator``.
    grid : list of dict
        The configurations.
    X : array-like of shape (n, d)
        The rows the models see. Anything a model accepts and that integer arrays index
        works (e.g. row ids of images for fine-tuning) when ``features`` and ``mix`` are given.
    y : array-like of shape (n,)
        Source labels; ``-1`` for target rows (unlabelled, skada's convention).
    sample_domain : array-like of shape (n,)
        Source ``>= 0``, target ``< 0``.
    validators : "all", str or list of str, default="all"
        Names from :data:`VALIDATORS`.
    y_target : array-like of shape (n_target,), optional
        Labels of the target rows in their order, for the oracle only.
    test : tuple (X_test, y_test), optional
        Score the oracle on these rows instead (predicted as the target domain), e.g. a
        labelled test split of the target; for the oracle only, like ``y_target``.
    n_splits : int, default=3
    alpha : float, default=0.55
        MixVal's mixing weight (the paper's).
    features : array-like of shape (n, d), optional
        What the domain classifier of ``iwcv`` and ``dev`` sees (default ``X``): e.g. the
        frozen embeddings of images whose model is fine-tuned.
    mix : callable, optional
        ``mix(X_a, X_b, alpha)`` -> MixVal's probes; default ``alpha * X_a + (1 - alpha) * X_b``
        (pixels or features mixed alike).
    random_state : int, default=0
        Folds, the domain classifier and MixVal's partners.

    Returns
    -------
    Selection

    Raises
    ------
    ValueError
        If the grid is empty, there is no labelled source row or no target row, a validator is
        unknown, or ``y_target`` does not match the target rows.
    """
    from sklearn.model_selection import StratifiedKFold

    names = check_validators(validators)
    configs = [dict(c) for c in grid]
    if not configs:
        raise ValueError("The grid is empty; expected at least one configuration (e.g. [{}]).")
    X = np.asarray(X)
    y = np.asarray(y)
    sd = check_sample_domain(X, y, sample_domain)
    source, target = np.flatnonzero((sd >= 0) & (y >= 0)), np.flatnonzero(sd < 0)
    if not len(source) or not len(target):
        raise ValueError(f"select needs labelled source rows and target rows; got {len(source)} and {len(target)}.")
    if (y[target] != MASKED_LABEL).any():
        raise ValueError("Target rows must be unlabelled (y == -1): their labels go to y_target, for the oracle only.")
    if y_target is not None and len(y_target) != len(target):
        raise ValueError(f"y_target must label the {len(target)} target rows; got {len(y_target)} labels.")
    if y_target is not None and test is not None:
        raise ValueError("Give the oracle's labels either as y_target (the target rows) or as test=(X, y); got both.")
    _, counts = np.unique(y[source], return_counts=True)
    k = min(int(n_splits), int(counts.min()))
    folds = list(StratifiedKFold(k, shuffle=True, random_state=random_state).split(source, y[source])) if k >= 2 \
        else []
    F = X if features is None else np.asarray(features)
    if len(F) != len(X):
        raise ValueError(f"features must have one row per row of X ({len(X)}); got {len(F)}.")
    weights = [_weights(F, source[tr], source[va], target, random_state) for tr, va in folds] \
        if {"iwcv", "dev"} & set(names) else [None] * len(folds)
    rng = np.random.default_rng(random_state)
    perm, alpha = mixup_pairs(len(target), alpha, rng)
    mix = _interpolate if mix is None else mix

    scored = y_target is not None or test is not None
    out = Selection(configs, scores={v: np.full(len(configs), np.nan) for v in names},
                    accuracy=np.full(len(configs), np.nan) if scored else None)
    seconds = {v: 0.0 for v in [*VALIDATORS, ORACLE]}
    for c, params in enumerate(configs):
        try:
            _score_configuration(out, c, build, params, X, y, sd, source, target, folds, weights, names,
                                 (perm, alpha, mix), y_target, test, seconds)
        except (ValueError, np.linalg.LinAlgError) as exc:  # an infeasible point of the grid, not the whole grid
            out.errors[c] = f"{type(exc).__name__}: {exc}"
            for v in names:
                out.scores[v][c] = np.nan
            if out.accuracy is not None:
                out.accuracy[c] = np.nan
    out.seconds = {v: seconds[v] for v in [*names, ORACLE] if v != ORACLE or scored}
    out.picks = {v: _argmax(s) for v, s in out.scores.items()}
    if out.accuracy is not None:
        out.picks[ORACLE] = _argmax(out.accuracy)
    return out


def _score_configuration(out, c, build, params, X, y, sd, source, target, folds, weights, names, mixing, y_target,
                         test, seconds) -> None:
    """Fill configuration ``c``'s scores (and target accuracy) in ``out``."""
    perm, alpha, mix = mixing
    if folds and (set(_FOLDED) | {"reverse"}) & set(names):
        folded, took = _folded_scores(build, params, X, y, sd, source, target, folds, weights, names)
        for v, value in folded.items():
            out.scores[v][c] = value
        for v, t in took.items():
            seconds[v] += t
    start = time.perf_counter()
    model = build(params).fit(X, y, sample_domain=sd)
    pred = model.predict(X[target], sample_domain=sd[target])
    took = time.perf_counter() - start
    for v in [*_ON_TARGET, ORACLE]:
        seconds[v] += took
    proba = model.predict_proba(X[target], sample_domain=sd[target]) if hasattr(model, "predict_proba") else None
    if "entropy" in names and proba is not None and not _one_hot(proba):  # hard predictions: no information
        out.scores["entropy"][c] = -prediction_entropy(proba)
    if "snd" in names and proba is not None:
        out.scores["snd"][c] = soft_neighbourhood_density(proba)
    if "mixval" in names:
        probes = mix(X[target], X[target][perm], alpha)
        out.scores["mixval"][c] = mixval_score(pred, perm, alpha, model.predict(probes, sample_domain=sd[target]))
    if y_target is not None:
        out.accuracy[c] = accuracy(np.asarray(y_target), np.asarray(pred))
    elif test is not None:
        out.accuracy[c] = accuracy(np.asarray(test[1]), np.asarray(model.predict(test[0])))


def _interpolate(a, b, alpha):
    return alpha * a + (1 - alpha) * b


def _one_hot(proba) -> bool:
    return bool(np.isin(np.asarray(proba), (0.0, 1.0)).all())


def _argmax(values) -> int | None:
    values = np.asarray(values, dtype=np.float64)
    return None if np.isnan(values).all() else int(np.nanargmax(values))  # ties: the first configuration


def _weights(X, train, val, target, random_state) -> np.ndarray:
    """Importance weights of rows ``val`` from a logistic-regression domain classifier trained
    on source rows ``train`` against the target rows (standardised features)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    Z = np.vstack([X[train], X[target]])
    d = np.r_[np.zeros(len(train)), np.ones(len(target))]
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=0.1, random_state=random_state))
    clf.fit(Z, d)
    return domain_density_ratio(clf.predict_proba(X[val])[:, 1], len(train), len(target))


def _folded_scores(build, params, X, y, sd, source, target, folds, weights, names):
    """Mean over folds of the held-out-source validators and of reverse validation."""
    values = {v: [] for v in names if v in _FOLDED or v == "reverse"}
    took = {v: 0.0 for v in values}
    for (tr, va), w in zip(folds, weights):
        train, held = source[tr], source[va]
        rows = np.r_[train, target]
        start = time.perf_counter()
        model = build(params).fit(X[rows], y[rows], sample_domain=sd[rows])
        elapsed = time.perf_counter() - start
        for v in _FOLDED:
            if v in values:
                took[v] += elapsed
        truth = y[held]
        if "source-cv" in values or "iwcv" in values:
            correct = model.predict(X[held], sample_domain=sd[held]) == truth
            if "source-cv" in values:
                values["source-cv"].append(correct.mean())
            if "iwcv" in values:
                values["iwcv"].append(importance_weighted_accuracy(correct, w))
        if "dev" in values and hasattr(model, "predict_proba"):
            proba = model.predict_proba(X[held], sample_domain=sd[held])
            column = {c: i for i, c in enumerate(model.classes_)}
            values["dev"].append(-deep_embedded_validation_risk(
                cross_entropy(proba, np.array([column[t] for t in truth])), w))
        if "reverse" in values:
            start = time.perf_counter()
            values["reverse"].append(_reverse(build, params, model, X, sd, train, held, target, truth))
            took["reverse"] += time.perf_counter() - start + elapsed
    return {v: float(np.mean(s)) if s else float("nan") for v, s in values.items()}, took


def _reverse(build, params, forward, X, sd, train, held, target, truth) -> float:
    """Train the same configuration with the target as its labelled source (the forward
    model's pseudo-labels) and the training source rows as its unlabelled target; score the
    held-out source rows (scaled as that target)."""
    pseudo = forward.predict(X[target], sample_domain=sd[target])
    if len(np.unique(pseudo)) < 2:
        return float(np.mean(pseudo[0] == truth))  # one pseudo-class: the backward model can only predict it
    rows = np.r_[target, train]
    y_back = np.r_[pseudo, np.full(len(train), MASKED_LABEL)]
    sd_back = np.r_[np.full(len(target), DEFAULT_SOURCE), np.full(len(train), DEFAULT_TARGET)].astype(np.int64)
    try:
        backward = build(params).fit(X[rows], y_back, sample_domain=sd_back)
    except ValueError:  # e.g. a pseudo-class with too few rows for the head's inner CV
        return float("nan")
    return float(np.mean(backward.predict(X[held], sample_domain=np.full(len(held), DEFAULT_TARGET)) == truth))
