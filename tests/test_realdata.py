"""The embedded default backbone on the real ants/bees images (skipped without ../shared)."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from featx.backbones import create_backbone
from featx.extract import extract_features

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def test_default_backbone_on_hymenoptera(shared_data, tmp_path):
    root = shared_data / "hymenoptera_data"
    bb = create_backbone("efficientnet_lite0")
    train = extract_features(root / "train", bb, cache_dir=tmp_path, progress=False)
    val = extract_features(root / "val", bb, cache_dir=tmp_path, progress=False)
    assert train.X.shape == (245, 1280) and val.X.shape == (153, 1280)
    assert train.classes == ("ants", "bees") and np.isfinite(train.X).all()
    clf = LogisticRegression(max_iter=2000).fit(train.X, train.y)
    acc = clf.score(val.X, val.y)
    print(f"hymenoptera val accuracy, logistic regression on frozen features: {acc:.3f}")
    assert acc >= 0.92
    # the weights really are ImageNet's: ImageNet class 310 is 'ant', 309 is 'bee'
    with torch.inference_mode():
        logits = bb.model.classifier(torch.from_numpy(val.X))
    top5 = logits.topk(5, dim=1).indices.numpy()
    hit = [(310 if y == 0 else 309) in row for row, y in zip(top5, val.y)]
    assert np.mean(hit) > 0.6


def test_predict_on_hymenoptera_val_reproduces_evaluate(shared_data, tmp_path, capsys):
    """``featx fit TRAIN --target VAL --save``, then ``featx predict MODEL VAL``: the accuracy of the
    predicted names is the one ``featx fit`` and ``featx evaluate`` report for the same method."""
    import csv
    from pathlib import Path

    from .conftest import run_cli

    root, model = shared_data / "hymenoptera_data", tmp_path / "m.skops"
    cache = ["--cache-dir", tmp_path / "cache", "--no-progress"]
    code, out, err = run_cli(capsys, "fit", "--source", root / "train", "--target", root / "val", "--method",
                             "logreg", "--save", model, *cache)
    assert code == 0, err
    fitted = float(out.split("target accuracy ")[1].split("%")[0])
    code, _, err = run_cli(capsys, "predict", model, root / "val", "--out", tmp_path / "p.csv", *cache)
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    predicted = 100 * np.mean([r["prediction"] == Path(r["path"]).parent.name for r in rows])
    code, out, _ = run_cli(capsys, "evaluate", "--source", root / "train", "--target", root / "val", "--methods",
                           "none", "--heads", "logreg", "--jobs", "1", *cache)
    assert len(rows) == 153 and f"{predicted:.2f}" == f"{fitted:.2f}" and f"| none | logreg | {fitted:.2f} |" in out
    assert predicted > 90


def _office_caltech(shared_data):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "pipelines" / "office_caltech.py"
    spec = importlib.util.spec_from_file_location("office_caltech", path)
    oc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oc)
    return oc, {k: oc.load_domain(shared_data / "office_caltech10_surf", v) for k, v in oc.DOMAINS.items()}


def test_easytl_reproduces_the_published_office_caltech_average(shared_data):
    oc, data = _office_caltech(shared_data)
    for method, published in (("EasyTL", 50.5), ("EasyTL(c)", 45.4), ("1NN", 31.4)):
        avg = 100 * np.mean([oc.run_task(method, *data[s], *data[t]) for s, t in oc.TASKS])
        assert abs(avg - published) < 1.5, (method, avg)


def test_meda_reproduces_the_published_office_caltech_average(shared_data):
    """MEDA's defaults (the paper's SURF settings, Laplacian included) against its 52.7."""
    oc, data = _office_caltech(shared_data)
    avg = 100 * np.mean([oc.run_task("MEDA", *data[s], *data[t]) for s, t in oc.TASKS])
    assert abs(avg - oc.PUBLISHED["MEDA"]) < 1.5, avg


def test_gfk_equals_the_jda_papers_gfk_column_on_six_tasks(shared_data):
    """Per-task GFK + 1-NN accuracies printed in the JDA paper (Long et al., ICCV 2013)."""
    oc, data = _office_caltech(shared_data)
    published = {"CA": 41.02, "CW": 40.68, "AC": 40.25, "AD": 36.31, "WC": 30.72, "DA": 32.05}
    for (s, t), value in published.items():
        assert abs(100 * oc.run_task("GFK", *data[s], *data[t]) - value) < 0.01, (s, t)


def test_surf_defaults_reproduce_tca_and_jda(shared_data):
    """TCA() and JDA() with their defaults (unit-length rows, as the reference code) and a plain
    1-NN on the literature's preprocessing: the published 12-task averages within 1.5 points."""
    from sklearn.neighbors import KNeighborsClassifier

    from featx.adapt import JDA, TCA, AdaptThenClassify

    oc, data = _office_caltech(shared_data)
    for make, published in ((TCA, 46.2), (JDA, 46.8)):
        accs = []
        for s, t in oc.TASKS:
            (Xs, ys), (Xt, yt) = data[s], data[t]
            X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(len(Xt), -1)]
            sd = np.r_[np.ones(len(Xs), int), np.full(len(Xt), -2)]
            model = AdaptThenClassify(make(), KNeighborsClassifier(1)).fit(X, y, sample_domain=sd)
            accs.append(100 * np.mean(model.predict(Xt) == yt))
        assert abs(np.mean(accs) - published) < 1.5, (make.__name__, np.mean(accs))


