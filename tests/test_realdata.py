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


def test_gfk_equals_the_jda_papers_gfk_column_on_six_tasks(shared_data):
    """Per-task GFK + 1-NN accuracies printed in the JDA paper (Long et al., ICCV 2013)."""
    oc, data = _office_caltech(shared_data)
    published = {"CA": 41.02, "CW": 40.68, "AC": 40.25, "AD": 36.31, "WC": 30.72, "DA": 32.05}
    for (s, t), value in published.items():
        assert abs(100 * oc.run_task("GFK", *data[s], *data[t]) - value) < 0.01, (s, t)
