"""Fine-tuning with a domain-adaptation objective (ft-dann, ft-cdan-e, ft-mcc) and at another
input size: losses shared with the deep heads, seeds, resume, refusals (tiny models, CPU)."""

import numpy as np
import pytest
import torch

# private: the losses the objectives call, spied on
import featx.deepda._objectives as objectives
from featx.deepda import CDAN, DANN, MCC, minimum_class_confusion, transfer_objective
from featx.finetune import FineTuneClassifier
# private: the target batches of one epoch
from featx.finetune._data import paired_batches

from .conftest import interrupted_fit, make_images


@pytest.fixture
def folders(tmp_path):
    return make_images(tmp_path / "source", per_class=6), make_images(tmp_path / "target", per_class=4, seed=1)


def quick(backbone, **kw):
    kw = {"epochs": 2, "batch_size": 4, "progress": False, "validation_fraction": 0.0, "num_workers": 0,
          "freeze": "last:1", "da_loss": "mcc", **kw}
    return FineTuneClassifier(backbone, **kw)


def _rows(n=40, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.r_[(X[: n // 2, 0] > 0).astype(int), -np.ones(n - n // 2, int)]
    return X, y, np.r_[np.ones(n // 2, int), -np.ones(n - n // 2, int)]


@pytest.mark.parametrize("loss, spied, head", [("mcc", "minimum_class_confusion", MCC),
                                               ("dann", "domain_adversarial_loss", DANN),
                                               ("cdan-e", "domain_adversarial_loss", CDAN)])
def test_the_deep_heads_and_fine_tuning_compute_each_loss_with_one_function(tiny_backbone, folders, monkeypatch,
                                                                            loss, spied, head):
    calls = []
    real = getattr(objectives, spied)

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(objectives, spied, spy)
    X, y, sd = _rows()
    model = head(max_iter=3, bottleneck_dim=4) if head is MCC else head(max_iter=3, bottleneck_dim=4, hidden_size=8)
    model.fit(X, y, sample_domain=sd)
    from_heads = len(calls)
    quick(tiny_backbone, da_loss=loss, epochs=1).fit(folders[0], target_data=folders[1])
    assert from_heads == 3 and len(calls) == 3 + 3  # 3 steps each: 12 source images in batches of 4


def test_objectives_compute_the_papers_losses():
    torch.manual_seed(0)
    f_s, f_t, l_s, l_t = torch.randn(6, 5), torch.randn(6, 5), torch.randn(6, 3), torch.randn(6, 3)
    assert torch.equal(transfer_objective("mcc", 5, 3)(f_s, f_t, l_s, l_t, 0.5), minimum_class_confusion(l_t, 2.5))
    dann = transfer_objective("dann", 5, 3, hidden_size=4)
    assert 0 < float(dann(f_s, f_t, l_s, l_t, 0.0).detach()) < 5  # a binary cross-entropy
    exact, randomised = transfer_objective("cdan-e", 5, 3), transfer_objective("cdan-e", 2000, 3)
    assert not exact.randomized and randomised.randomized and randomised.Rf.shape == (2000, 1024)
    with pytest.raises(ValueError, match="Unknown transfer objective 'coral'; expected one of"):
        transfer_objective("coral", 5, 3)


def test_paired_target_batches_cover_the_target_evenly_and_follow_the_seed():
    batches = paired_batches([4, 4, 4, 3], 5, seed=0, epoch=0)
    assert [len(b) for b in batches] == [4, 4, 4, 3]
    counts = np.bincount(np.concatenate(batches), minlength=5)
    assert counts.min() == 3 and counts.max() == 3  # 15 = 3 permutations of 5
    assert paired_batches([4, 4], 9, 0, 0) != paired_batches([4, 4], 9, 1, 0)
    assert paired_batches([4, 4], 9, 0, 0) != paired_batches([4, 4], 9, 0, 1)


@pytest.mark.parametrize("loss", ["dann", "cdan-e", "mcc"])
def test_each_objective_trains_reports_its_loss_and_predicts_an_image_alone_as_in_a_batch(tiny_backbone, folders,
                                                                                         loss):
    clf = quick(tiny_backbone, da_loss=loss, input_size=64).fit(folders[0], target_data=folders[1])
    assert clf.n_target_images_ == 8 and all(np.isfinite(h["transfer_loss"]) for h in clf.history_)
    assert clf.preprocessing_.input_size == (64, 64)
    batch = clf.predict_proba(folders[1])
    paths = sorted(str(p) for p in folders[1].rglob("*.png"))
    alone = np.vstack([clf.predict_proba([p]) for p in paths[:3]])
    np.testing.assert_array_equal(alone, batch[:3])


def test_the_seed_reaches_every_random_step_and_leaves_the_callers_rng_alone(tiny_backbone, folders):
    def weights(**kw):
        net = quick(tiny_backbone, da_loss="cdan-e", **kw).fit(folders[0], target_data=folders[1]).net_
        return torch.cat([p.detach().flatten() for p in net.parameters()])

    state = torch.random.get_rng_state()
    a, b, c = weights(random_state=1), weights(random_state=1), weights(random_state=2)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_a_resumed_da_run_matches_an_uninterrupted_one(tiny_backbone, folders, tmp_path, monkeypatch):
    kw = dict(epochs=3, da_loss="dann", random_state=3, freeze="lp-ft", lp_epochs=1)
    full = quick(tiny_backbone, checkpoint_dir=tmp_path / "a", **kw).fit(folders[0], target_data=folders[1])
    interrupted_fit(monkeypatch, lambda: quick(tiny_backbone, checkpoint_dir=tmp_path / "b", **kw).fit(
        folders[0], target_data=folders[1]))
    saved = torch.load(tmp_path / "b" / "finetune.pt", weights_only=True)
    assert saved["epoch"] == 1 and any(k.startswith("discriminator") for k in saved["transfer"])
    resumed = quick(tiny_backbone, checkpoint_dir=tmp_path / "b", **kw).fit(folders[0], target_data=folders[1])
    for (k, a), b in zip(full.net_.state_dict().items(), resumed.net_.state_dict().values()):
        assert torch.equal(a, b), k
    assert [h["transfer_loss"] for h in full.history_] == [h["transfer_loss"] for h in resumed.history_]
    with pytest.raises(ValueError, match="was written by a run with other settings or data"):
        quick(tiny_backbone, checkpoint_dir=tmp_path / "b", **{**kw, "trade_off": 0.5}).fit(
            folders[0], target_data=folders[1])


@pytest.mark.parametrize("kwargs, target, match", [
    ({"da_loss": "mcc"}, False, "da_loss='mcc' with target_data missing"),
    ({"da_loss": None}, True, "da_loss=None with target_data given"),
    ({"da_loss": "coral"}, True, r"da_loss must be one of \['dann', 'cdan-e', 'cdan', 'mcc'\] or None; got 'coral'"),
    ({"trade_off": -1.0}, True, "trade_off must be a number >= 0; got -1.0"),
    ({"input_size": 16}, True, "input_size must be an int of at least 32 pixels"),
])
def test_refusals(tiny_backbone, folders, kwargs, target, match):
    with pytest.raises(ValueError, match=match):
        quick(tiny_backbone, **kwargs).fit(folders[0], target_data=folders[1] if target else None)


def test_a_target_of_one_image_is_refused(tiny_backbone, folders):
    one = sorted(str(p) for p in folders[1].rglob("*.png"))[:1]
    with pytest.raises(ValueError, match="target_data needs at least 2 images"):
        quick(tiny_backbone).fit(folders[0], target_data=one)


def test_compare_runs_ft_mcc_on_the_target_images_at_the_input_size_asked(tiny_backbone, folders, tmp_path,
                                                                          monkeypatch):
    from featx.data import InMemoryImages
    from featx.evaluate import compare
    from featx.methods import needs_target, selection_grid

    seen = []
    real = FineTuneClassifier.fit

    def spy(self, data, y=None, *, target_data=None, validation_data=None):
        seen.append((self.da_loss, None if target_data is None else len(target_data), self.backbone.preprocessing))
        return real(self, data, y, target_data=target_data, validation_data=validation_data)

    monkeypatch.setattr(FineTuneClassifier, "fit", spy)
    rng = np.random.default_rng(3)
    target = InMemoryImages(rng.integers(0, 256, (10, 40, 40, 3), dtype=np.uint8), ["cat", "dog"] * 5,
                            classes=["cat", "dog"])
    kw = dict(backbone=tiny_backbone, budgets=("all",), repeats=1, ft_epochs=1, input_size=64,
              cache_dir=tmp_path / "cache", progress=False)
    result = compare(folders[0], target=target, methods=["logreg", "ft-last", "ft-mcc"], **kw)
    assert not result.failures, result.failures
    assert {r["method"] for r in result.records} == {"logreg", "ft-last", "ft-mcc"}
    assert [(loss, n) for loss, n, _ in seen] == [(None, None), ("mcc", 10)]
    assert all(pre.input_size == (64, 64) for _, _, pre in seen) and result.info["input_size"] == [64, 64]
    assert needs_target("ft-mcc") and not needs_target("ft-last") and len(selection_grid("ft-dann")) == 9
    with pytest.raises(ValueError, match=r"Methods \['ft-mcc'\] train on unlabelled target images"):
        compare(folders[0], methods=["ft-mcc"], **kw)


def test_the_input_size_is_part_of_the_cache_key_and_of_the_remembered_recipe(folders, tmp_path):
    from featx.backbones import create_backbone
    from featx.extract import extract_features

    bb = create_backbone("timm:test_resnet", pretrained=False)
    a = extract_features(folders[0], bb, cache_dir=tmp_path, progress=False, num_workers=0)
    b = extract_features(folders[0], bb, cache_dir=tmp_path, progress=False, num_workers=0, input_size=64)
    assert a.metadata["path"] != b.metadata["path"] and b.metadata["key"]["preprocessing"]["input_size"] == [64, 64]
    assert not np.allclose(a.X, b.X) and a.X.shape == b.X.shape
    assert bb.at_input_size(None) is bb and bb.at_input_size(160) is bb  # test_resnet's own size
    with pytest.raises(ValueError, match="input_size must be an int of at least 32 pixels"):
        bb.at_input_size(True)


def test_a_remembered_named_extraction_keeps_its_input_size(tmp_path):
    from featx.data import load_digits_images
    from featx.extract import extract_features

    digits = load_digits_images(n_samples=6)
    small = extract_features(digits, "efficientnet_lite0", cache_dir=tmp_path, input_size=32, progress=False)
    again = extract_features(digits, "efficientnet_lite0", cache_dir=tmp_path, input_size=32, progress=False)
    other = extract_features(digits, "efficientnet_lite0", cache_dir=tmp_path, input_size=64, progress=False)
    assert again.metadata["n_computed"] == 0 and again.metadata["path"] == small.metadata["path"]
    assert other.metadata["n_computed"] == 6 and other.metadata["path"] != small.metadata["path"]


def test_compare_over_backbones_runs_each_and_their_ensemble_on_the_same_draws(folders, tmp_path):
    from featx.backbones import create_backbone
    from featx.data import InMemoryImages
    from featx.evaluate import compare, write_report

    torch.manual_seed(0)
    a = create_backbone("timm:test_resnet", pretrained=False)
    b = create_backbone("timm:test_efficientnet", pretrained=False)
    rng = np.random.default_rng(3)
    target = InMemoryImages(rng.integers(0, 256, (10, 40, 40, 3), dtype=np.uint8), ["cat", "dog"] * 5,
                            classes=["cat", "dog"])
    kw = dict(target=target, budgets=("2", "all"), repeats=2, methods=["logreg", "coral", "ft-last"], ft_epochs=1,
              ft_budgets=("all",), cache_dir=tmp_path / "cache", progress=False, n_jobs=1)
    result = compare(folders[0], backbones=[a, b], **kw)
    assert not result.failures, result.failures
    names = ["timm:test_resnet", "timm:test_efficientnet"]
    assert result.info["methods"] == [f"logreg@{n}" for n in names] + ["logreg@ensemble"] + \
        [f"coral@{n}" for n in names] + ["coral@ensemble", "ft-last"]
    draws = {}
    for r in result.records:
        draws.setdefault(r["method"], []).append((r["budget"], r["draw"]))
    assert len({tuple(v) for m, v in draws.items() if m != "ft-last"}) == 1  # the same draws for every row
    alone = {n: compare(folders[0], backbone=bb, **{**kw, "methods": ["logreg"]}) for n, bb in zip(names, (a, b))}
    for n in names:  # a backbone's row is the model on its features alone
        assert [r["accuracy"] for r in result.records if r["method"] == f"logreg@{n}"] == \
            [r["accuracy"] for r in alone[n].records]
    assert set(result.extraction["train"]["backbones"]) == set(names)
    text = write_report(result, tmp_path / "report")["markdown"].read_text()
    assert "| embed s |" in text and "  - timm:test_efficientnet: " in text
    with pytest.raises(ValueError, match="backbones needs at least 2 backbones"):
        compare(folders[0], backbones="timm:test_resnet", **kw)
    with pytest.raises(ValueError, match="backbones must differ"):
        compare(folders[0], backbones=[a, a], **kw)
    with pytest.raises(ValueError, match="backbones and layer_sweep"):
        compare(folders[0], backbones=[a, b], layer_sweep=True, **kw)


def test_selection_fits_a_da_strategy_on_the_target_rows_it_is_given(tiny_backbone, folders, monkeypatch):
    from featx.data import open_source
    from featx.evaluate._finetune_selection import FineTuneOnRows, ImageTable  # private: the validators' fit

    seen = []
    real = FineTuneClassifier.fit

    def spy(self, data, y=None, *, target_data=None, validation_data=None):
        seen.append((len(data), None if target_data is None else len(target_data)))
        return real(self, data, y, target_data=target_data, validation_data=validation_data)

    monkeypatch.setattr(FineTuneClassifier, "fit", spy)
    source, target = open_source(folders[0]), open_source(folders[1])
    table = ImageTable([source, target])
    X = np.r_[np.arange(12), 12 + np.arange(8)]
    y = np.r_[np.asarray(source.labels), -np.ones(8, int)]
    sd = np.r_[np.ones(12, int), -np.ones(8, int)]
    for loss, expected in (("mcc", (12, 8)), (None, (12, None))):
        FineTuneOnRows(table, lambda labels, loss=loss: quick(tiny_backbone, da_loss=loss, epochs=1)).fit(
            X, y, sample_domain=sd)
        assert seen[-1] == expected