def test_make_method_scales_raw_surf_counts(shared_data):
    """The registry's EasyTL on raw (unscaled) SURF counts: per-domain z-score is the default,
    so it lands near the literature's pipeline (50.5) instead of the unscaled 35.9."""
    import scipy.io

    from featx.methods import make_method

    oc, _ = _office_caltech(shared_data)
    raw = {}
    for key, name in oc.DOMAINS.items():
        mat = scipy.io.loadmat(shared_data / "office_caltech10_surf" / f"{name}_SURF_L10.mat")
        raw[key] = mat["fts"].astype(np.float64), mat["labels"].ravel().astype(int) - 1
    acc = {}
    for scale in ("zscore", "none"):
        runs = []
        for s, t in oc.TASKS:
            (Xs, ys), (Xt, yt) = raw[s], raw[t]
            X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(len(Xt), -1)]
            sd = np.r_[np.ones(len(Xs), int), np.full(len(Xt), -2)]
            runs.append(np.mean(make_method("easytl", scale=scale).fit(X, y, sample_domain=sd).predict(Xt) == yt))
        acc[scale] = 100 * np.mean(runs)
    assert acc["zscore"] > 45.0 and acc["zscore"] > acc["none"] + 8, acc


def test_alignment_defaults_do_not_lose_to_no_alignment_on_real_embeddings(tmp_path):
    """The demo's task with the default backbone's embeddings: CORAL, JDA, BDA and EasyTL with
    their defaults and the default head are not below no alignment by more than the paired
    noise (SA, GFK and TCA keep the literature's small subspaces; their docstrings give the
    numbers where they lose)."""
    from featx.data import load_digits_images, load_shifted_digits_images
    from featx.methods import make_method

    src = extract_features(load_digits_images(), cache_dir=tmp_path, progress=False)
    tgt = extract_features(load_shifted_digits_images(), cache_dir=tmp_path, progress=False)
    X, y = np.vstack([src.X, tgt.X]), np.r_[src.y, np.full(len(tgt), -1)]
    sd = np.r_[np.ones(len(src), int), np.full(len(tgt), -2)]
    right = {m: make_method(m).fit(X, y, sample_domain=sd).predict(tgt.X) == tgt.y
             for m in ("none", "coral", "jda", "bda", "easytl")}
    for m in ("coral", "jda", "bda", "easytl"):
        b, c = (right[m] & ~right["none"]).sum(), (~right[m] & right["none"]).sum()
        noise = 1.96 * np.sqrt(b + c) / len(tgt.y)
        assert right[m].mean() >= right["none"].mean() - noise, (m, right[m].mean(), right["none"].mean())
    # raw non-negative (DeCAF-style) embeddings: EasyTL needs the default scaling (15.3% unscaled)
    unscaled = make_method("easytl", scale="none").fit(X, y, sample_domain=sd).predict(tgt.X) == tgt.y
    assert unscaled.mean() < right["easytl"].mean() - 0.2
