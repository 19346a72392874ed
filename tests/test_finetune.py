"""Fine-tuning: freezing policies, optimizer groups, BatchNorm, resume, predict (tiny models, CPU)."""

import numpy as np
import pytest
import timm
import torch
from torch import nn

from featx.finetune import FineTuneClassifier, parse_freeze, stage_groups, stage_learning_rates, warmup_cosine
from featx.data import open_source
from featx.protocol import stratified_split
# private: fine-tuning's parts (batches, freezing, network, optimizer), tested one by one
from featx.finetune._data import epoch_batches, random_resized_crop
from featx.finetune._freeze import apply_freeze
from featx.finetune._net import FineTuneNet
from featx.finetune._optim import TrainableOptimizer

from .conftest import interrupted_fit, make_images


@pytest.fixture
def folder(tmp_path):
    return make_images(tmp_path / "imgs", per_class=8)


def quick(backbone, freeze="none", **kw):
    kw = {"epochs": 2, "batch_size": 4, "progress": False, "validation_fraction": 0.0, "num_workers": 0, **kw}
    return FineTuneClassifier(backbone, freeze, **kw)


def test_stage_groups_of_timm_and_plain_models():
    groups = stage_groups(timm.create_model("test_efficientnet", num_classes=0))
    assert [g.name for g in groups] == ["stem", "blocks.0", "blocks.1", "blocks.2", "blocks.3", "blocks.4",
                                        "conv_head+bn2"]
    plain = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 1))
    assert [(g.name, len(g.params)) for g in stage_groups(plain)] == [("stem", 2), ("1", 2), ("3", 2)]


def test_freeze_policies_over_epochs():
    groups = stage_groups(timm.create_model("test_resnet", num_classes=0))
    names = [g.params for g in groups]  # stem, layer1 .. layer4
    everything = {p for g in names for p in g}
    assert parse_freeze("all").frozen(0, groups) == everything
    assert parse_freeze("none").frozen(5, groups) == set()
    assert parse_freeze("first:2").frozen(0, groups) == set(names[0]) | set(names[1])
    assert parse_freeze("last:1").frozen(0, groups) == everything - set(names[-1])
    gradual = parse_freeze("gradual", every=2)
    assert [len(everything - gradual.frozen(e, groups)) for e in range(6)] == [
        0, 0, len(names[-1]), len(names[-1]), len(names[-1]) + len(names[-2]), len(names[-1]) + len(names[-2])]
    assert parse_freeze("lp-ft", every=0).frozen(0, groups) == set()  # probe done by a warm-started head
    lpft = parse_freeze("lp-ft", every=1)
    assert lpft.frozen(0, groups) == everything and lpft.frozen(1, groups) == set()
    pat = parse_freeze(["layer1", "layer4.*.conv1.*"]).frozen(0, groups)
    assert pat == {p for p in everything if p.startswith("layer1.") or (p.startswith("layer4.") and ".conv1." in p)}


@pytest.mark.parametrize(
    "freeze, every, match",
    [
        ("some", 1, "freeze must be 'all', 'none', 'first:K', 'last:K', 'gradual', 'lp-ft' or a list of name "
                    "patterns; got 'some'"),
        ([], 1, "freeze patterns must be a non-empty list of non-empty strings; got \\[\\]"),
        (3, 1, "freeze must be a string or a list of name patterns; got 3"),
        ("gradual", 0, "unfreeze_every must be an int >= 1 for freeze='gradual'; got 0"),
    ],
)
def test_parse_freeze_errors(freeze, every, match):
    with pytest.raises(ValueError, match=match):
        parse_freeze(freeze, every)


