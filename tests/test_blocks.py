"""Models per layer: BlockEnsemble, the registry's @LAYER / @ensemble names, and compare's layers."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from featx.adapt import CORAL, AdaptThenClassify, BlockEnsemble, block_slices
from featx.features import FeatureSet
from featx.methods import canonical_name, describe, rung_of, make_method, make_selected, parse_method, split_layer

from .conftest import make_images


def two_layer_task(seed=0, n=120):
    """Two classes, source and a shifted target; block A (3 columns) separates the classes,
    block B (5 columns) is noise."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(n // 2), np.ones(n // 2)].astype(int)
    A = rng.normal(size=(n, 3)) + 2.0 * y[:, None]
    B = rng.normal(size=(n, 5))
    Xs = np.hstack([A, B])
    yt = rng.permutation(y)
    Xt = np.hstack([rng.normal(size=(n, 3)) + 2.0 * yt[:, None] + 1.5, 3 * rng.normal(size=(n, 5))])
    X = np.vstack([Xs, Xt])
    return X, np.r_[y, np.full(n, -1)], np.r_[np.ones(n, int), np.full(n, -2)], Xt, yt


def test_block_slices_follow_the_widths_and_refuse_what_does_not_add_up():
    assert block_slices((3, 5), 8) == [slice(0, 3), slice(3, 8)]
    assert block_slices(None, 4) == [slice(0, 4)]
    for bad, match in (((3, 4), "add up to 7 columns; X has 8"), ((3, 0, 5), "positive ints"), ((), "positive ints"),
                       ((True, 7), "positive ints"), ("38", "positive ints"), ((3.0, 5), "positive ints")):
        with pytest.raises(ValueError, match=match):
            block_slices(bad, 8)


def test_each_member_sees_its_block_and_the_probabilities_average():
    X, y, sd, Xt, yt = two_layer_task()
    ens = BlockEnsemble(AdaptThenClassify(CORAL(), LogisticRegression()), blocks=(3, 5)).fit(X, y, sample_domain=sd)
    assert [m.n_features_in_ for m in ens.estimators_] == [3, 5]
    assert [m.adapter_.transform(Xt[:2, s]).shape[1] for m, s in zip(ens.estimators_, ens.slices_)] == [3, 5]
    by_hand = np.mean([m.predict_proba(Xt[:, s]) for m, s in zip(ens.estimators_, ens.slices_)], axis=0)
    np.testing.assert_allclose(ens.predict_proba(Xt), by_hand)
    np.testing.assert_allclose(ens.predict_proba(Xt).sum(axis=1), 1.0)
    assert (ens.predict(Xt) == ens.classes_[by_hand.argmax(axis=1)]).all()
    # the informative block alone beats chance on the shifted target; the noise block does not
    only_a = BlockEnsemble(make_method("coral", tune=False), blocks=(3, 5), use=[0]).fit(X, y, sample_domain=sd)
    alone = make_method("coral", tune=False).fit(X[:, :3], y, sample_domain=sd)
    np.testing.assert_array_equal(only_a.predict(Xt), alone.predict(Xt[:, :3]))
    assert np.mean(only_a.predict(Xt) == yt) > 0.8 and len(only_a.estimators_) == 1


def test_a_plain_classifier_is_a_member_when_no_domain_is_given():
    X, y, sd, Xt, yt = two_layer_task()
    src = sd > 0
    ens = BlockEnsemble(LogisticRegression(), blocks=(3, 5)).fit(X[src], y[src])
    assert np.mean(ens.predict(X[src]) == y[src]) > 0.8 and ens.predict_proba(Xt).shape == (len(Xt), 2)


def test_members_without_probabilities_vote():
    X, y, sd, Xt, _ = two_layer_task()
    ens = BlockEnsemble(AdaptThenClassify(CORAL(), SVC()), blocks=(3, 5)).fit(X, y, sample_domain=sd)
    proba = ens.predict_proba(Xt)
    assert set(np.unique(proba)) <= {0.0, 0.5, 1.0}


def test_use_must_name_distinct_blocks():
    X, y, sd, _, _ = two_layer_task()
    for use in ([2], [0, 0], [], [-1], ["0"], "0"):
        with pytest.raises(ValueError, match=r"use must be distinct block indices in \[0, 2\)"):
            BlockEnsemble(blocks=(3, 5), use=use).fit(X, y, sample_domain=sd)
    with pytest.raises(ValueError, match="add up to 7 columns; X has 8"):
        BlockEnsemble(blocks=(3, 4)).fit(X, y, sample_domain=sd)


