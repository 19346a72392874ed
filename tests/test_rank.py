"""Transferability scores: their formulas against direct computations, their properties, and
``featx rank`` on the cache."""

import json

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import softmax as _softmax

from featx.features import FeatureSet
from featx.transferability import (GAP, SCORES, Ranking, check_scores, gbc, h_score, knn_accuracy, layer_slices, leep,
                                   logme,
                        nce, nleep, score_features)
from tests.conftest import make_images


def _blobs(sep, n=240, d=12, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    X = rng.normal(size=(n, d))
    X[:, :k] += sep * np.eye(k)[y]
    return X, y


def _evidence(log_ab, X, t):
    """The LogME evidence per sample, written out with dense matrices."""
    a, b = np.exp(log_ab)
    n, d = X.shape
    A = a * np.eye(d) + b * X.T @ X
    m = b * np.linalg.solve(A, X.T @ t)
    ll = (n * np.log(b) + d * np.log(a) - n * np.log(2 * np.pi) - b * np.sum((X @ m - t) ** 2) - a * m @ m
          - np.linalg.slogdet(A)[1]) / 2
    return ll / n


@pytest.mark.parametrize("n, d", [(60, 8), (15, 30)])
def test_logme_is_the_maximum_evidence(n, d):
    X, y = _blobs(1.5, n=n, d=d, k=2, seed=1)
    best = []
    for c in range(2):
        t = (y == c).astype(float)
        res = minimize(lambda p: -_evidence(p, X, t), x0=[0.0, 0.0], method="Nelder-Mead",
                       options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000})
        best.append(-res.fun)
    assert logme(X, y) == pytest.approx(np.mean(best), abs=1e-4)


def test_leep_matches_its_definition_and_is_zero_for_a_perfect_relabelling():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 50)
    P = _softmax(rng.normal(size=(50, 5)), axis=1)
    joint = np.array([[P[y == c, z].sum() / 50 for z in range(5)] for c in range(3)])
    cond = joint / joint.sum(0)
    direct = np.mean([np.log(sum(cond[y[i], z] * P[i, z] for z in range(5))) for i in range(50)])
    assert leep(P, y) == pytest.approx(direct, rel=1e-12)
    z = (y * 2 + 1) % 5  # each source class stands for one target class
    assert leep(np.eye(5)[z], y) == pytest.approx(0.0, abs=1e-12)


def test_nce_is_minus_the_conditional_entropy():
    y = np.array([0, 0, 1, 1, 2, 2, 2, 0])
    assert nce(y + 10, y) == pytest.approx(0.0)
    p = np.bincount(y) / len(y)
    assert nce(np.zeros_like(y), y) == pytest.approx(np.sum(p * np.log(p)))


def test_h_score_with_and_without_shrinkage():
    X, y = _blobs(2.0, n=120, d=6)
    Xc = X - X.mean(0)
    g = np.stack([Xc[y == c].mean(0) for c in range(3)])[y]
    direct = np.trace(np.linalg.pinv(np.cov(Xc, rowvar=False, bias=True)) @ (g.T @ g / len(g)))
    assert h_score(X, y, shrinkage=None) == pytest.approx(direct, rel=1e-9)
    assert h_score(X, y, shrinkage=0.0) == pytest.approx(direct, rel=1e-9)
    emp = np.cov(Xc, rowvar=False, bias=True)  # full shrinkage: the inverse of a scaled identity
    assert h_score(X, y, shrinkage=1.0) == pytest.approx(np.trace(g.T @ g / len(g)) / (np.trace(emp) / 6), rel=1e-9)
    assert 0 < h_score(X, y) < np.inf
    with pytest.raises(ValueError, match="shrinkage must be 'ledoit-wolf', a number in"):
        h_score(X, y, shrinkage=2.0)


def test_gbc_is_zero_for_separate_classes_and_minus_two_per_pair_for_identical_ones():
    X, y = _blobs(200.0, d=4, k=2)
    assert gbc(X, y) > -1e-6
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(4000, 3))
    assert gbc(Z, np.arange(4000) % 2) == pytest.approx(-2.0, abs=0.01)


