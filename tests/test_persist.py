"""Fitted models are saved without pickle and loading an untrusted file runs no code."""

import functools
import inspect
import os
import pickle

import numpy as np
import pytest
from sklearn.base import ClassifierMixin

from featx.methods import make_method
from featx.persist import load_model, save_model, trusted_types
from featx.utils.discovery import all_estimators

from .conftest import quick_deep

MODELS = [quick_deep(cls()) for _, cls in all_estimators()] + [
    make_method(m) for m in ("coral", "knn", "linear-svm", "tca")]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_round_trip_gives_the_same_outputs(model, tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 5)), np.arange(40) % 2
    sd = np.where(np.arange(40) < 20, 1, -2)
    if "sample_domain" in inspect.signature(model.fit).parameters:
        model.fit(X, np.where(sd < 0, -1, y) if isinstance(model, ClassifierMixin) else y, sample_domain=sd)
    else:
        model.fit(X, y)
    loaded = load_model(save_model(model, tmp_path / "m.skops"))
    out = "predict_proba" if hasattr(model, "predict_proba") else "predict" if hasattr(model,
                                                                                       "predict") else "transform"
    np.testing.assert_array_equal(getattr(loaded, out)(X), getattr(model, out)(X))  # bit-identical


def test_untrusted_files_are_refused_before_anything_runs(tmp_path):
    import skops.io as sio

    marker = tmp_path / "ran"
    sio.dump({"payload": functools.partial(os.system, f"touch {marker}")}, tmp_path / "evil.skops")
    with pytest.raises(ValueError, match=r"holds types featx does not trust: \['functools.partial', 'posix.system'\]"):
        load_model(tmp_path / "evil.skops")
    assert not marker.exists()
    (tmp_path / "model.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="is not a skops model file"):
        load_model(tmp_path / "model.pkl")
    with pytest.raises(FileNotFoundError, match="No model file at"):
        load_model(tmp_path / "missing.skops")
    assert "featx.adapt._coral.CORAL" in trusted_types()