def test_layer_names_in_the_registry():
    assert split_layer("coral+1nn@blocks.5") == ("coral+1nn", "blocks.5")
    assert canonical_name("coral+logreg@ensemble") == "coral@ensemble"
    assert canonical_name("none+knn@pooled") == "knn@pooled" and rung_of("mcc@ensemble") == "aligned"
    assert parse_method("coral+selftrain@ensemble") == ("coral", "selftrain")
    assert describe("coral@ensemble") != describe("coral") != describe("coral@pooled")
    assert "averaged" in describe("coral@ensemble") and "on layer pooled only" in describe("coral@pooled")
    layers = [("blocks.5", 3), ("pooled", 5)]
    model = make_method("coral@ensemble", layers=layers)
    assert isinstance(model, BlockEnsemble) and model.blocks == [3, 5] and model.use is None
    assert make_method("coral", head="1nn", layers=layers).__class__.__name__ == "DomainScaled"
    assert make_method("coral@pooled", head="1nn", layers=layers).use == [1]
    assert make_method("mcc@ensemble", layers=layers, sources="pooled").estimator.__class__.__name__ == "PooledSources"
    picked = make_selected("coral@pooled", {"reg": 1.0, "C": 0.1}, layers=layers)
    assert picked.use == [1] and picked.estimator.estimator.adapter.reg == 1.0
    for bad, match in (("ft-last@ensemble", "fine-tunes the whole backbone; it takes no layer"),
                       ("@pooled", "MODEL@LAYER or MODEL@ensemble; got '@pooled'"),
                       ("coral@", "MODEL@LAYER or MODEL@ensemble; got 'coral@'")):
        with pytest.raises(ValueError, match=match):
            parse_method(bad)
    with pytest.raises(ValueError, match=r"Unknown layer 'blocks.6'; the features hold \['blocks.5', 'pooled'\]"):
        make_method("coral@blocks.6", layers=layers)
    with pytest.raises(ValueError, match="@pooled picks columns of the features' layers; pass layers="):
        make_method("coral@pooled")
    with pytest.raises(ValueError, match=r"layers must be \(name, width\) pairs in column order; got \[3, 5\]"):
        make_method("coral@ensemble", layers=[3, 5])


def test_feature_sets_know_their_layers():
    meta = {"backbone": {"layers": ["a", "pooled"], "layer_dims": [3, 5]}}
    fs = FeatureSet(X=np.zeros((2, 8), np.float32), y=np.array([0, 1]), ids=np.array(["x", "y"]),
                    domains=np.array(["d", "d"]), classes=("c0", "c1"), metadata=meta)
    assert fs.layers == [("a", 3), ("pooled", 5)] and fs.subset([0]).layers == fs.layers
    assert FeatureSet.concat([fs, fs]).layers == fs.layers
    assert FeatureSet(fs.X, fs.y, fs.ids, fs.domains, fs.classes).layers is None


def test_compare_runs_models_per_layer(tmp_path):
    """A layered feature set through compare_features: @LAYER, @ensemble and the plain name
    (every column) are three models; a layer the features lack, or features without a layer
    record, stop the comparison before any fit."""
    from featx.evaluate import compare_features

    X, y, sd, _, yt = two_layer_task(seed=1)
    meta = {"backbone": {"layers": ["a", "b"], "layer_dims": [3, 5]}}

    def fs(rows, labels, name):
        ids = np.array([f"{name}{i}" for i in range(len(rows))])
        return FeatureSet(X=X[rows].astype(np.float32), y=labels, ids=ids, domains=np.array([name] * len(rows)),
                          classes=("c0", "c1"), metadata=meta)

    source, target = fs(np.flatnonzero(sd > 0), y[sd > 0], "s"), fs(np.flatnonzero(sd < 0), yt, "t")
    methods = ["coral@a", "coral@b", "coral@ensemble", "coral"]
    result = compare_features(source, target=target, budgets="all", repeats=1, methods=methods, select="snd",
                              progress=False)
    acc = {r["method"]: r["accuracy"] for r in result.records}
    assert set(acc) == set(methods) and not result.failures
    assert acc["coral@a"] > 0.8 and acc["coral@b"] < 0.7  # block b is noise
    assert {r["method"] for r in result.selection} == set(methods)
    with pytest.raises(ValueError, match=r"name layers \['c'\] that the features do not hold; they hold \['a', 'b'\]"):
        compare_features(source, target=target, budgets="all", repeats=1, methods=["coral@c"], progress=False)
    bare = FeatureSet(source.X, source.y, source.ids, source.domains, source.classes)
    with pytest.raises(ValueError, match="pick backbone layers, but the features carry no layer record"):
        compare_features(bare, target=target, budgets="all", repeats=1, methods=["coral@a"], progress=False)


