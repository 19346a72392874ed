"""The method registry: one name is one model in Python, `featx fit`, `featx evaluate` and
`compare`; a failing method never loses a run; `random_state` everywhere."""

import json
import warnings

import numpy as np
import pytest

from featx.adapt import AdaptThenClassify, DomainScaled, EasyTL
from featx.classify import TunedClassifier
from featx.cli.main import main
from featx.evaluate import compare_features, write_report
from featx.features import FeatureSet
from featx.methods import (
    DEFAULT_HEAD,
    REGISTRY,
    canonical_name,
    describe,
    finetune_params,
    get_method,
    rung_of,
    list_methods,
    make_head,
    make_method,
    parse_method,
)

from tests.test_cli_fit import two_domains, write_cache

from .conftest import quick_deep

FEATURE_MODELS = [n for n in list_methods("alignment")] + [n for n in list_methods("head")] + ["coral+1nn", "sa+knn"]


def test_every_entry_builds_with_description_and_grid():
    assert {m.kind for m in REGISTRY.values()} == {"head", "alignment", "finetune"}
    for name, entry in REGISTRY.items():
        assert entry.description and entry.name == name
        built = entry.build()
        if entry.kind == "finetune":
            assert isinstance(built, dict) and "freeze" in built and finetune_params(name) == built
            continue
        if entry.grid:  # every grid key is a parameter of what is built
            assert set(entry.grid) <= set(built.get_params())
    assert set(list_methods("head")) >= {"logreg", "linear-svm", "rbf-svm", "knn", "1nn", "ncm", "ridge"}
    assert set(list_methods("alignment")) >= {"none", "coral", "sa", "gfk", "tca", "jda", "bda", "easytl"}
    assert make_head("logreg").param_grid == REGISTRY["logreg"].grid
    assert isinstance(make_head("logreg"), TunedClassifier) and make_head("1nn", tune=False).n_neighbors == 1


def test_names_parse_to_one_canonical_model():
    assert parse_method("coral") == ("coral", DEFAULT_HEAD)
    assert parse_method("knn") == ("none", "knn") == parse_method("none+knn")
    assert parse_method("easytl") == ("easytl", None) and parse_method("lp-ft") == ("lp-ft", None)
    assert canonical_name("none+knn") == "knn" and canonical_name("coral+logreg") == "coral"
    assert canonical_name("coral+1nn") == "coral+1nn" and canonical_name("none") == "logreg"
    assert [rung_of(n) for n in ("knn", "coral", "ft-last")] == ["frozen", "aligned", "finetuned"]
    assert "per-domain scaling zscore" in describe("coral") and "CORAL" in describe("coral")
    assert describe("coral", "none") != describe("coral")


@pytest.mark.parametrize("call, message", [
    (lambda: get_method("adda"), "Unknown method 'adda'"),
    (lambda: get_method("coral", "head"), "Unknown head 'coral'"),
    (lambda: list_methods("heads"), "kind must be one of"),
    (lambda: parse_method(""), "A method name must be a non-empty string; got ''"),
    (lambda: parse_method("easytl+logreg"), "'easytl' is a classifier itself and takes no head"),
    (lambda: parse_method("coral+xgb"), "Unknown head 'xgb'"),
    (lambda: make_method("coral", scale="l2"), "scale must be one of \\['zscore', 'unit', 'none'\\]; got 'l2'"),
    (lambda: make_method("coral+1nn", "knn"), "Give the head either in the name or as head="),
    (lambda: make_method("logreg", "knn"), "'logreg' is a head; pass an alignment as method"),
    (lambda: make_method("ft-last"), "fine-tunes the backbone on images"),
    (lambda: finetune_params("coral"), "Unknown finetune 'coral'"),
    (lambda: finetune_params("lp-ft", {"momentum": 0.5}), "'lp-ft' has no selectable parameters \\['momentum'\\]"),
])
def test_registry_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_per_domain_scaling_is_the_default_everywhere():
    assert make_method("coral").how == "zscore"
    from featx.cli.main import build_parser

    parser = build_parser()
    for argv in (["fit", "--source", "a", "--target", "b"], ["evaluate", "--source", "a", "--target", "b"],
                 ["compare", "DATA"], ["demo"]):
        assert parser.parse_args(argv).scale == "zscore", argv


def test_make_method_shapes():
    X, y, domains = two_domains()
    sd = np.where(domains == "amazon", 1, -2)
    y_masked = np.where(sd < 0, -1, y)
    for name in FEATURE_MODELS:
        model = quick_deep(make_method(name)).fit(X, y_masked, sample_domain=sd)
        assert isinstance(model, DomainScaled) and model.predict(X[sd < 0]).shape == (60,)
        assert -1 not in model.classes_
    assert isinstance(make_method("easytl").estimator, EasyTL)
    plain = make_method("none", "1nn", tune=False).fit(X, y_masked, sample_domain=sd)
    assert isinstance(plain.estimator_, AdaptThenClassify) and plain.estimator_.adapter_ == "passthrough"