def test_knn_accuracy_leaves_each_row_out():
    X = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1], [1, 0.05]], float)
    assert knn_accuracy(X, [0, 0, 1, 1, 0], n_neighbors=1) == 1.0
    assert knn_accuracy(X, [0, 1, 0, 1, 0], n_neighbors=1) < 0.5


def test_every_feature_score_rises_with_class_separation():
    for name, score in SCORES.items():
        if score.needs != "features":
            continue
        values = [score(*_blobs(sep)) for sep in (0.0, 1.0, 3.0)]
        assert values[0] < values[1] < values[2], (name, values)
    rng = np.random.default_rng(0)
    y = np.arange(300) % 3
    noisy = [leep(_softmax(rng.normal(size=(300, 6)) + s * np.eye(6)[y * 2], axis=1), y) for s in (0.0, 2.0, 6.0)]
    assert noisy[0] < noisy[1] < noisy[2]


def test_nleep_is_seeded():
    X, y = _blobs(1.0)
    assert nleep(X, y, random_state=3) == nleep(X, y, random_state=3)


def test_score_input_errors():
    X, y = _blobs(1.0, n=30)
    with pytest.raises(ValueError,
                       match=r"expected X of shape \(n, d\) and y of shape \(n,\); got \(30, 12\) and \(29,\)"):
        logme(X, y[:-1])
    with pytest.raises(ValueError, match="X holds NaN or infinite values"):
        logme(np.where(np.eye(30, 12) > 0, np.nan, X), y)
    with pytest.raises(ValueError, match="at least 2 classes; got 1"):
        h_score(X, np.zeros(30))
    with pytest.raises(ValueError, match="probs must be rows of class probabilities"):
        leep(np.ones((30, 4)), y)
    with pytest.raises(ValueError, match="source_labels and y of the same shape"):
        nce(np.zeros(4), np.zeros(5))
    with pytest.raises(ValueError, match=r"Unknown transferability score\(s\) \['nope'\]"):
        check_scores("logme,nope")
    assert check_scores(None) == list(SCORES) == check_scores("all")
    assert check_scores("knn, logme,knn") == ["knn", "logme"]


def _layered(X, y, layers, path="f.h5"):
    n = len(y)
    return FeatureSet(X.astype(np.float32), np.asarray(y), np.array([f"r{i}" for i in range(n)]),
                      np.array(["d"] * n), ("a", "b", "c"),
                      metadata={"path": path, "backbone": {"name": "bb", "layers": [n_ for n_, _ in layers],
                                                           "layer_dims": [w for _, w in layers]}})


def test_score_features_scores_each_layer_on_its_columns():
    X_good, y = _blobs(3.0, d=6)
    X_noise = np.random.default_rng(5).normal(size=(len(y), 6))
    fs = _layered(np.hstack([X_noise, X_good]), y, [("early", 6), ("pooled", 6)])
    head = (np.eye(3, 6) * 4.0, np.zeros(3))  # a "source classifier" reading the pooled block
    target = _layered(np.hstack([X_noise, X_good + 1.0]), -np.ones(len(y), int), [("early", 6), ("pooled", 6)])
    ranking = score_features(fs, head=head, target=target)
    assert ranking.candidates() == [("bb", "early"), ("bb", "pooled")]
    for s in ("logme", "knn", "h-score", "gbc", "nleep"):
        assert ranking.best(s) == ("bb", "pooled")
        assert ranking.value("bb", "early", s) == SCORES[s](X_noise.astype(np.float32), y)
    assert {r["score"] for r in ranking.records if r["layer"] == "early"} == {*SCORES, GAP} - {"leep", "nce"}
    assert {(r["layer"], r["score"]) for r in ranking.skipped} == {("early", "leep"), ("early", "nce")}
    assert ranking.value("bb", "pooled", "leep") > -1.1 and ranking.scores()[-1] == GAP
    assert all(r["cache_file"] == "f.h5" for r in ranking.records)
    assert "pooled" in ranking.table() and "*" in ranking.table()
    bare = score_features(FeatureSet(X_good, y, fs.ids, fs.domains, fs.classes), ["logme"])
    assert bare.candidates() == [("?", "pooled")]
    assert np.isnan(ranking.value("bb", "early", "nope"))


