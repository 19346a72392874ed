"""``compare(..., select=...)``: every validator's pick per (method, budget, draw), the oracle
beside them, the report's selection part, and target labels reaching the oracle only."""

import json

import numpy as np
import pytest

from featx import FeatureSet
from featx.data import make_shifted_domains
from featx.evaluate import compare_features, write_report
from featx.select import ORACLE, VALIDATORS


def feature_set(name, X, y):
    n = len(X)
    return FeatureSet(X=X.astype(np.float32), y=y, ids=np.array([f"{name}{i}" for i in range(n)], dtype=object),
                      domains=np.array([name] * n, dtype=object), classes=("a", "b", "c"))


@pytest.fixture
def pair():
    X, y, sd, y_target = make_shifted_domains(90, 120, 8, 3, class_sep=1.0, shift=1.0, rotation=0.6, random_state=0)
    return feature_set("s", X[sd > 0], y[sd > 0]), feature_set("t", X[sd < 0], y_target)


KW = dict(budgets=(5, "all"), repeats=2, methods=["logreg", "coral", "easytl"], progress=False)


def test_every_validator_and_the_oracle_pick_on_every_draw(pair, tmp_path):
    source, target = pair
    result = compare_features(source, target=target, select="all", **KW)
    draws = 2 + 1  # budget 5: 2 draws, 'all': 1
    assert len(result.selection) == 3 * draws * (len(VALIDATORS) + 1)
    for r in result.selection:
        assert {"method", "budget", "draw", "validator", "params", "score", "accuracy"} <= set(r)
    oracle = {(r["method"], r["budget"], r["draw"]): r["accuracy"] for r in result.selection
              if r["validator"] == ORACLE}
    for r in result.selection:
        if np.isfinite(r["accuracy"]):
            assert r["accuracy"] <= oracle[r["method"], r["budget"], r["draw"]] + 1e-12
    paths = write_report(result, tmp_path / "report")
    text = paths["markdown"].read_text()
    assert "## Model selection without target labels" in text and "| coral |" in text
    assert paths["selection"].read_bytes()[:4] == b"\x89PNG"
    data = json.loads(paths["json"].read_text())
    assert len(data["selection"]) == len(result.selection)
    assert {r["validator"] for r in data["selection"]} == {*VALIDATORS, ORACLE}


@pytest.mark.slow
def test_permuting_the_target_labels_moves_only_the_oracle(pair):
    source, target = pair
    a = compare_features(source, target=target, select="all", **KW)
    shuffled = FeatureSet(X=target.X, y=np.random.default_rng(5).permutation(target.y), ids=target.ids,
                          domains=target.domains, classes=target.classes)
    b = compare_features(source, target=shuffled, select="all", **KW)

    def picks(result):
        return [(r["method"], r["budget"], r["draw"], r["validator"], r["params"], r["score"])
                for r in result.selection if r["validator"] != ORACLE]

    assert picks(a) == picks(b)
    assert [r["accuracy"] for r in a.selection] != [r["accuracy"] for r in b.selection]


def test_selection_is_read_back_from_the_task_log(pair, tmp_path, monkeypatch):
    # private: the selection call is patched to prove it does not run again
    import featx.evaluate._selection as selection

    source, target = pair
    first = compare_features(source, target=target, select="source-cv,entropy", log_dir=tmp_path, **KW)
    monkeypatch.setattr(selection, "select", lambda *a, **k: pytest.fail("selection ran again"))
    again = compare_features(source, target=target, select="source-cv,entropy", log_dir=tmp_path, **KW)
    assert [r["params"] for r in again.selection] == [r["params"] for r in first.selection]


def test_select_needs_a_target_and_known_validators(pair):
    source, target = pair
    with pytest.raises(ValueError, match=r"chooses configurations for a target domain"):
        compare_features(source, select="all", budgets=("all",), repeats=1, methods=["logreg"], progress=False)
    with pytest.raises(ValueError, match=r"Unknown validators \['cv'\]; expected some of .*, 'default' or 'all'"):
        compare_features(source, target=target, select="cv", **KW)


def test_the_default_validator_is_reverse_validation_and_bare_select_runs_it():
    from featx.cli.main import build_parser
    from featx.select import DEFAULT_VALIDATOR, check_validators

    assert check_validators("default") == [DEFAULT_VALIDATOR] == ["reverse"]
    parser = build_parser()
    assert parser.parse_args(["compare", "a/", "--target", "b/", "--select"]).select == "default"
    assert parser.parse_args(["compare", "a/", "--target", "b/"]).select is None
    assert parser.parse_args(["compare", "a/", "--select", "iwcv", "--target", "b/"]).select == "iwcv"


@pytest.mark.slow
def test_finetuning_learning_rate_is_selected_on_images_and_target_labels_reach_the_oracle_only(
        tiny_backbone, tmp_path):
    """select_finetune: every validator but reverse picks ft-last's learning rate from the
    registry grid on image rows; permuting the target's labels moves the oracle only."""
    from featx.data import InMemoryImages
    from featx.evaluate import compare
    from featx.methods import selection_grid

    from .conftest import make_images

    src = make_images(tmp_path / "source", per_class=6, seed=1)
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (10, 40, 40, 3), dtype=np.uint8)
    truth = ["cat", "dog"] * 5  # 10 target rows: per-domain z-scoring needs them (MIN_DOMAIN_ROWS)
    kw = dict(backbone=tiny_backbone, budgets=("all",), repeats=1, methods=["logreg", "ft-last"], ft_epochs=1,
              select="source-cv,entropy,mixval,reverse", select_finetune=True, cache_dir=tmp_path / "cache",
              progress=False)
    first = compare(src, target=InMemoryImages(images, truth, classes=["cat", "dog"]), **kw)
    assert not first.failures, first.failures
    ft = {r["validator"]: r for r in first.selection if r["method"] == "ft-last"}
    assert set(ft) == {"source-cv", "entropy", "mixval", "reverse", ORACLE}
    for v in ("source-cv", "entropy", "mixval", ORACLE):
        assert ft[v]["params"] in selection_grid("ft-last") and ft[v]["grid_size"] == 3, v
        assert 0 <= ft[v]["gap"] <= 1 if v != ORACLE else ft[v]["gap"] == 0
    assert ft["reverse"]["params"] is None and "fine-tune on every" in ft["reverse"]["skipped"]
    second = compare(src, target=InMemoryImages(images, truth[::-1], classes=["cat", "dog"]), **kw)
    again = {r["validator"]: r for r in second.selection if r["method"] == "ft-last"}
    for v in ("source-cv", "entropy", "mixval"):
        assert again[v]["params"] == ft[v]["params"] and again[v]["score"] == ft[v]["score"], v
    text = write_report(first, tmp_path / "report")["markdown"].read_text()
    assert "| ft-last |" in text
    with pytest.raises(ValueError, match=r"select_finetune=True .* pass select="):
        compare(src, target=InMemoryImages(images, truth, classes=["cat", "dog"]),
                **{**kw, "select": None})


def test_gap_heatmap_draws_a_matrix_and_checks_its_shape(tmp_path):
    from featx.evaluate import plot_gap_heatmap

    plot_gap_heatmap([[1.5, np.nan]], ["coral"], ["source-cv", "iwcv"], tmp_path / "gaps.png")
    assert (tmp_path / "gaps.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match=r"gaps must have shape \(methods, validators\) = \(1, 2\); got \(2,\)"):
        plot_gap_heatmap([1.5, 2.0], ["coral"], ["source-cv", "iwcv"], tmp_path / "bad.png")