def test_one_seed_reaches_every_random_step_of_the_model():
    def seeds(model):  # the heads' own solvers (lbfgs, libsvm) draw no random numbers
        return {k: v for k, v in model.get_params(deep=True).items()
                if k.endswith("random_state") and "classifier__estimator__" not in k}

    for name in ("dann", "mcc", "jdot", "ot", "tca", "coral", "pace"):
        found = seeds(make_method(name, random_state=7))
        assert found and set(found.values()) == {7}, (name, found)
    assert set(seeds(make_method("dann")).values()) == {0}  # the registry's default seed
    X, y, domains = two_domains()
    sd = np.where(domains == "amazon", 1, -2)
    y_masked = np.where(sd < 0, -1, y)
    fits = [make_method("mcc", random_state=r).set_params(estimator__max_iter=50).fit(X, y_masked, sample_domain=sd)
            for r in (0, 0, 1)]
    probas = [f.predict_proba(X[sd < 0]) for f in fits]
    np.testing.assert_array_equal(probas[0], probas[1])
    assert not np.array_equal(probas[0], probas[2])


def _signature(model) -> str:
    """What identifies a model: its repr with every parameter, nested ones included."""
    return repr(sorted((k, repr(v)) for k, v in model.get_params(deep=True).items()))


@pytest.fixture
def built(monkeypatch):
    """Every DomainScaled fitted from here on, as (repr, signature)."""
    seen = []
    original = DomainScaled.fit

    def record(self, X, y, *, sample_domain=None):
        seen.append(_signature(self))
        return original(self, X, y, sample_domain=sample_domain)

    monkeypatch.setattr(DomainScaled, "fit", record)
    return seen


@pytest.mark.parametrize("name", ["coral", "sa", "tca", "easytl", "knn", "none", "coral+1nn", "jda+ncm"])
def test_one_name_builds_the_same_model_everywhere(name, built, capsys, tmp_path):
    X, y, domains = two_domains()
    path = write_cache(tmp_path / "office.h5", X, y, domains)
    expected = _signature(make_method(name))
    alignment, head = parse_method(name)
    common = [str(path), "--source", "amazon", "--target", "webcam"]
    assert main(["fit", *common, "--method", name]) == 0
    assert main(["fit", *common, "--method", alignment] + (["--head", head] if head else [])) == 0
    assert main(["evaluate", *common, "--methods", alignment, "--heads", head or "logreg", "--jobs", "1"]) == 0
    sd = np.where(domains == "amazon", 1, -2)
    train = FeatureSet(X=X[sd > 0], y=y[sd > 0], ids=np.arange(60).astype(str), domains=domains[sd > 0], classes=("a",
                                                                                                                  "b"))
    target = FeatureSet(X=X[sd < 0], y=y[sd < 0], ids=np.arange(60).astype(str), domains=domains[sd < 0],
                        classes=("a", "b"))
    compare_features(train, target=target, budgets="all", methods=[name], n_jobs=1, progress=False)
    assert len(built) == 4 and set(built) == {expected}, name


