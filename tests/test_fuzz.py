"""Property-based tests (hypothesis): the manifest reader, the cache reader on mutated files,
and the estimators on random shapes and values either work or fail with a clear error."""

import inspect
import shutil
import string

import numpy as np
import pytest
from sklearn.base import clone

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

from featx.data import Manifest  # noqa: E402
from featx.extract import cache_info, read_cache, verify_cache  # noqa: E402
# private: writes malformed cache files to fuzz the reader
from featx.extract._cache import CacheWriter, create_cache_file  # noqa: E402
from featx.utils.discovery import all_estimators  # noqa: E402

from .conftest import flip_feature_byte  # noqa: E402

# how many examples, and whether random, comes from the profile tests/conftest.py loads: 20 random
# examples on a developer's machine (to find new failures), 60 in a fixed sequence in CI (never flaky)
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

cell = st.text(alphabet=string.ascii_letters + string.digits + " ./\\-_\"',éü\t", max_size=12)


@FUZZ
@given(header=st.lists(st.sampled_from(["path", "label", "domain", "other", ""]), min_size=0, max_size=4),
       rows=st.lists(st.lists(cell, min_size=0, max_size=5), max_size=6))
def test_manifest_reader_accepts_or_explains(tmp_path, header, rows):
    import csv

    root = tmp_path / "m"
    root.mkdir(exist_ok=True)
    path = root / "list.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    try:
        m = Manifest(path)
    except ValueError as exc:  # what was expected and what was got, with the file named
        assert "list.csv" in str(exc) or "label" in str(exc)
        return
    assert len(m.ids) == len(m.paths) == len(m.labels) == len(m.domains) > 0
    assert all(p.is_relative_to(m.root) for p in m.paths)  # nothing escapes the data root


@pytest.fixture(scope="module")
def sound_cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("cache") / "f.h5"
    n, d = 40, 8
    create_cache_file(path, key={"k": 1}, key_hash="h", dim=d, ids=[f"i{i}" for i in range(n)],
                      labels=np.arange(n) % 3, domains=["a"] * n, classes=["x", "y", "z"], attrs={})
    with CacheWriter(path, "h") as w:
        w.write(np.arange(n - 1), np.random.default_rng(0).normal(size=(n - 1, d)).astype(np.float32))
        w.skip([n - 1], ["broken"])  # every row settled: the chunk is complete and checksummed
    return path


@FUZZ
@given(cuts=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=8),
       truncate=st.one_of(st.none(), st.floats(0, 1)))
@example(cuts=[(0.3524794081754115, 1)], truncate=None)  # once broke the dataset lookup ("bad heap free list")
def test_cache_reader_on_mutated_files_fails_cleanly(sound_cache, tmp_path, cuts, truncate):
    path = tmp_path / "mutated.h5"
    shutil.copy(sound_cache, path)
    data = bytearray(path.read_bytes())
    for where, value in cuts:
        data[int(where * (len(data) - 1))] = value
    if truncate is not None:
        data = data[: int(truncate * len(data))]
    path.write_bytes(bytes(data))
    problems = verify_cache(path)  # never raises: a list of what is wrong
    assert isinstance(problems, list)
    for reader in (lambda: read_cache(path, partial=True), lambda: cache_info(path)):
        try:
            reader()
        except (OSError, ValueError, KeyError, TypeError, RuntimeError):
            pass  # h5py reports damage as one of these; never a crash of the interpreter


def test_flipped_feature_bytes_are_detected(sound_cache, tmp_path):
    path = tmp_path / "flipped.h5"
    shutil.copy(sound_cache, path)
    flip_feature_byte(path, at=5)
    assert verify_cache(sound_cache) == []
    assert any("does not match its checksum" in p or "NaN" in p for p in verify_cache(path))


ADAPTERS = [cls() for name, cls in all_estimators() if hasattr(cls, "transform") and not hasattr(cls, "predict")]


@FUZZ
@given(X=arrays(np.float64, st.tuples(st.integers(6, 24), st.integers(1, 6)),
                elements=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)),
       split=st.floats(0.25, 0.75))
@pytest.mark.parametrize("est", ADAPTERS, ids=[type(e).__name__ for e in ADAPTERS])
def test_adapters_on_random_values_map_to_finite_rows_or_explain(est, X, split):
    n = len(X)
    sd = np.where(np.arange(n) < max(2, min(n - 2, int(split * n))), 1, -2)
    y = np.arange(n) % 2
    domains = {"sample_domain": sd} if "sample_domain" in inspect.signature(est.fit).parameters else {}
    try:
        Z = clone(est).fit_transform(X, y, **domains)
    except ValueError as exc:
        assert "expected" in str(exc) or "must" in str(exc) or "needs" in str(exc), str(exc)
        return
    assert Z.shape[0] == n and np.isfinite(Z).all()


def test_truncated_files_are_reported_and_nothing_is_pickled(sound_cache, tmp_path):
    import h5py

    path = tmp_path / "cut.h5"
    path.write_bytes(sound_cache.read_bytes()[: sound_cache.stat().st_size // 2])
    assert verify_cache(path)  # says what is wrong instead of raising
    with h5py.File(sound_cache, "r") as f:  # only numbers, fixed bytes and UTF-8 strings: no pickles
        for name, obj in f.items():
            kind = obj.dtype.kind
            assert kind in "iufS" or h5py.check_string_dtype(obj.dtype) is not None, (name, obj.dtype)
        for name, value in f.attrs.items():
            assert isinstance(value, (str, bytes, int, float, np.generic)), (name, type(value))