def test_score_features_errors():
    X, y = _blobs(1.0, d=4)
    fs = _layered(X, y, [("a", 2), ("b", 2)])
    with pytest.raises(ValueError, match="labelled rows of at least 2 classes; got 0 labelled rows"):
        score_features(_layered(X, -np.ones(len(y), int), [("a", 2), ("b", 2)]))
    with pytest.raises(ValueError,
                       match=r"The layers \[\('a', 2\), \('b', 3\)\] add up to 5 columns; the features have 4"):
        layer_slices(_layered(X, y, [("a", 2), ("b", 3)]))
    with pytest.raises(ValueError, match=r"The target features hold no layer 'b'; they hold \['a'\]"):
        score_features(fs, ["logme"], target=_layered(X[:, :2], y, [("a", 2)]))
    with pytest.raises(ValueError, match=r"No candidate has the score 'leep'; the ranking has \['logme'\]"):
        score_features(fs, ["logme"]).best("leep")


def test_rank_reads_the_cache_and_writes_rank_json(tmp_path, capsys, monkeypatch):
    import torch

    import featx.backbones as backbones
    from featx.cli.main import main
    from featx.transferability import rank

    real = backbones.create_backbone

    def built(name, **kw):  # timm's test_resnet with seeded random weights (no download)
        torch.manual_seed(0)
        return real(name, pretrained=False, **kw)

    monkeypatch.setattr(backbones, "create_backbone", built)
    src = make_images(tmp_path / "src", classes=("a", "b", "c"), per_class=8, seed=1)
    tgt = make_images(tmp_path / "tgt", classes=("a", "b", "c"), per_class=4, seed=2)
    kw = dict(layers=["layer1", "pooled"], cache_dir=tmp_path / "c", num_workers=0, progress=False)
    first = rank(src, "timm:test_resnet", target=tgt, **kw)
    assert [e["n_computed"] for e in first.extractions] == [24, 12]
    assert first.candidates() == [("timm:test_resnet", "layer1"), ("timm:test_resnet", "pooled")]
    assert {r["score"] for r in first.records if r["layer"] == "pooled"} == {*SCORES, GAP}
    assert all(r["target_cache_file"] for r in first.records if r["score"] == GAP)
    with pytest.raises(ValueError, match="at least one backbone"):
        rank(src, [], **kw)
    with pytest.raises(ValueError, match=r"reports layers \['pooled'\]; got layers=\['layer1', 'pooled'\]"):
        rank(src, [built("timm:test_resnet")], **kw)
    path = Ranking(first.records).write(tmp_path / "out")
    records = json.loads(path.read_text())["records"]
    assert {"backbone", "layer", "score", "value", "cache_file"} <= set(records[0])
    code = main(["rank", str(src), "--backbones", "timm:test_resnet", "--layers", "layer1,pooled", "--scores",
                 "logme,knn,leep", "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "cli"),
                 "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and "0 image(s) embedded now" in out and "logme: best timm:test_resnet @" in out
    assert "not scored: 1" in out
    saved = json.loads((tmp_path / "cli" / "rank.json").read_text())
    assert {r["score"] for r in saved["records"]} == {"logme", "knn", "leep"}
    assert saved["skipped"] == [{"backbone": "timm:test_resnet", "layer": "layer1", "score": "leep",
                                 "reason": "the backbone's classifier reads the pooled layer only"}]
    assert {r["value"] for r in saved["records"] if r["score"] == "logme"} == {
        r["value"] for r in first.records if r["score"] == "logme"}


def test_featx_rank_is_the_function_even_after_the_subpackage_is_imported():
    import featx
    import featx.transferability

    assert callable(featx.rank) and featx.rank is featx.transferability.rank


def test_source_head_reads_a_linear_classifier_of_the_pooled_width(tiny_backbone):
    from featx.transferability import source_head

    W, b = source_head(tiny_backbone)
    assert W.shape == (tiny_backbone.model.num_classes, tiny_backbone.pooled_dim) and b.shape == (W.shape[0],)

    class NoHead:
        model, pooled_dim = object(), 4

    assert source_head(NoHead()) is None
