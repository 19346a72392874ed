"""The transferability scores by name: what each needs and what it computes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from featx.transferability import _scores


@dataclass(frozen=True)
class Score:
    """A named transferability score.

    Parameters
    ----------
    name : str
        Registry name (``featx rank --scores``).
    description : str
        One line for listings and reports.
    needs : {"features", "source"}
        ``features``: ``fn(X, y, random_state=...)`` on one layer's columns; ``source``:
        ``fn(probs, y)`` on the backbone's own (ImageNet) classifier outputs, so only the
        pooled layer of a backbone with such a head has it.
    fn : callable
        The pure function of :mod:`featx.transferability._scores`.
    seeded : bool
        ``fn`` takes ``random_state`` (a PCA or a mixture's initialisation).
    """

    name: str
    description: str
    needs: str
    fn: Callable
    seeded: bool = False

    def __call__(self, X, y, *, random_state=0) -> float:
        """The score of ``X`` (features or source probabilities) and labels ``y``."""
        return float(self.fn(X, y, random_state=random_state) if self.seeded else self.fn(X, y))


def _nce_from_probs(probs, y):
    return _scores.nce(probs.argmax(1), y)


SCORES = {s.name: s for s in [
    Score("logme", "LogME: log evidence of a Bayesian linear model (You et al. 2021)", "features", _scores.logme),
    Score("leep", "LEEP: log expected empirical prediction of the backbone's ImageNet head (Nguyen et al. 2020)",
          "source", _scores.leep),
    Score("nleep", "NLEEP: LEEP over a Gaussian mixture of the PCA'd features (Li et al. 2021)", "features",
          _scores.nleep, seeded=True),
    Score("nce", "NCE: negative conditional entropy of labels given the ImageNet head's (Tran et al. 2019)",
          "source", _nce_from_probs),
    Score("h-score", "H-score with Ledoit-Wolf shrinkage (Bao et al. 2019; Ibrahim et al. 2023)", "features",
          _scores.h_score),
    Score("gbc", "GBC: minus the Bhattacharyya overlap of per-class Gaussians (Pandy et al. 2022)", "features",
          _scores.gbc, seeded=True),
    Score("knn", "leave-one-out 5-NN accuracy, cosine (the baseline of Agostinelli et al. 2022)", "features",
          _scores.knn_accuracy),
]}

#: The domain-gap figure reported when an unlabelled target is given (lower: closer domains).
GAP = "a-distance"


def list_scores() -> dict[str, str]:
    """Transferability score names and what each one computes (:data:`SCORES`).

    Examples
    --------
    >>> "logme" in list_scores()
    True
    """
    return {name: score.description for name, score in SCORES.items()}


def get_score(name: str) -> Score:
    """The registry entry of transferability score ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not a score of :data:`SCORES`.
    """
    if name not in SCORES:
        raise ValueError(f"Unknown transferability score {name!r}; expected one of {list(SCORES)}.")
    return SCORES[name]


def check_scores(scores) -> list[str]:
    """Registry names from a list, a comma-separated string, ``"all"`` or ``None`` (all)."""
    if scores is None or scores == "all":
        return list(SCORES)
    if isinstance(scores, str):
        scores = [s.strip() for s in scores.split(",") if s.strip()]
    unknown = [s for s in scores if s not in SCORES]
    if unknown or not scores:
        raise ValueError(f"Unknown transferability score(s) {unknown or scores}; expected some of {list(SCORES)}.")
    return list(dict.fromkeys(scores))
