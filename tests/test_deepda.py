"""Deep-DA heads on embeddings: the schedules, the gradient reversal, the losses' properties,
seeding, and the estimators on a shifted target."""

import math

import numpy as np
import pytest
import torch

from featx.deepda import (
    CDAN,
    DANN,
    MCC,
    annealed_lr,
    certainty_weights,
    domain_adversarial_loss,
    grl_coefficient,
    minimum_class_confusion,
    multilinear_map,
    reverse_gradient,
)
from featx.methods import make_method


def test_the_schedules_start_and_end_where_the_paper_says():
    assert annealed_lr(0.0, 0.01) == 0.01
    assert annealed_lr(1.0, 0.01) == pytest.approx(0.01 / 11 ** 0.75)
    assert grl_coefficient(0.0) == 0.0
    assert grl_coefficient(1.0) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    assert all(grl_coefficient(a) < grl_coefficient(b) for a, b in [(0.1, 0.2), (0.2, 0.5)])


def test_the_reversal_layer_is_the_identity_forward_and_flips_the_gradient():
    x = torch.randn(4, 3, requires_grad=True)
    y = reverse_gradient(x, 0.5)
    assert torch.equal(y, x)
    y.sum().backward()
    assert torch.allclose(x.grad, torch.full((4, 3), -0.5))


def test_certainty_weights_favour_confident_rows_and_average_one():
    probs = torch.tensor([[0.98, 0.01, 0.01], [1 / 3, 1 / 3, 1 / 3]])
    w = certainty_weights(probs)
    assert w[0] > w[1] and float(w.mean()) == pytest.approx(1.0)


def test_the_multilinear_map_is_the_outer_product_and_its_random_form_is_bilinear():
    f, g = torch.randn(5, 4), torch.softmax(torch.randn(5, 3), dim=1)
    h = multilinear_map(f, g)
    assert h.shape == (5, 12)
    assert torch.allclose(h.view(5, 3, 4), g.unsqueeze(2) * f.unsqueeze(1))
    maps = (torch.randn(4, 16), torch.randn(3, 16))
    r = multilinear_map(f, g, maps)
    assert r.shape == (5, 16)
    assert torch.allclose(multilinear_map(2 * f, g, maps), 2 * r, atol=1e-5)


def test_mcc_is_zero_for_confident_distinct_predictions_and_high_for_confused_ones():
    sharp = torch.eye(3).repeat(4, 1) * 50.0  # every row certain, the classes apart
    flat = torch.zeros(12, 3)  # every row uniform
    assert float(minimum_class_confusion(sharp, 2.5)) < 1e-6
    assert float(minimum_class_confusion(flat, 2.5)) == pytest.approx(2 / 3)


def test_the_adversarial_loss_is_low_when_the_discriminator_separates_the_domains():
    disc = torch.nn.Linear(1, 1)
    with torch.no_grad():
        disc.weight.fill_(10.0)
        disc.bias.zero_()
    apart = domain_adversarial_loss(disc, torch.ones(8, 1), -torch.ones(8, 1), 1.0)
    mixed = domain_adversarial_loss(disc, torch.zeros(8, 1), torch.zeros(8, 1), 1.0)
    assert float(apart.detach()) < 1e-3 and float(mixed.detach()) == pytest.approx(math.log(2))


def drifted(n=200, seed=0):
    """Two moons-like classes in 8-d; the target rotated in the first two axes and shifted,
    per-domain z-scored (as featx's models see rows)."""
    rng = np.random.default_rng(seed)
    ys, yt = np.arange(n) % 2, np.arange(n) % 2
    Xs = rng.normal(size=(n, 8)) * 0.6
    Xs[:, 0] += 2.0 * (2 * ys - 1)
    Xt = rng.normal(size=(n, 8)) * 0.6
    Xt[:, 0] += 2.0 * (2 * yt - 1)
    angle = 0.9
    R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    Xt[:, :2] = Xt[:, :2] @ R.T
    X = np.vstack([Xs, Xt])
    X[:n] = (X[:n] - X[:n].mean(0)) / X[:n].std(0)
    X[n:] = (X[n:] - X[n:].mean(0)) / X[n:].std(0)
    return X, np.r_[ys, np.full(n, -1)], np.r_[np.zeros(n, int), np.full(n, -1)], yt


