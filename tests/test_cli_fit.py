"""``featx fit`` / ``featx evaluate`` on cache files written from generated features (no torch)."""

import csv
import json

import numpy as np
import pytest

from featx.domains import scale_per_domain
# private: writes cache files of given features without a backbone
from featx.extract._cache import CacheWriter, create_cache_file
from featx.data import make_shifted_domains

from .conftest import run_cli as run


def write_cache(path, X, y, domains, classes=("a", "b"), attrs=None):
    """A complete featx cache file holding ``X`` (what `featx extract` writes)."""
    ids = [f"img{i:03d}.png" for i in range(len(X))]
    create_cache_file(path, key={"test": str(path)}, key_hash="k", dim=X.shape[1], ids=ids, labels=y,
                      domains=domains, classes=classes, attrs=attrs or {})
    with CacheWriter(path, "k") as w:
        w.write(np.arange(len(X)), X.astype(np.float32))
    return path


def two_domains(n=60, d=8, seed=0):
    """Two classes; the target domain is rescaled and shifted. Every row keeps its label."""
    X, y, sd, y_target = make_shifted_domains(n, n, d, 2, class_sep=2.5, shift=4.0, rotation=0.0, stretch=2.0,
                                              random_state=seed)
    return X, np.r_[y[sd > 0], y_target], np.array(["amazon"] * n + ["webcam"] * n)



@pytest.fixture
def office(tmp_path):
    X, y, domains = two_domains()
    return write_cache(tmp_path / "office.h5", X, y, domains)


def test_fit_by_domain_name_prints_accuracy_and_writes_predictions(capsys, office, tmp_path):
    pred = tmp_path / "out" / "pred.csv"
    code, out, _ = run(capsys, "fit", office, "--source", "amazon", "--target", "webcam",
                       "--method", "coral", "--head", "1nn", "--predictions", pred)
    assert code == 0, out
    assert "source rows: 60, target rows: 60, features: 8" in out
    acc = float(out.split("target accuracy ")[1].split("%")[0])
    assert acc > 80
    rows = list(csv.DictReader(open(pred)))
    assert len(rows) == 60 and rows[0]["domain"] == "webcam" and rows[0]["id"] == "img060.png"
    assert {r["prediction"] for r in rows} == {"a", "b"}


def test_fit_takes_layered_names_on_a_multi_layer_cache(capsys, tmp_path):
    X, y, domains = two_domains()
    layered = write_cache(tmp_path / "layers.h5", X, y, domains,
                          attrs={"backbone": {"layers": ["blocks.5", "pooled"], "layer_dims": [3, 5]}})
    code, out, _ = run(capsys, "fit", layered, "--source", "amazon", "--target", "webcam", "--method", "coral@ensemble",
                       "--head", "1nn")
    assert code == 0 and "coral+1nn@ensemble (scale zscore): target accuracy" in out
    code, out, _ = run(capsys, "fit", layered, "--source", "amazon", "--target", "webcam", "--method",
                       "logreg@blocks.5")
    assert code == 0 and "logreg@blocks.5 (scale zscore)" in out
    code, _, err = run(capsys, "fit", layered, "--source", "amazon", "--target", "webcam", "--method", "coral@conv")
    assert code == 2 and "Unknown layer 'conv'; the features hold ['blocks.5', 'pooled']" in err


def test_fit_with_files_as_domains_and_unlabelled_target(capsys, tmp_path):
    X, y, domains = two_domains()
    src = write_cache(tmp_path / "src.h5", X[:60], y[:60], domains[:60])
    tgt = write_cache(tmp_path / "tgt.h5", X[60:], np.full(60, -1), domains[60:])
    code, out, _ = run(capsys, "fit", "--source", src, "--target", tgt, "--method", "easytl")
    assert code == 0 and "easytl (scale zscore): target accuracy n/a (the target rows carry no labels)" in out
    code, _, err = run(capsys, "evaluate", "--source", src, "--target", tgt)
    assert code == 2 and "needs target rows with labels" in err