def test_frozen_parameters_stay_bit_identical_and_batchnorm_keeps_statistics(tiny_backbone, folder):
    before = {k: v.clone() for k, v in tiny_backbone.model.state_dict().items()}
    clf = quick(tiny_backbone, "first:2", lr=1e-2).fit(folder)
    after = clf.net_.body.state_dict()
    frozen_prefixes = tuple(f"{g}." for g in ("conv1", "bn1", "layer1"))
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert changed, "something must train"
    assert not {k for k in changed if k.startswith(frozen_prefixes)}, "frozen stages (incl. BN statistics) changed"
    assert any(k.startswith("layer4.") and "running_mean" in k for k in changed)  # trained stage: BN in train mode
    for name, p in clf.net_.body.named_parameters():
        assert (p.grad is None) or not name.startswith(frozen_prefixes)
    # told otherwise, BatchNorm in frozen stages updates its running statistics
    clf = quick(tiny_backbone, "first:2", train_frozen_batchnorm=True).fit(folder)
    assert not torch.equal(clf.net_.body.state_dict()["bn1.running_mean"] if "bn1.running_mean" in before
                           else clf.net_.body.state_dict()["conv1.1.running_mean"],
                           before.get("bn1.running_mean", before.get("conv1.1.running_mean")))


def test_frozen_batchnorm_keeps_every_running_statistic_while_its_scale_and_shift_train(tiny_backbone, folder):
    bns = [n for n, m in tiny_backbone.model.named_modules() if isinstance(m, nn.BatchNorm2d)]
    before = {k: v.clone() for k, v in tiny_backbone.model.state_dict().items()}
    for mode, stats_move in (("frozen", False), ("train", True)):
        after = quick(tiny_backbone, "none", batchnorm=mode, lr=0.05).fit(folder).net_.body.state_dict()
        moved = [n for n in bns if not torch.equal(after[f"{n}.running_mean"], before[f"{n}.running_mean"])]
        assert bool(moved) is stats_move, mode
        assert any(not torch.equal(after[f"{n}.weight"], before[f"{n}.weight"]) for n in bns), mode
    with pytest.raises(ValueError, match="batchnorm must be 'train' or 'frozen'; got 'eval'"):
        quick(tiny_backbone, batchnorm="eval").fit(folder)


def test_frozen_prefix_records_no_autograd_graph(tiny_backbone):
    net = FineTuneNet(tiny_backbone, 2)
    groups = stage_groups(net.body)
    apply_freeze(net.body, parse_freeze("first:3").frozen(0, groups))
    seen = {}
    net.body.layer2.register_forward_hook(lambda m, a, out: seen.update(frozen=out.requires_grad))
    net.body.layer3.register_forward_hook(lambda m, a, out: seen.update(trained=out.requires_grad))
    net.train()(torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8)).sum().backward()
    assert seen == {"frozen": False, "trained": True}  # no graph, so no backward, through the frozen prefix
    assert all(p.grad is None for n, p in net.body.named_parameters() if n.startswith(("conv1", "bn1", "layer1",
                                                                                       "layer2")))


def test_optimizer_holds_only_trainable_parameters_with_their_rates(tiny_backbone):
    net = FineTuneNet(tiny_backbone, 3)
    groups = stage_groups(net.body)
    apply_freeze(net.body, parse_freeze("first:2").frozen(0, groups))
    opt = TrainableOptimizer(net, groups, kind="sgd", lr=0.1, backbone_lr_factor=0.1, layer_decay=0.5,
                             weight_decay=1e-4, momentum=0.9)
    opt.sync()
    expected = dict(zip([g.name for g in groups], stage_learning_rates(0.1, len(groups), 0.1, 0.5)))
    assert expected["layer4"] == pytest.approx(0.01) and expected["layer3"] == pytest.approx(0.005)
    held = set()
    for group in opt.optimizer.param_groups:
        stage, kind = group["group"].split(":")
        assert group["lr"] == pytest.approx(0.1 if stage == "head" else expected[stage])
        assert group["weight_decay"] == (0.0 if kind == "no_decay" else 1e-4)
        assert all((p.ndim <= 1) == (kind == "no_decay") for p in group["params"])
        held.update(group["names"])
    trainable = {f"body.{n}" for n, p in net.body.named_parameters() if p.requires_grad} | {"head.weight", "head.bias"}
    assert held == trainable
    # unfreezing adds the stage's parameters with its own, unchanged rate
    apply_freeze(net.body, set())
    assert opt.sync() == len(groups[0].params) + len(groups[1].params)
    stem = [g for g in opt.optimizer.param_groups if g["group"].startswith("stem:")]
    assert stem and all(g["lr"] == pytest.approx(expected["stem"]) for g in stem)
    with pytest.raises(ValueError, match="optimizer must be one of \\('adamw', 'sgd'\\); got 'lion'"):
        TrainableOptimizer(net, groups, kind="lion", lr=0.1, backbone_lr_factor=0.1, layer_decay=None,
                           weight_decay=0.0, momentum=0.0)