@pytest.mark.parametrize("cls", [DANN, CDAN, MCC])
def test_each_head_learns_the_target_and_uses_it(cls):
    X, y, sd, yt = drifted()
    model = cls(max_iter=300, random_state=1).fit(X, y, sample_domain=sd)
    acc = np.mean(model.predict(X[sd < 0]) == yt)
    assert acc > 0.85 and model.n_target_rows_ == 200
    assert model.history_[0]["step"] == 0 and model.history_[-1]["step"] == 299
    assert model.history_[-1]["transfer"] != 0.0
    proba = model.predict_proba(X[:5])
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    assert model.embed(X[:5]).shape == (5, 256)
    source_only = cls(max_iter=300, random_state=1).fit(X[sd >= 0], y[sd >= 0])
    assert source_only.n_target_rows_ == 0 and source_only.history_[-1]["transfer"] == 0.0


def test_a_seed_gives_the_same_model_and_leaves_the_callers_rng_alone():
    X, y, sd, _ = drifted(n=60)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = DANN(max_iter=50, random_state=3).fit(X, y, sample_domain=sd).predict_proba(X)
    after = torch.rand(1)
    b = DANN(max_iter=50, random_state=3).fit(X, y, sample_domain=sd).predict_proba(X)
    c = DANN(max_iter=50, random_state=4).fit(X, y, sample_domain=sd).predict_proba(X)
    assert torch.equal(before, after)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_cdan_switches_to_the_random_map_past_randomized_dim():
    X, y, sd, _ = drifted(n=60)
    model = CDAN(max_iter=20, bottleneck_dim=64, randomized_dim=100).fit(X, y, sample_domain=sd)  # 64*2 > 100
    assert not hasattr(model, "_random_maps")  # fit-time state only
    assert model.predict(X[:3]).shape == (3,)


def test_the_registry_builds_them_without_importing_torch_at_registry_import():
    X, y, sd, yt = drifted(n=100)
    for name in ("dann", "cdan-e", "mcc"):
        model = make_method(name).set_params(estimator__max_iter=100).fit(X, y, sample_domain=sd)
        assert np.mean(model.predict(X[sd < 0]) == yt) > 0.7
    assert make_method("cdan-e").estimator.entropy_conditioning is True


@pytest.mark.parametrize(("make", "message"), [
    (lambda: DANN(bottleneck_dim=0),
     r"'bottleneck_dim' parameter of DANN must be an int in the range \[1, inf\)\. Got 0"),
    (lambda: DANN(max_iter=1.5), r"'max_iter' parameter of DANN must be an int in the range \[1, inf\)\. Got 1\.5"),
    (lambda: DANN(batch_size=1), r"'batch_size' parameter of DANN must be an int in the range \[2, inf\)\. Got 1"),
    (lambda: DANN(lr=0), r"'lr' parameter of DANN must be a float in the range \(0\.0, inf\)\. Got 0"),
    (lambda: DANN(trade_off=-1), r"'trade_off' parameter of DANN must be a float in the range \[0\.0, inf\)\. Got -1"),
    (lambda: DANN(weight_decay=-0.1),
     r"'weight_decay' parameter of DANN must be a float in the range \[0\.0, inf\)\. Got -0\.1"),
    (lambda: DANN(hidden_size=0), r"'hidden_size' parameter of DANN must be an int in the range \[1, inf\)\. Got 0"),
    (lambda: DANN(random_state=None), r"'random_state' parameter of DANN must be an int .* Got None"),
    (lambda: CDAN(randomized_dim=0),
     r"'randomized_dim' parameter of CDAN must be an int in the range \[1, inf\)\. Got 0"),
    (lambda: MCC(temperature=0.0),
     r"'temperature' parameter of MCC must be a float in the range \(0\.0, inf\)\. Got 0\.0"),
    (lambda: MCC(device="tpu"), r"device must be 'auto', 'cpu', 'cuda\[:N\]' or 'mps'; got 'tpu'"),
])
def test_bad_parameters_say_what_was_expected(make, message):
    X, y, sd, _ = drifted(n=20)
    with pytest.raises(ValueError, match=message):
        make().fit(X, y, sample_domain=sd)


def test_one_labelled_class_is_refused():
    X, y, sd, _ = drifted(n=20)
    y = np.where(y == 1, 0, y)
    with pytest.raises(ValueError, match=r"DANN needs labelled source rows of at least 2 classes; got 1 class \(0\)\."):
        DANN(max_iter=5).fit(X, y, sample_domain=sd)
