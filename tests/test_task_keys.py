"""The task log's key: a model's specification as data and a fingerprint of the code that fits
it, so a reworded description keeps stored fits and a change of behaviour drops them."""

import dataclasses

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import featx.methods as methods
from featx.data import make_shifted_domains
from featx.evaluate import compare_features
from featx.features import FeatureSet
from featx.methods import code_fingerprint, model_spec


@pytest.fixture
def pair():
    X, y, sd, y_target = make_shifted_domains(40, 30, 6, 3, random_state=0)

    def fs(rows, labels, name):
        return FeatureSet(X[rows].astype(np.float32), labels, np.array([f"{name}{i}" for i in range(len(labels))]),
                          np.array([name] * len(labels)), ("a", "b", "c"))

    return fs(sd > 0, y[sd > 0], "s"), fs(sd < 0, y_target, "t")


KW = dict(budgets=(3, "all"), repeats=2, methods=["logreg", "coral"], progress=False)


def _reused(result):
    return [r["reused"] for r in result.records]


def _swap(monkeypatch, name, **change):
    monkeypatch.setitem(methods.REGISTRY, name, dataclasses.replace(methods.REGISTRY[name], **change))


def test_a_reworded_description_keeps_the_stored_fits(pair, tmp_path, monkeypatch):
    source, target = pair
    first = compare_features(source, target=target, log_dir=tmp_path, **KW)
    _swap(monkeypatch, "logreg", description="logistic regression, described in other words")
    _swap(monkeypatch, "coral", description="CORAL, described in other words")
    again = compare_features(source, target=target, log_dir=tmp_path, **KW)
    assert not any(_reused(first)) and all(_reused(again)) and len(again.records) == 6


def test_a_changed_default_drops_that_models_fits_only(pair, tmp_path, monkeypatch):
    from sklearn.pipeline import make_pipeline

    from featx.classify import FlooredStandardScaler

    source, target = pair
    compare_features(source, target=target, log_dir=tmp_path, **KW)
    before = model_spec("logreg")
    _swap(monkeypatch, "logreg", build=lambda: make_pipeline(FlooredStandardScaler(), LogisticRegression(max_iter=999)))
    assert model_spec("logreg") != before and model_spec("coral") != model_spec("coral+1nn")
    again = compare_features(source, target=target, log_dir=tmp_path, **KW)
    by_method = {m: {r["reused"] for r in again.records if r["method"] == m} for m in ("logreg", "coral")}
    # coral's head is logreg too: both are new models now
    assert by_method == {"logreg": {False}, "coral": {False}}
    _swap(monkeypatch, "coral", select_grid={"reg": [1.0]})  # a selection grid is not the model: kept
    assert all(_reused(compare_features(source, target=target, log_dir=tmp_path, **KW)))


def test_edited_code_drops_the_fits_that_run_it(pair, tmp_path, monkeypatch):
    # private: the source reader is the one place to simulate an edit without writing to featx/
    import featx.methods._fingerprint as fingerprint

    source, target = pair
    kw = {**KW, "methods": ["logreg", "ot"]}
    compare_features(source, target=target, log_dir=tmp_path, **kw)
    read = fingerprint._source_bytes
    monkeypatch.setattr(fingerprint, "_source_bytes",
                        lambda m: read(m) + (b"\n# edited" if m == "featx.adapt._ot" else b""))
    again = compare_features(source, target=target, log_dir=tmp_path, **kw)
    assert {r["method"]: r["reused"] for r in again.records} == {"logreg": True, "ot": False}


def test_the_closure_follows_imports_inside_functions_and_leaves_versions_out(tmp_path, monkeypatch):
    from featx.methods._fingerprint import import_closure, modules_fingerprint  # private: the closure itself

    pkg = tmp_path / "fxprobe"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from fxprobe._version import __version__\n")
    (pkg / "_version.py").write_text("__version__ = '1'\n")
    (pkg / "a.py").write_text("import numpy\n\ndef f():\n    from fxprobe.b import g\n    return g()\n")
    (pkg / "b.py").write_text("from fxprobe import _version\n\ndef g():\n    return 1\n")
    (pkg / "c.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    modules, third = import_closure("fxprobe.a", "fxprobe")
    assert modules == {"fxprobe.a", "fxprobe.b"} and "numpy" in third
    before = modules_fingerprint(["fxprobe.a"], "fxprobe")
    (pkg / "_version.py").write_text("__version__ = '2'\n")
    (pkg / "c.py").write_text("x = 2\n")
    assert modules_fingerprint(["fxprobe.a"], "fxprobe") == before
    (pkg / "b.py").write_text("from fxprobe import _version\n\ndef g():\n    return 2\n")
    assert modules_fingerprint(["fxprobe.a"], "fxprobe") != before


def test_specs_are_data_and_fine_tuning_is_keyed_by_its_arguments():
    spec = model_spec("coral+1nn@pooled", scale="unit")
    assert spec["layer"] == "pooled" and spec["scale"] == "unit" and "description" not in str(spec)
    assert model_spec("lp-ft") == {"finetune": "lp-ft", "params": {"freeze": "lp-ft", "head_init": "logreg",
                                                                   "lp_epochs": 0, "batchnorm": "frozen"}}
    assert code_fingerprint("ot") == code_fingerprint("ot+logreg") != code_fingerprint("logreg")
    assert code_fingerprint("logreg", also=("featx.evaluate._fit_features",)) != code_fingerprint("logreg")