def test_compare_extracts_the_layers_it_is_asked_for(tmp_path, tiny_backbone, capsys, monkeypatch):
    import featx.backbones as backbones
    from featx.backbones import create_backbone
    from featx.cli.main import main
    from featx.evaluate import compare

    src = make_images(tmp_path / "source", per_class=6, seed=1)
    tgt = make_images(tmp_path / "target", per_class=5, seed=2)
    layered = create_backbone("timm:test_resnet", pretrained=False, layers=["layer1", "pooled"])
    result = compare(src, target=tgt, backbone=layered, layers=["layer1", "pooled"], budgets="all",
                     repeats=1, methods=["logreg@layer1", "coral@ensemble"], cache_dir=tmp_path / "c", progress=False)
    assert result.info["layers"] == ["layer1", "pooled"] and not result.failures
    assert {r["method"] for r in result.records} == {"logreg@layer1", "coral@ensemble"}
    with pytest.raises(ValueError, match=r"The backbone given reports layers \['pooled'\]; got layers=\['layer1'\]"):
        compare(src, target=tgt, backbone=tiny_backbone, layers=["layer1"], cache_dir=tmp_path / "c", progress=False)
    seen = {}

    def built(name, **kw):
        seen.update(kw)
        return create_backbone("timm:test_resnet", pretrained=False, layers=kw.get("layers"))

    monkeypatch.setattr(backbones, "create_backbone", built)
    code = main(["compare", str(src), "--target", str(tgt), "--layer", "layer1", "--layer", "pooled", "--budgets",
                 "all", "--repeats", "1", "--methods", "coral@ensemble", "--cache-dir", str(tmp_path / "c"),
                 "--out", str(tmp_path / "r"), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and seen["layers"] == ["layer1", "pooled"] and "| coral@ensemble | aligned |" in out


def test_sweep_layers_names_each_model_once_per_layer():
    from featx.methods import sweep_layers

    assert sweep_layers(["logreg", "coral+1nn", "lp-ft", "mcc@a"], ["a", "b"]) == [
        "logreg@a", "logreg@b", "coral+1nn@a", "coral+1nn@b", "lp-ft", "mcc@a"]
    with pytest.raises(ValueError, match=r"A layer sweep needs the layers' names \(not 'ensemble'\); got \[\]"):
        sweep_layers(["logreg"], [])
    with pytest.raises(ValueError, match="not 'ensemble'"):
        sweep_layers(["logreg"], ["a", "ensemble"])


def test_compare_layer_sweep_fits_each_layer_and_plots_them(tmp_path, capsys, monkeypatch):
    import featx.backbones as backbones
    from featx.backbones import create_backbone
    from featx.cli.main import main

    src = make_images(tmp_path / "source", per_class=6, seed=1)

    def built(name, **kw):
        return create_backbone("timm:test_resnet", pretrained=False, layers=kw.get("layers"))

    monkeypatch.setattr(backbones, "create_backbone", built)
    args = ["compare", str(src), "--budgets", "2,all", "--repeats", "1", "--methods", "logreg,knn",
            "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "r"), "--no-progress", "--jobs", "1"]
    code = main([*args, "--layers", "layer1,pooled"])
    out = capsys.readouterr().out
    assert code == 0
    for m in ("logreg@layer1", "logreg@pooled", "knn@layer1", "knn@pooled"):
        assert f"| {m} | frozen |" in out
    report = (tmp_path / "r" / "report.md").read_text()
    assert "![layers](layers.png)" in report and (tmp_path / "r" / "layers.png").stat().st_size > 1000
    code = main([*args, "--layers", "layer1,pooled", "--layer", "layer1"])
    err = capsys.readouterr().err
    assert code == 2 and "--layers (a sweep) and --layer (side by side) exclude each other" in err