def test_a_failing_method_is_recorded_and_the_run_completes(monkeypatch, tmp_path, capsys):
    """An injected failure in CORAL: the other methods finish, the cells say failed, the report
    and the JSON list what raised, and only --strict turns it into a non-zero exit."""
    from featx.adapt import CORAL

    def broken(self, Xs, Xt, ys):
        raise np.linalg.LinAlgError("injected: eigh did not converge")

    monkeypatch.setattr(CORAL, "_fit", broken)
    X, y, domains = two_domains()
    sd = np.where(domains == "amazon", 1, -2)
    make = lambda rows: FeatureSet(X=X[rows], y=y[rows], ids=np.arange(rows.sum()).astype(str),  # noqa: E731
                                   domains=domains[rows], classes=("a", "b"))
    result = compare_features(make(sd > 0), target=make(sd < 0), budgets="2,all", repeats=2,
                              methods=["ncm", "coral", "coral+1nn"], n_jobs=1, progress=False)
    assert {(f["method"], f["budget"], f["draw"]) for f in result.failures} == {
        (m, b, r) for m in ("coral", "coral+1nn") for b, r in ((2, 0), (2, 1), ("all", 0))}
    assert all(f["error"] == "LinAlgError" and "injected" in f["message"] for f in result.failures)
    assert {r["method"] for r in result.records} == {"ncm"} and len(result.records) == 3
    cells = {(s["method"], s["budget"]): s for s in result.summary}
    assert cells["coral", "all"]["failed"] == 1 and cells["coral", "all"]["draws"] == 0
    assert np.isnan(cells["coral", "all"]["accuracy"]) and cells["ncm", "all"]["failed"] == 0
    assert result.best()["method"] == "ncm"
    paths = write_report(result, tmp_path / "report")
    text = paths["markdown"].read_text()
    assert "embedding view could not be drawn: LinAlgError" in text
    assert "## Failed" in text and "| coral | all | 0 | LinAlgError | injected: eigh did not converge |" in text
    assert "| coral | aligned | failed (2) | failed (1) |" in text
    data = json.loads(paths["json"].read_text())
    assert len(data["failed"]) == 6 and data["failed"][0]["error"] == "LinAlgError"
    assert all(s["accuracy"] is None for s in data["summary"] if s["method"] == "coral")  # strict JSON: null
    path = write_cache(tmp_path / "office.h5", X, y, domains)
    args = ["evaluate", str(path), "--source", "amazon", "--target", "webcam", "--methods", "none,coral",
            "--heads", "ncm", "--jobs", "1"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "| coral | ncm | failed: LinAlgError |" in out and "injected" in err
    assert main(args + ["--strict"]) == 1


def test_seed_is_a_deprecated_alias_of_random_state(capsys, tmp_path):
    from featx.utils.deprecation import renamed

    X, y, domains = two_domains()
    sd = np.where(domains == "amazon", 1, -2)
    train = FeatureSet(X=X[sd > 0], y=y[sd > 0], ids=np.arange(60).astype(str), domains=domains[sd > 0],
                       classes=("a", "b"))
    with pytest.warns(FutureWarning, match="'seed' was renamed 'random_state'"):
        old = compare_features(train, budgets="2", repeats=2, methods=["ncm"], seed=3, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = compare_features(train, budgets="2", repeats=2, methods=["ncm"], random_state=3, progress=False)
    assert old.info["random_state"] == new.info["random_state"] == 3
    assert [r["accuracy"] for r in old.records] == [r["accuracy"] for r in new.records]
    with pytest.raises(ValueError, match="got both seed=3 and random_state=4"):
        renamed("seed", 3, "random_state", 4, 0, "compare")
    path = write_cache(tmp_path / "office.h5", X, y, domains)
    assert main(["fit", str(path), "--source", "amazon", "--target", "webcam", "--seed", "2"]) == 0
    assert "--seed is deprecated" in capsys.readouterr().err


def test_finetune_classifier_seed_alias(tiny_backbone, image_folder):
    from featx.finetune import FineTuneClassifier

    clf = FineTuneClassifier(tiny_backbone, seed=1, random_state=2)
    with pytest.raises(ValueError, match="got both seed=1 and random_state=2"):
        clf.fit(image_folder)
    with pytest.raises(ValueError, match="must be an int \\(torch needs an integer seed\\). Got 'x'"):
        FineTuneClassifier(tiny_backbone, random_state="x").fit(image_folder)


def test_feature_set_concat_errors():
    a = FeatureSet(X=np.zeros((2, 3)), y=np.zeros(2, int), ids=np.array(["a", "b"]), domains=np.array(["d", "d"]),
                   classes=("x", "y"))
    assert len(FeatureSet.concat([a, a])) == 4 and FeatureSet.concat([a]) is a
    with pytest.raises(ValueError, match="needs at least one FeatureSet"):
        FeatureSet.concat([])
    with pytest.raises(ValueError, match="same number of features; got 2 and 3"):
        FeatureSet.concat([a, FeatureSet(X=np.zeros((2, 2)), y=a.y, ids=a.ids, domains=a.domains, classes=a.classes)])
    with pytest.raises(ValueError, match="share their classes"):
        FeatureSet.concat([a, FeatureSet(X=a.X, y=a.y, ids=a.ids, domains=a.domains, classes=("p", "q"))])


def test_compare_refuses_the_same_model_twice():
    X, y, domains = two_domains()
    fs = FeatureSet(X=X, y=y, ids=np.arange(120).astype(str), domains=domains, classes=("a", "b"))
    with pytest.raises(ValueError, match="Methods name the same model twice"):
        compare_features(fs, methods=["knn", "none+knn"], progress=False)
    with pytest.raises(ValueError, match="scale must be one of"):
        compare_features(fs, methods=["knn"], scale="l1", progress=False)


def test_methods_command_lists_the_registry(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for name in REGISTRY:
        assert f"  {name} " in out
    assert "C by inner CV in [0.01, 0.1, 1.0, 10.0, 100.0]" in out


def test_task_log_tells_subsets_of_one_cache_file_apart(tmp_path):
    """Two domains cut from one cache file share its key; their fits must not be reused for each other."""
    X, y, domains = two_domains()
    fs = FeatureSet(X=X, y=y, ids=np.arange(120).astype(str), domains=domains, classes=("a", "b"),
                    metadata={"key": "one-file"})
    a, b = fs.subset(domains == "amazon"), fs.subset(domains == "webcam")
    kw = dict(budgets="all", methods=["ncm"], log_dir=tmp_path, progress=False)
    first = compare_features(a, **kw)
    other = compare_features(b, **kw)
    assert not any(r["reused"] for r in other.records)
    assert all(r["reused"] for r in compare_features(a, **kw).records) and first.records
