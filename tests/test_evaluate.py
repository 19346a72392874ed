"""The comparison protocol on tiny backbones and generated images: draws, CIs, no leakage, reports."""

import json

import numpy as np
import pytest

from featx.classify import TunedClassifier
from featx.evaluate import compare, write_report
from featx.protocol import budget_draws, mean_ci, parse_budgets, proxy_a_distance

from .conftest import make_images


def test_budgets_draws_and_ci():
    assert parse_budgets("all,5,1") == [1, 5, "all"]
    for bad in ("0", "x", ""):
        with pytest.raises(ValueError, match="Budgets must be positive ints|at least one budget"):
            parse_budgets(bad)
    y = np.array([0] * 6 + [1] * 3 + [-1] * 2)
    draws = budget_draws(y, 2, repeats=3, random_state=0)
    assert len(draws) == 3 and all(sorted(np.bincount(y[d])) == [2, 2] for d in draws)
    assert [d.tolist() for d in draws] == [d.tolist() for d in budget_draws(y, 2, 3, 0)]
    assert budget_draws(y, "all", 3, 0)[0].tolist() == list(range(9))
    mean, half = mean_ci([0.5, 0.7, 0.6])
    assert mean == pytest.approx(0.6) and half == pytest.approx(4.302653 * 0.1 / np.sqrt(3), rel=1e-5)
    assert np.isnan(mean_ci([0.4])[1])
    rng = np.random.default_rng(0)
    same = proxy_a_distance(rng.normal(size=(200, 3)), rng.normal(size=(200, 3)))
    apart = proxy_a_distance(rng.normal(size=(200, 3)), rng.normal(size=(200, 3)) + 5)
    assert same < 0.5 and apart > 1.9


def test_tuned_classifier_chooses_by_inner_cv_only_when_it_can():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), np.r_[np.zeros(20), np.ones(20)]
    X[y == 1] += 2
    from sklearn.linear_model import LogisticRegression

    clf = TunedClassifier(LogisticRegression(), {"C": [1e-4, 1.0]}).fit(X, y)
    assert clf.best_params_ == {"C": 1.0} and clf.score(X, y) > 0.8
    one_each = TunedClassifier(LogisticRegression(), {"C": [1e-4, 1.0]}).fit(X[[0, 39]], y[[0, 39]])
    assert one_each.best_params_ == {}
    with pytest.raises(ValueError, match="max_splits must be an int >= 2; got 1"):
        TunedClassifier(max_splits=1).fit(X, y)


@pytest.fixture
def domains(tmp_path):
    src = make_images(tmp_path / "source", per_class=6, seed=1)
    tgt = make_images(tmp_path / "target", per_class=5, seed=2)
    return src, tgt


def test_target_labels_only_score(domains, tiny_backbone, tmp_path):
    """Relabelling the target changes the scores but no prediction: its labels reach no fit."""
    from featx.data import InMemoryImages

    src, _ = domains
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (10, 40, 40, 3), dtype=np.uint8)
    truth = ["cat", "dog"] * 5
    kw = dict(backbone=tiny_backbone, budgets=(2, "all"), repeats=2, methods=["logreg", "coral", "easytl"],
              cache_dir=tmp_path / "cache", progress=False)
    first = compare(src, target=InMemoryImages(images, truth, classes=["cat", "dog"]), **kw)
    second = compare(src, target=InMemoryImages(images, ["dog", "cat"] * 5, classes=["cat", "dog"]), **kw)
    for method in ("logreg", "coral", "easytl"):
        t1, p1 = first.predictions[method]
        t2, p2 = second.predictions[method]
        assert t1 != t2 and p1 == p2  # the truth changed, the predictions did not
    assert first.extraction["target"]["rows"] == 10 and first.embedding["before"]["a_distance"] >= 0


def test_compare_records_summary_and_report(domains, tiny_backbone, tmp_path):
    src, _ = domains
    result = compare(src, backbone=tiny_backbone, budgets="1,all", repeats=3, methods=["logreg", "ncm", "knn"],
                     test_fraction=0.25, cache_dir=tmp_path / "cache", progress=False)
    assert {(r["method"], r["budget"]) for r in result.records} == {(m, b) for m in ("logreg", "ncm", "knn")
                                                                    for b in (1, "all")}
    assert sum(r["budget"] == 1 for r in result.records) == 9 and result.info["n_test"] == 4
    one = [s for s in result.summary if s["budget"] == 1 and s["method"] == "ncm"][0]
    assert one["draws"] == 3 and one["n_labelled"] == 2 and not np.isnan(one["ci95"])
    paths = write_report(result, tmp_path / "report")
    for key in ("markdown", "json", "csv", "learning_curve", "methods", "confusion"):
        assert paths[key].exists() and paths[key].stat().st_size > 0
    assert paths["learning_curve"].read_bytes()[:4] == b"\x89PNG"
    data = json.loads(paths["json"].read_text())
    assert len(data["records"]) == 12 and "| ncm | frozen |" in paths["markdown"].read_text()
    with pytest.raises(ValueError, match="need a target domain"):
        compare(src, backbone=tiny_backbone, methods=["coral"], cache_dir=tmp_path / "cache", progress=False)
    with pytest.raises(ValueError, match="Unknown method 'adda'"):
        compare(src, backbone=tiny_backbone, methods=["adda"], cache_dir=tmp_path / "cache", progress=False)
    with pytest.raises(ValueError, match="compare needs at least one labelled source; got an empty list"):
        compare([], backbone=tiny_backbone, methods=["logreg"], cache_dir=tmp_path / "cache", progress=False)
    with pytest.raises(ValueError, match="repeats must be a positive int; got 0"):
        compare(src, backbone=tiny_backbone, repeats=0, cache_dir=tmp_path / "cache", progress=False)
    with pytest.raises(ValueError, match=r"ft_budgets must be some of the budgets \[1, 'all'\]; got \[5\] besides"):
        compare(src, backbone=tiny_backbone, budgets=(1, "all"), ft_budgets="5", cache_dir=tmp_path / "cache",
                progress=False)
    with pytest.raises(ValueError, match=r"ft_repeats must be an int from 1 to repeats=3; got 4"):
        compare(src, backbone=tiny_backbone, repeats=3, ft_repeats=4, cache_dir=tmp_path / "cache", progress=False)