def test_warmup_cosine_schedule():
    values = [warmup_cosine(s, total=10, warmup=2) for s in range(11)]
    assert values[:2] == [0.5, 1.0] and values[2] == 1.0 and values[-1] == pytest.approx(0.0)
    assert all(a >= b for a, b in zip(values[2:], values[3:]))


def test_gradual_unfreezing_trains_more_each_epoch(tiny_backbone, folder):
    clf = quick(tiny_backbone, "gradual", epochs=3).fit(folder)
    groups = stage_groups(clf.net_.body)
    assert [h["trainable_backbone_tensors"] for h in clf.history_] == [
        0, len(groups[-1].params), len(groups[-1].params) + len(groups[-2].params)]
    lpft = quick(tiny_backbone, "lp-ft", epochs=3, lp_epochs=2).fit(folder)
    assert [h["trainable_backbone_tensors"] for h in lpft.history_] == [0, 0, sum(len(g.params) for g in groups)]


def test_resumed_run_matches_an_uninterrupted_one(tiny_backbone, folder, tmp_path, monkeypatch):
    kw = dict(epochs=3, validation_fraction=0.25, random_state=3, freeze="gradual")
    full = quick(tiny_backbone, checkpoint_dir=tmp_path / "a", **kw).fit(folder)
    interrupted_fit(monkeypatch, lambda: quick(tiny_backbone, checkpoint_dir=tmp_path / "b", **kw).fit(folder))
    resumed = quick(tiny_backbone, checkpoint_dir=tmp_path / "b", **kw).fit(folder)
    for (k, a), b in zip(full.net_.state_dict().items(), resumed.net_.state_dict().values()):
        assert torch.equal(a, b), k
    assert [h["loss"] for h in full.history_] == [h["loss"] for h in resumed.history_]
    assert full.best_epoch_ == resumed.best_epoch_
    with pytest.raises(ValueError, match="was written by a run with other settings or data"):
        quick(tiny_backbone, checkpoint_dir=tmp_path / "b", **{**kw, "random_state": 4}).fit(folder)


def test_predict_shapes_classes_and_arrays(tiny_backbone, folder):
    clf = quick(tiny_backbone, "last:1", validation_fraction=0.25).fit(folder)
    assert list(clf.classes_) == ["cat", "dog"]
    pred = clf.predict(folder)
    proba = clf.predict_proba(folder)
    assert pred.shape == (16,) and set(pred) <= {"cat", "dog"}
    assert proba.shape == (16, 2) and np.allclose(proba.sum(1), 1, atol=1e-5)
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(1)])
    assert 0.0 <= clf.score(folder) <= 1.0
    assert set(clf.history_[0]) >= {"loss", "train_acc", "val_top1", "val_top2", "images_per_s", "data_wait_fraction",
                                    "cpu_utilisation"}
    assert all(0 <= h["data_wait_fraction"] <= 1 for h in clf.history_)
    assert all(0 <= h["cpu_utilisation"] <= 1.5 for h in clf.history_)  # os.times ticks are 10 ms
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10, 40, 40, 3), dtype=np.uint8)
    labels = ["a", "b", "c", "a", "b", "c", "a", "b", "c", "a"]
    arr = quick(tiny_backbone, "all", epochs=1).fit(images, labels)
    assert list(arr.classes_) == ["a", "b", "c"] and arr.predict(images).shape == (10,)
    assert arr.predict_proba(images).shape == (10, 3)
    assert arr.score(images, labels) == np.mean(arr.predict(images) == np.array(labels))