def test_evaluate_table_and_json(capsys, office, tmp_path):
    out_json = tmp_path / "r.json"
    code, out, _ = run(capsys, "evaluate", office, "--source", "amazon", "--target", "webcam",
                       "--methods", "none,coral,easytl", "--heads", "logreg,1nn", "--json", out_json)
    assert code == 0
    results = json.loads(out_json.read_text())["results"]
    assert [(r["method"], r["head"]) for r in results] == [
        ("none", "logreg"), ("none", "1nn"), ("coral", "logreg"), ("coral", "1nn"), ("easytl", "-")]
    assert "| coral | 1nn |" in out
    assert all(0 <= r["accuracy"] <= 100 for r in results)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--source", "amazon", "--target", "dslr"],
         "No rows with domain 'dslr' in the given cache files; found domains ['amazon', 'webcam']"),
        (["--source", "amazon", "--target", "amazon"], "Source and target must be different domains; got ['amazon']"),
        (["--source", " , ", "--target", "webcam"],
         "Expected at least one domain name, .h5 file, image folder or manifest"),
        (["--source", "amazon", "--target", "webcam", "--method", "adda"], "Unknown method 'adda'"),
        (["--source", "amazon", "--target", "webcam", "--head", "xgb"], "Unknown head 'xgb'"),
        (["--source", "amazon", "--target", "webcam", "--seed", "1", "--random-state", "2"],
         "got both --seed 1 and --random-state 2"),
    ],
)
def test_fit_errors(capsys, office, argv, message):
    code, _, err = run(capsys, "fit", office, *argv)
    assert code == 2 and message in err


def test_domain_in_several_files_and_unknown_evaluate_names(capsys, office, tmp_path):
    X, y, domains = two_domains(seed=1)
    other = write_cache(tmp_path / "other.h5", X, y, domains)
    code, _, err = run(capsys, "fit", office, other, "--source", "amazon", "--target", "webcam")
    assert code == 2 and "Domain 'amazon' is in several cache files" in err
    code, _, err = run(capsys, "evaluate", office, "--source", "amazon", "--target", "webcam", "--methods", "coral,x")
    assert code == 2 and "Unknown method(s) ['x']" in err
    code, _, err = run(capsys, "evaluate", office, "--source", "amazon", "--target", "webcam", "--heads", ",")
    assert code == 2 and "Unknown head(s) ','" in err


def test_scale_per_domain():
    X, _, domains = two_domains()
    sd = np.where(domains == "amazon", 1, -2)
    Z = scale_per_domain(X, sd, "zscore")
    for d in (1, -2):
        np.testing.assert_allclose(Z[sd == d].mean(0), 0, atol=1e-12)
        np.testing.assert_allclose(Z[sd == d].std(0), 1, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(scale_per_domain(X, sd, "unit"), axis=1), 1)
    np.testing.assert_array_equal(scale_per_domain(X, sd, "none"), X)
    with pytest.raises(ValueError, match="how must be 'zscore', 'unit' or 'none'; got 'l2'"):
        scale_per_domain(X, sd, "l2")


def test_fit_saves_a_model_that_scales_new_target_rows_itself(capsys, office, tmp_path):
    from featx.extract import load_features
    from featx.persist import load_model

    pred, model_path = tmp_path / "pred.csv", tmp_path / "m" / "coral.skops"
    code, out, _ = run(capsys, "fit", office, "--source", "amazon", "--target", "webcam", "--method", "coral",
                       "--predictions", pred, "--save", model_path)
    assert code == 0 and f"saved the fitted model to {model_path}" in out
    model = load_model(model_path)
    fs = load_features(office)
    webcam = fs.subset(fs.domains == "webcam")
    again = model.predict(webcam.X)  # raw features: the model scales them, and names the classes
    assert list(again) == [r["prediction"] for r in csv.DictReader(open(pred))]


def test_json_on_stdout_for_fit_and_evaluate_with_the_lines_for_people_on_stderr(capsys, office, tmp_path):
    pred = tmp_path / "p.csv"
    code, out, err = run(capsys, "fit", office, "--source", "amazon", "--target", "webcam", "--method", "coral",
                         "--predictions", pred, "--json")
    summary = json.loads(out)
    assert code == 0 and summary["model"] == "coral" and summary["source_rows"] == summary["target_rows"] == 60
    assert 80 < summary["target_accuracy"] <= 100 and summary["predictions"] == str(pred) and summary["saved"] is None
    assert "target accuracy" in err and "wrote 60 predictions" in err
    code, out, err = run(capsys, "evaluate", office, "--source", "amazon", "--target", "webcam", "--methods",
                         "none,coral", "--heads", "logreg", "--json")
    document = json.loads(out)
    assert code == 0 and [r["method"] for r in document["results"]] == ["none", "coral"]
    assert "| coral | logreg |" in err
    code, out, err = run(capsys, "fit", office, "--source", "amazon", "--predictions", pred, "--json")
    assert code == 2 and out == "" and "there is no --target" in err  # refused before fitting: no JSON at all
