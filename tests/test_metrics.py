import numpy as np
import pytest

from featx.metrics import accuracy, top_k_accuracy


def test_accuracy_scores_labelled_rows_only():
    assert accuracy([0, 1, 1, -1], [0, 1, 0, 1]) == pytest.approx(2 / 3)
    assert np.isnan(accuracy([-1, -1], [0, 1]))
    # relabelling the unlabelled rows' predictions changes nothing
    assert accuracy([2, -1, 0], [2, 0, 1]) == accuracy([2, -1, 0], [2, 2, 1]) == 0.5


def test_accuracy_needs_matching_shapes():
    with pytest.raises(ValueError, match=r"same shape; got \(3,\) and \(2,\)"):
        accuracy([0, 1, 2], [0, 1])


def test_top_k_accuracy_matches_the_definition():
    rng = np.random.default_rng(0)
    scores, y = rng.normal(size=(50, 6)), rng.integers(0, 6, 50)
    assert top_k_accuracy(scores, y, 1) == accuracy(y, scores.argmax(1))
    ranks = (scores > scores[np.arange(50), y][:, None]).sum(1)  # classes scored above the truth
    for k in (1, 3, 6):
        assert top_k_accuracy(scores, y, k) == np.mean(ranks < k)
    assert top_k_accuracy(scores, y, 99) == 1.0  # capped at the number of classes


def test_top_k_accuracy_checks_its_inputs():
    with pytest.raises(ValueError, match=r"k must be a positive int; got 0"):
        top_k_accuracy([[0.1, 0.9]], [1], 0)
    with pytest.raises(ValueError, match=r"scores must be \(n, n_classes\) with n = len\(y_true\) = 2; got \(1, 2\)"):
        top_k_accuracy([[0.1, 0.9]], [1, 0], 1)