def test_warm_started_head_predicts_like_the_logistic_regression(tiny_backbone, folder, tmp_path):
    from sklearn.linear_model import LogisticRegression

    from featx.extract import extract_features

    clf = quick(tiny_backbone, "all", epochs=1, lr=0.0, weight_decay=0.0, head_init="logreg",
                cache_dir=tmp_path / "cache").fit(folder)
    fs = extract_features(folder, tiny_backbone, cache_dir=tmp_path / "cache", progress=False)
    assert fs.metadata["n_computed"] == 0 and clf.warm_start_computed_ == 16  # the warm start filled the cache
    again = quick(tiny_backbone, "all", epochs=1, validation_fraction=0.25, head_init="logreg",
                  cache_dir=tmp_path / "cache").fit(folder)
    assert again.warm_start_computed_ == 0  # a split of the same folder: read from the cache, no forward pass
    lr = LogisticRegression(max_iter=2000).fit(fs.X, fs.y)
    np.testing.assert_allclose(clf.predict_proba(folder), lr.predict_proba(fs.X), atol=1e-3)


def test_early_stopping_stops_and_keeps_the_best_epoch(tiny_backbone, folder):
    clf = quick(tiny_backbone, "all", epochs=5, lr=0.0, validation_fraction=0.25, early_stopping=1).fit(folder)
    assert len(clf.history_) == 2 and clf.best_epoch_ == 1  # constant accuracy: a tie, the later epoch kept


def test_a_split_that_leaves_no_validation_image_trains_without_one(tiny_backbone, folder, caplog):
    from featx.data import open_source
    from featx.data import SourceSubset

    one_each = SourceSubset(open_source(folder), [0, 8])  # one image per class: nothing to hold out
    with caplog.at_level("WARNING", logger="featx.finetune._classifier"):
        clf = quick(tiny_backbone, "all", epochs=2, validation_fraction=0.1, early_stopping=1).fit(one_each)
    assert "leaves no validation image" in caplog.text
    assert len(clf.history_) == 2 and "val_top1" not in clf.history_[0] and clf.best_epoch_ is None


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"epochs": 0}, "epochs must be a positive int; got 0"),
        ({"batch_size": 1}, "batch_size must be an int >= 2"),
        ({"head_init": "zeros"}, "head_init must be 'random' or 'logreg'; got 'zeros'"),
        ({"validation_fraction": 1.0}, "validation_fraction must be in \\[0, 1\\); got 1.0"),
        ({"early_stopping": 0}, "early_stopping must be a positive int or None; got 0"),
    ],
)
def test_parameter_errors(tiny_backbone, folder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        quick(tiny_backbone, **kwargs).fit(folder)


def test_data_errors(tiny_backbone, folder, tmp_path):
    images = np.zeros((4, 20, 20, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="Labels come from the data source itself"):
        open_source(folder, ["a"] * 16)
    with pytest.raises(ValueError, match="needs a label for every training image; 4 of 4 have none"):
        quick(tiny_backbone).fit(images)
    with pytest.raises(ValueError, match="needs at least 2 classes; got \\['a'\\]"):
        quick(tiny_backbone).fit(images, ["a"] * 4)
    other = make_images(tmp_path / "other", classes=("ant", "bee"), per_class=2)
    with pytest.raises(ValueError, match="validation_data must have the training classes \\['cat', 'dog'\\]"):
        quick(tiny_backbone).fit(folder, validation_data=other)
    clf = quick(tiny_backbone, "all", epochs=1).fit(folder)
    with pytest.raises(ValueError, match="score needs a label for every image; 4 have none"):
        clf.score(images)


def test_data_helpers():
    labels = np.array([0] * 10 + [1] * 5 + [2])
    train, val = stratified_split(labels, 0.2, random_state=0)
    assert sorted(np.r_[train, val]) == list(range(16))
    assert [int((labels[val] == c).sum()) for c in range(3)] == [2, 1, 0]
    batches = epoch_batches(9, 4, seed=0, epoch=1)
    assert sorted(i for b in batches for i in b) == list(range(9)) and [len(b) for b in batches] == [4, 5]
    assert epoch_batches(9, 4, 0, 1) == batches != epoch_batches(9, 4, 0, 2)
    from PIL import Image

    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 80, 3), dtype=np.uint8))
    a = random_resized_crop(img, (32, 24), np.random.default_rng(1))
    assert a.shape == (32, 24, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, random_resized_crop(img, (32, 24), np.random.default_rng(1)))
    for shape in ((120, 20, 3), (20, 120, 3)):  # no draw fits: the central crop of the nearest allowed aspect
        tall = Image.fromarray(np.full(shape, 7, dtype=np.uint8))
        assert random_resized_crop(tall, (16, 16), np.random.default_rng(0), scale=(1.0, 1.0)).shape == (16, 16, 3)