def test_compare_cli(domains, tiny_backbone, tmp_path, capsys, monkeypatch):
    import featx.backbones as backbones
    from featx.cli.main import main

    src, tgt = domains

    monkeypatch.setattr(backbones, "create_backbone", lambda name, **kw: tiny_backbone)
    code = main(["compare", str(src), "--target", str(tgt), "--budgets", "2,all", "--repeats", "2",
                 "--methods", "ncm,coral", "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "r"),
                 "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and "| coral | aligned |" in out and "best at the largest budget" in out
    assert (tmp_path / "r" / "embedding.png").exists()
    code = main(["compare", str(src), "--target", str(tgt), "--budgets", "all", "--repeats", "1", "--methods", "coral",
                 "--select", "source-cv,entropy", "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "s"),
                 "--no-progress"])
    capsys.readouterr()
    assert code == 0 and "| coral | " in (tmp_path / "s" / "report.md").read_text().split("Model selection")[1]
    code = main(["compare", str(src), "--budgets", "0"])
    assert code == 2 and "Budgets must be positive ints" in capsys.readouterr().err


def test_several_sources_are_several_domains_everywhere(domains, tiny_backbone, tmp_path, capsys, monkeypatch):
    """Two source folders: each cached on its own, rows coded 1 and 2, CORAL fits one map per
    source, the CLI takes both, and the report names both."""
    import featx.backbones as backbones
    from featx.cli.main import main
    from featx.evaluate._roles import Extraction  # private: the per-source extraction has no public path

    src, tgt = domains
    second = make_images(tmp_path / "second", per_class=4, seed=5)
    source, fs, info = Extraction(tiny_backbone, tmp_path / "cache", "cpu", False).sources([src, second])
    assert source.domain_names == ["source", "second"] and len(source) == len(fs) == 20
    assert sorted(set(fs.domains)) == ["second", "source"] and info["rows"] == 20 and "; " in info["cache_file"]
    assert source.load(19).size and source.ids[12].startswith("second/")
    result = compare([src, second], target=tgt, backbone=tiny_backbone, budgets="all", repeats=1,
                     methods=["coral", "ot"], cache_dir=tmp_path / "cache", progress=False)
    assert result.info["roles"]["train"] == f"{src} + {second}"
    assert {r["method"] for r in result.records} == {"coral", "ot"} and not result.failures
    monkeypatch.setattr(backbones, "create_backbone", lambda name, **kw: tiny_backbone)
    code = main(["compare", str(src), str(second), "--target", str(tgt), "--budgets", "all", "--repeats", "1",
                 "--methods", "coral", "--cache-dir", str(tmp_path / "cache"), "--no-progress",
                 "--out", str(tmp_path / "r")])
    assert code == 0 and "| coral | aligned |" in capsys.readouterr().out


def test_concat_source_refuses_what_it_cannot_stack(tmp_path):
    from featx.data import ConcatSource, ImageFolder

    a = ImageFolder(make_images(tmp_path / "a", per_class=2))
    b = ImageFolder(make_images(tmp_path / "b", classes=("cat", "cow"), per_class=2))
    with pytest.raises(ValueError, match="ConcatSource needs at least one source; got none"):
        ConcatSource([])
    with pytest.raises(ValueError, match=r"must share their classes; got \['cat', 'cow'\] and \['cat', 'dog'\]"):
        ConcatSource([a, b])
    with pytest.raises(ValueError, match=r"one distinct domain name per source \(2\); got \['x', 'x'\]"):
        ConcatSource([a, a], domains=["x", "x"])
    assert ConcatSource([a, a]).domain_names == ["a-1", "a-2"]


def test_finished_fits_are_reused_and_a_cut_log_line_is_refitted(domains, tiny_backbone, tmp_path):
    src, _ = domains
    kw = dict(backbone=tiny_backbone, budgets="1,all", repeats=2, methods=["logreg", "ncm"], test_fraction=0.25,
              cache_dir=tmp_path / "cache", progress=False)
    first = compare(src, **kw)
    logs = list((tmp_path / "cache" / "compare").glob("*.jsonl"))
    assert len(logs) == 1 and len(logs[0].read_text().splitlines()) == 6
    again = compare(src, **kw)
    assert all(r["reused"] for r in again.records) and not any(r["reused"] for r in first.records)
    assert [r["accuracy"] for r in again.records] == [r["accuracy"] for r in first.records]
    assert again.predictions == first.predictions
    # a crash in the middle of writing the last line: that one fit runs again, the rest are read
    text = logs[0].read_text()
    logs[0].write_text(text[: len(text) - 40])
    resumed = compare(src, **kw)
    assert sum(not r["reused"] for r in resumed.records) == 1
    assert [r["accuracy"] for r in resumed.records] == [r["accuracy"] for r in first.records]
    assert len(compare(src, **kw).records) == 6 and all(r["reused"] for r in compare(src, **kw).records)
    fresh = compare(src, **{**kw, "repeats": 3}, reuse=False)
    assert not any(r["reused"] for r in fresh.records)
    assert "6 of 6 fits were read" in write_report(again, tmp_path / "r")["markdown"].read_text()


@pytest.mark.slow
def test_demo_cli(tiny_backbone, tmp_path, capsys, monkeypatch):
    import featx.backbones as backbones
    from featx.cli.main import main

    monkeypatch.setattr(backbones, "create_backbone", lambda name, **kw: tiny_backbone)
    args = ["demo", "--n-samples", "40", "--budgets", "3,all", "--repeats", "2", "--ft-budgets", "3", "--ft-epochs",
            "1",
            "--jobs", "1",
            "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "demo"), "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "| jda | aligned |" in out and "features read from the cache for: none" in out
    # the main question: fine-tuning beside the frozen heads, at --ft-budgets only
    lp_ft = next(line for line in out.splitlines() if line.startswith("| lp-ft | finetuned |"))
    assert lp_ft.count(" - ") == 1 and "ft-last" in out, lp_ft
    assert "Fine-tuning ran at budgets [3] only" in (tmp_path / "demo" / "report.md").read_text()
    assert (tmp_path / "demo" / "embedding.png").exists() and (tmp_path / "demo" / "report.md").exists()
    assert main(args) == 0 and "features read from the cache for: train, target" in capsys.readouterr().out
    assert "fits were read from an earlier run" in (tmp_path / "demo" / "report.md").read_text()
    assert main(args + ["--fresh"]) == 0 and "fits were read" not in (tmp_path / "demo" / "report.md").read_text()
    assert main(args[:2] + ["0"]) == 2 and "n_samples must be between 1 and 1797" in capsys.readouterr().err
    assert main(args[:5] + ["--ft-budgets",
                            "10"]) == 2 and "ft_budgets must be some of the budgets" in capsys.readouterr().err


def test_compare_features_on_given_features(tmp_path):
    from featx.evaluate import compare_features
    from featx.features import FeatureSet

    rng = np.random.default_rng(0)

    def domain(name, shift, n=60):
        y = np.arange(n) % 3
        X = rng.normal(size=(n, 6)) + 3.0 * np.eye(6)[y] + shift
        return FeatureSet(X=X.astype(np.float32), y=y, ids=np.array([f"{name}/{i}" for i in range(n)]),
                          domains=np.full(n, name), classes=("a", "b", "c"))

    src, tgt = domain("src", 0.0), domain("tgt", 4.0 * np.eye(6)[0])  # target rows look like class a
    kw = dict(target=tgt, budgets="2,all", repeats=3, methods=["ncm", "coral"], progress=False)
    result = compare_features(src, log_dir=tmp_path / "log", **kw)
    acc = {s["method"]: s["accuracy"] for s in result.summary if s["budget"] == "all"}
    unscaled = compare_features(src, **{**kw, "methods": ["ncm"]}, scale="none").summary[-1]
    assert unscaled["method"] == "ncm" and unscaled["budget"] == "all"
    assert acc["ncm"] > unscaled["accuracy"] + 0.3  # a pure mean shift: per-domain standardisation undoes it
    assert result.info["roles"] == {"train": "src", "test": None, "target": "tgt"}
    view = result.embedding
    assert view["after z-score + CORAL"]["a_distance"] < view["before"]["a_distance"] - 0.5
    assert all(r["reused"] for r in compare_features(src, log_dir=tmp_path / "log", **kw).records)
    assert not any(r["reused"] for r in compare_features(src, **kw).records)  # no log_dir: nothing kept
    with pytest.raises(ValueError, match="Fine-tuning methods \\['lp-ft'\\] need images"):
        compare_features(src, methods=["lp-ft"])
    with pytest.raises(ValueError, match="carries no labels"):
        compare_features(FeatureSet(X=src.X, y=np.full(60, -1), ids=src.ids, domains=src.domains, classes=src.classes))
