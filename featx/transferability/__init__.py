"""Which backbone, which layer: transferability scores from frozen features and labels.

The scores (:mod:`featx.transferability._scores`) are numpy and scikit-learn only; :func:`rank`
extracts (or reads from the cache) every candidate's features and scores each layer.
"""

from featx.transferability._rank import Ranking, layer_slices, rank, score_features, source_head
from featx.transferability._registry import GAP, SCORES, Score, check_scores, get_score, list_scores
from featx.transferability._scores import gbc, h_score, knn_accuracy, leep, logme, nce, nleep

__all__ = [
    "GAP",
    "SCORES",
    "Ranking",
    "Score",
    "check_scores",
    "gbc",
    "get_score",
    "h_score",
    "knn_accuracy",
    "layer_slices",
    "leep",
    "list_scores",
    "logme",
    "nce",
    "nleep",
    "rank",
    "score_features",
    "source_head",
]