_CHILD = """
import sys, time, torch
from featx.backbones import create_backbone
from featx.finetune import FineTuneClassifier
import featx.finetune._classifier as C  # private: the epoch function, slowed down
real = C.train_epoch
def slow(*a, **k):  # a slower epoch, so the kill lands inside one
    time.sleep(0.5)
    return real(*a, **k)
C.train_epoch = slow
torch.manual_seed(0)
bb = create_backbone("timm:test_resnet", pretrained=False)
clf = FineTuneClassifier(bb, "gradual", epochs=4, batch_size=4, progress=False, validation_fraction=0.25,
                         num_workers=0, checkpoint_dir=sys.argv[2]).fit(sys.argv[1])
torch.save(clf.net_.state_dict(), sys.argv[3])
"""


@pytest.mark.slow
def test_kill_9_mid_training_resumes_to_the_same_weights(tmp_path, folder):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

    def child(ckpt, out):
        return subprocess.Popen([sys.executable, "-c", _CHILD, str(folder), str(ckpt), str(out)], env=env)

    assert child(tmp_path / "a", tmp_path / "a.pt").wait() == 0
    proc = child(tmp_path / "b", tmp_path / "b.pt")
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (tmp_path / "b" / "finetune.pt").exists():
            time.sleep(0.05)
        time.sleep(0.3)  # into the next epoch
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    saved = torch.load(tmp_path / "b" / "finetune.pt", weights_only=True)
    assert 0 <= saved["epoch"] < 3 and not (tmp_path / "b.pt").exists()
    assert child(tmp_path / "b", tmp_path / "b.pt").wait() == 0
    a, b = torch.load(tmp_path / "a.pt", weights_only=True), torch.load(tmp_path / "b.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_autocast_precisions_train(tiny_backbone, folder, precision):
    clf = quick(tiny_backbone, "last:2", epochs=1, precision=precision).fit(folder)
    assert np.isfinite(clf.history_[0]["loss"]) and clf.predict_proba(folder).shape == (16, 2)


def test_pattern_policy_logs_each_frozen_name(tiny_backbone, folder, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="featx.finetune"):
        quick(tiny_backbone, ["layer1.0.conv1"], epochs=1).fit(folder)
    assert "frozen: layer1.0.conv1.weight" in caplog.text


def test_checkpoint_of_another_format_is_refused(tmp_path):
    # private: the checkpoint format, tested as such
    from featx.finetune._checkpoint import load_checkpoint, save_checkpoint

    assert load_checkpoint(tmp_path) is None
    save_checkpoint(tmp_path, {"epoch": 0})
    assert load_checkpoint(tmp_path)["epoch"] == 0
    torch.save({"format_version": 0}, tmp_path / "finetune.pt")
    with pytest.raises(ValueError, match="has format 0; expected 1. Delete it to start over"):
        load_checkpoint(tmp_path)


def test_sklearn_estimator_contract_without_fitting():
    """check_estimator feeds feature matrices, which an image model cannot take; the parts of the
    contract that do not need fitting are checked here."""
    from sklearn.base import clone
    from sklearn.utils.estimator_checks import (
        check_no_attributes_set_in_init,
        check_parameters_default_constructible,
    )

    est = FineTuneClassifier(freeze="lp-ft", epochs=3)
    check_no_attributes_set_in_init("FineTuneClassifier", est)
    check_parameters_default_constructible("FineTuneClassifier", est)
    assert clone(est).get_params() == est.get_params()
