import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from sklearn.decomposition import PCA

from featx.adapt import (
    BDA,
    CORAL,
    JDA,
    TCA,
    AdaptThenClassify,
    DomainStandardScaler,
    GFK,
    EasyTL,
    SubspaceAlignment,
    coral_maps,
    cov_power,
    geodesic_flow_factor,
    pca_basis,
    subspace_alignment,
)
from featx.domains import check_sample_domain, pack_domains, scale_per_domain, split_domains
from featx.features import FeatureSet
from featx.data import make_shifted_domains


def shifted(n=150, d=5, seed=0):
    """Two classes; the target is the source rescaled and rotated (a covariate shift). Every
    row keeps its true label here."""
    X, y, sd, y_target = make_shifted_domains(n, n, d, 2, class_sep=1.5, shift=0.0, rotation=1.0, stretch=2.0,
                                              random_state=seed)
    return X, np.r_[y[sd > 0], y_target], sd


def test_coral_matches_source_covariance_to_target():
    X, y, sd = shifted()
    Z = CORAL(reg=1e-8).fit_transform(X, y, sample_domain=sd)
    np.testing.assert_allclose(np.cov(Z[sd > 0].T), np.cov(X[sd < 0].T), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(Z[sd < 0], X[sd < 0])  # target rows unchanged
    np.testing.assert_array_equal(CORAL().fit(X, sample_domain=sd).transform(X[:3]), X[:3])  # default: target


def test_coral_maps_are_inverse_square_roots():
    X, _, sd = shifted(d=3)
    whiten, colour = (m.dense() for m in coral_maps(X[sd > 0], X[sd < 0], reg=0.5))
    cs, ct = np.cov(X[sd > 0].T), np.cov(X[sd < 0].T)  # the regulariser is relative to the mean variance
    cs, ct = cs + 0.5 * np.trace(cs) / 3 * np.eye(3), ct + 0.5 * np.trace(ct) / 3 * np.eye(3)
    np.testing.assert_allclose(whiten @ cs @ whiten, np.eye(3), atol=1e-10)
    np.testing.assert_allclose(colour @ colour, ct, atol=1e-10)
    scaled = coral_maps(1e3 * X[sd > 0], 1e-2 * X[sd < 0], reg=0.5)  # scale-free: the same map
    np.testing.assert_allclose((scaled[0].dense() @ scaled[1].dense()) * 1e3 / 1e-2, whiten @ colour, rtol=1e-8)


def test_coral_maps_each_source_to_the_target_and_leaves_source_constant_columns():
    rng = np.random.default_rng(4)
    A, B = rng.normal(size=(80, 4)) @ rng.normal(size=(4, 4)), 3 * rng.normal(size=(70, 4)) + 1
    T = rng.normal(size=(90, 4)) @ rng.normal(size=(4, 4))
    A[:, 3] = 0.0  # no variance in the first source: CORAL cannot give it the target's
    X, sd = np.vstack([A, B, T]), np.r_[np.full(80, 1), np.full(70, 2), np.full(90, -2)]
    Z = CORAL(reg=1e-9).fit_transform(X, sample_domain=sd)
    np.testing.assert_allclose(np.cov(Z[sd == 2].T), np.cov(T.T), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.cov(Z[sd == 1][:, :3].T), np.cov(T[:, :3].T), rtol=1e-5, atol=1e-6)
    assert not Z[sd == 1][:, 3].any()
    with pytest.raises(ValueError,
                       match=r"CORAL has no map for source domain 5; it was fitted on source domains \[1, 2\]"):
        CORAL().fit(X, sample_domain=sd).transform(X[:2], sample_domain=[5, 5])


@pytest.mark.parametrize("n, d", [(40, 10), (10, 40)])  # eigh of the covariance, thin SVD of the rows
def test_cov_power_is_exact_for_both_shapes(n, d):
    X = np.random.default_rng(1).normal(size=(n, d)) @ np.diag(np.linspace(0.1, 3, d))
    C = np.cov(X.T) + 0.3 * np.eye(d)
    inv_root, root = cov_power(X, 0.3, -0.5), cov_power(X, 0.3, 0.5)
    np.testing.assert_allclose(inv_root.dense() @ C @ inv_root.dense(), np.eye(d), atol=1e-9)
    np.testing.assert_allclose(root.dense() @ root.dense(), C, atol=1e-9)
    np.testing.assert_allclose(root.apply(X[:3]), X[:3] @ root.dense(), atol=1e-12)
    # reg = 0: a pseudo-inverse root, the projector onto the rows' span
    pinv = cov_power(X, 0.0, -0.5).dense()
    P = pinv @ np.cov(X.T) @ pinv
    np.testing.assert_allclose(P @ P, P, atol=1e-8)
    assert round(np.trace(P)) == min(n - 1, d)


def test_single_domain_fit_is_identity():
    X, y, _ = shifted()
    np.testing.assert_allclose(CORAL().fit_transform(X, y), X, atol=1e-10)


@pytest.mark.parametrize("n, d, rank", [(60, 12, 12), (12, 60, 12), (40, 30, 3)])
def test_pca_basis_spans_the_top_singular_directions(n, d, rank):
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, rank)) @ rng.normal(size=(rank, d)) * np.linspace(3, 1, d) + 5.0
    k = 5
    mean, P = pca_basis(X, k)
    vt = np.linalg.svd(X - X.mean(0), full_matrices=False)[2][:k].T
    np.testing.assert_allclose(mean, X.mean(0))
    top = min(k, rank)  # beyond the rank the data span no direction: exact zero vectors
    np.testing.assert_allclose(P[:, :top].T @ P[:, :top], np.eye(top), atol=1e-8)
    np.testing.assert_allclose(np.abs(P[:, :top].T @ vt[:, :top]), np.eye(top), atol=1e-6)
    assert (P[np.abs(P[:, :top]).argmax(0), np.arange(top)] > 0).all()
    assert not P[:, top:].any()


def test_subspace_alignment_matrix_and_maps():
    X, y, sd = shifted(d=6)
    sa = SubspaceAlignment(n_components=3).fit(X, sample_domain=sd)
    np.testing.assert_allclose(sa.M_, sa.components_source_.T @ sa.components_target_)
    np.testing.assert_allclose(sa.M_, subspace_alignment(sa.components_source_, sa.components_target_))
    Z = sa.transform(X, sample_domain=sd)
    src = X[sd > 0]
    np.testing.assert_allclose(Z[sd > 0], (src - src.mean(0)) @ sa.components_source_ @ sa.M_)
    assert Z.shape == (len(X), 3) and len(sa.get_feature_names_out()) == 3
    assert SubspaceAlignment().fit(X, sample_domain=sd).n_components_ == 6


def _orthonormal(rng, D, d):
    return np.linalg.qr(rng.normal(size=(D, d)))[0]


def _geodesic_kernel_by_quadrature(Ps, Pt, nodes=40):
    """G = int_0^1 Y(t) Y(t)^T dt along Edelman et al.'s Grassmann geodesic
    Y(t) = Ps V cos(t S) V^T + U sin(t S) V^T with (I - Ps Ps^T) Pt (Ps^T Pt)^-1 = U tan(S) V^T,
    integrated with Gauss-Legendre nodes: an independent route to GFK's closed form."""
    U, tan, Vt = np.linalg.svd((Pt - Ps @ (Ps.T @ Pt)) @ np.linalg.inv(Ps.T @ Pt), full_matrices=False)
    S = np.arctan(tan)
    t, w = np.polynomial.legendre.leggauss(nodes)
    t, w = (t + 1) / 2, w / 2
    def Y(t):
        return Ps @ Vt.T @ np.diag(np.cos(t * S)) @ Vt + U @ np.diag(np.sin(t * S)) @ Vt

    return sum(wi * Y(ti) @ Y(ti).T for ti, wi in zip(t, w)), Y(1.0)


def test_gfk_closed_form_equals_the_integral_along_the_geodesic():
    rng = np.random.default_rng(0)
    Ps, Pt = _orthonormal(rng, 12, 4), _orthonormal(rng, 12, 4)
    G_quad, Y1 = _geodesic_kernel_by_quadrature(Ps, Pt)
    np.testing.assert_allclose(Y1 @ Y1.T, Pt @ Pt.T, atol=1e-10)  # the geodesic ends on the target
    F = geodesic_flow_factor(Ps, Pt)
    np.testing.assert_allclose(F @ F.T, G_quad, atol=1e-10)
    # identical subspaces: the flow stays put and G is the projector onto them
    F = geodesic_flow_factor(Ps, Ps @ _orthonormal(rng, 4, 4))
    np.testing.assert_allclose(F @ F.T, Ps @ Ps.T, atol=1e-10)


def test_gfk_transform_reproduces_the_kernel():
    X, y, sd = shifted(d=6)
    gfk = GFK(n_components=2).fit(X, sample_domain=sd)
    Z = gfk.transform(X, sample_domain=sd)
    assert Z.shape == (len(X), 4) and len(gfk.get_feature_names_out()) == 4
    Xc = np.where((sd > 0)[:, None], X - X[sd > 0].mean(0), X - X[sd < 0].mean(0))
    G = gfk.components_ @ gfk.components_.T
    np.testing.assert_allclose(Z @ Z.T, Xc @ G @ Xc.T, atol=1e-9)
    assert GFK().fit(X, sample_domain=sd).n_components_ == 6


def test_adapt_then_classify_never_learns_the_masked_label_and_helps():
    # class means 0 and 3 on feature 0; the target shrinks that feature 5x, so a source-only
    # threshold near 1.5 calls every target row class 0. Re-colouring the source fixes it.
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    X = rng.normal(size=(400, 5)) + 3.0 * y[:, None] * np.eye(5)[0]
    sd = np.r_[np.ones(200), -2 * np.ones(200)].astype(int)
    X[sd < 0, 0] *= 0.2
    y_masked = np.where(sd < 0, -1, y)
    model = AdaptThenClassify(CORAL(reg=1e-3), LogisticRegression()).fit(X, y_masked, sample_domain=sd)
    assert model.classes_.tolist() == [0, 1]
    target = sd < 0
    adapted = model.score(X[target], y[target])
    plain = LogisticRegression().fit(X[~target], y[~target]).score(X[target], y[target])
    assert adapted > plain + 0.1
    assert model.predict_proba(X[target]).shape == (target.sum(), 2)
    # inferred domains: y == -1 rows are target
    inferred = AdaptThenClassify(CORAL(reg=1e-3), LogisticRegression()).fit(X, y_masked)
    np.testing.assert_array_equal(inferred.predict(X[target]), model.predict(X[target]))


def test_domain_standard_scaler_matches_the_first_two_moments():
    X, y, sd = shifted()
    X[:, 3] = np.where(sd > 0, 7.0, X[:, 3])  # constant within the source domain
    Z = DomainStandardScaler().fit_transform(X, sample_domain=sd)
    for dom in (sd > 0, sd < 0):
        np.testing.assert_allclose(Z[dom].mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z[sd < 0].std(0), 1.0)
    np.testing.assert_allclose(Z[sd > 0].std(0), [1.0, 1.0, 1.0, 0.0, 1.0])
    # unseen rows without a domain are mapped as target
    scaler = DomainStandardScaler().fit(X, sample_domain=sd)
    np.testing.assert_allclose(scaler.transform(X[sd < 0]), Z[sd < 0])


def test_adapt_then_classify_chains_a_list_of_adapters():
    X, y, sd = shifted()
    y_masked = np.where(sd < 0, -1, y)
    chained = AdaptThenClassify([DomainStandardScaler(), CORAL()], LogisticRegression()).fit(X, y_masked,
                                                                                             sample_domain=sd)
    Z = DomainStandardScaler().fit_transform(X, sample_domain=sd)
    by_hand = AdaptThenClassify(CORAL(), LogisticRegression()).fit(Z, y_masked, sample_domain=sd)
    target = sd < 0
    np.testing.assert_allclose(chained.predict_proba(X[target]), by_hand.predict_proba(Z[target]))
    assert [type(a).__name__ for a in chained.adapter_] == ["DomainStandardScaler", "CORAL"]
    with pytest.raises(ValueError, match="empty list"):
        AdaptThenClassify([]).fit(X, y_masked, sample_domain=sd)
    with pytest.raises(ValueError, match="'passthrough'; got 'coral'"):
        AdaptThenClassify("coral").fit(X, y_masked, sample_domain=sd)


def test_pack_and_split_feature_sets():
    def fs(n, dom, seed):
        rng = np.random.default_rng(seed)
        return FeatureSet(X=rng.normal(size=(n, 4)).astype(np.float32), y=rng.integers(0, 2, n),
                          ids=np.array([f"{dom}{i}" for i in range(n)]), domains=np.array([dom] * n),
                          classes=("a", "b"))

    src, tgt = fs(5, "amazon", 0), fs(3, "webcam", 1)
    X, y, sd, names = pack_domains(src, tgt)
    assert sd.tolist() == [1] * 5 + [-2] * 3 and names == {1: "amazon", -2: "webcam"}
    assert (y[5:] == -1).all() and y[:5].tolist() == src.y.tolist()
    Xs, ys, Xt, yt = split_domains(X, y, sd)
    np.testing.assert_array_equal(Xt, tgt.X)
    assert pack_domains([src], [tgt], mask_target_labels=False)[1][5:].tolist() == tgt.y.tolist()
    with pytest.raises(ValueError, match="at least one source"):
        pack_domains([])
    with pytest.raises(ValueError, match="same number of features"):
        pack_domains(src, FeatureSet(X=np.zeros((1, 2)), y=np.zeros(1, int), ids=np.array(["x"]),
                                     domains=np.array(["d"]), classes=("a", "b")))
    with pytest.raises(ValueError, match="share their classes"):
        pack_domains(src, FeatureSet(X=np.zeros((1, 4)), y=np.zeros(1, int), ids=np.array(["x"]),
                                     domains=np.array(["d"]), classes=("c",)))


def test_check_sample_domain_inference_and_errors():
    X = np.zeros((3, 2))
    assert check_sample_domain(X).tolist() == [1, 1, 1]
    assert check_sample_domain(X, [0, -1, 2]).tolist() == [1, -2, 1]
    assert check_sample_domain(X, ["a", "b", "c"]).tolist() == [1, 1, 1]
    assert check_sample_domain(X, None, [1.0, -2.0, 1.0]).dtype == np.int64
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[3, 2\]"):
        check_sample_domain(X, [0, 1])
    with pytest.raises(ValueError, match=r"sample_domain must have shape \(3,\)"):
        check_sample_domain(X, None, [1, 1])
    with pytest.raises(ValueError, match="sample_domain must hold integers"):
        check_sample_domain(X, None, [0.5, 1, 1])


@pytest.mark.parametrize(
    "est, sd, match",
    [
        (CORAL(), [1, -2, -2, -2], "at least 2 source rows"),
        (CORAL(), [1, 1, 1, -2], "at least 2 target rows"),
        (CORAL(reg=-1), [1, 1, -2, -2],
         r"'reg' parameter of CORAL must be a float in the range \[0.0, inf\). Got -1 instead"),
        (SubspaceAlignment(n_components=9), [1, 1, -2, -2], r"'n_components' parameter .* int in \[1, 2\]"),
        (GFK(n_components=0), [1, 1, -2, -2], r"'n_components' parameter of GFK must be an int in \[1, 2\]"),
    ],
)
def test_adapter_errors(est, sd, match):
    X = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.raises(ValueError, match=match):
        est.fit(X, sample_domain=np.array(sd))


def test_adapt_then_classify_needs_labelled_source():
    X = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.raises(ValueError, match="needs labelled source rows"):
        AdaptThenClassify().fit(X, np.array([-1, -1, -1, -1]))


def mmd2(A, B):
    return float(((A.mean(0) - B.mean(0)) ** 2).sum())


@pytest.mark.parametrize("est", [TCA(3), TCA(3, kernel="rbf"), JDA(3, n_iter=3), BDA(3, n_iter=3, balance=0.3)])
def test_transfer_components_lower_the_mmd_between_domains(est):
    X, y, sd = shifted(n=80, d=6)
    X[sd < 0] += 2.0  # also a mean shift
    y_masked = np.where(sd < 0, -1, y)
    Z = est.fit_transform(X, y_masked, sample_domain=sd)
    base = PCA(3).fit_transform(X)  # an unaligned projection of the same width
    rel = lambda A: mmd2(A[sd > 0], A[sd < 0]) / A.var(0).sum()  # noqa: E731 - scale-free MMD
    assert Z.shape == (len(X), 3)
    assert rel(Z) < 0.2 * rel(base)


def test_jda_uses_no_target_label():
    X, y, sd = shifted(n=60, d=5)
    masked = np.where(sd < 0, -1, y)
    shuffled = masked.copy()
    a = JDA(3, n_iter=3).fit_transform(X, masked, sample_domain=sd)
    # any values in the target rows of y must be ignored when sample_domain says target
    shuffled[sd < 0] = np.random.default_rng(0).integers(0, 2, (sd < 0).sum())
    b = JDA(3, n_iter=3).fit_transform(X, shuffled, sample_domain=sd)
    np.testing.assert_allclose(a, b)
    assert JDA(3, n_iter=2).fit(X, masked, sample_domain=sd).pseudo_labels_.shape == ((sd < 0).sum(),)


def test_tca_memory_budget_switches_to_nystrom_or_refuses(caplog):
    X, y, sd = shifted(n=300, d=4)
    exact = TCA(2, kernel="rbf").fit(X, sample_domain=sd)
    assert exact.landmarks_used_ == 600
    small = TCA(2, kernel="rbf", max_memory=600_000, random_state=0)
    with caplog.at_level("WARNING"):
        small.fit(X, sample_domain=sd)
    assert 10 <= small.landmarks_used_ < 600 and "Nystrom" in caplog.text
    with pytest.raises(ValueError, match="n_landmarks=500 needs about"):
        TCA(2, kernel="rbf", n_landmarks=500, max_memory=600_000).fit(X, sample_domain=sd)
    with pytest.raises(ValueError, match="does not fit max_memory"):
        TCA(2, kernel="rbf", max_memory=1000).fit(X, sample_domain=sd)
    with pytest.raises(ValueError, match="over max_memory"):
        TCA(2, max_memory=1000).fit(X, sample_domain=sd)


def test_nystrom_with_all_rows_reproduces_the_kernel():
    # private: the kernel map's internals, tested as such
    from featx.adapt._kernel import FeatureMap, rbf_kernel

    X = np.random.default_rng(0).normal(size=(40, 3))
    fm = FeatureMap(X, "rbf", 0.5, 40, 0)
    Phi = fm(X)
    np.testing.assert_allclose(Phi @ Phi.T, rbf_kernel(X, X, 0.5), atol=1e-6)


@pytest.mark.parametrize(
    "est, match",
    [
        (TCA(kernel="poly"), "'kernel' parameter of TCA"),
        (TCA(0), "'n_components' parameter of TCA"),
        (TCA(mu=0), "'mu' parameter of TCA"),
        (JDA(n_iter=0), "'n_iter' parameter of JDA"),
        (BDA(balance=2), "'balance' parameter of BDA"),
        (TCA(kernel="rbf", n_landmarks=0), "'n_landmarks' parameter of TCA"),
    ],
)
def test_tca_family_parameter_errors(est, match):
    X, y, sd = shifted(n=20, d=3)
    with pytest.raises(ValueError, match=match):
        est.fit(X, np.where(sd < 0, -1, y), sample_domain=sd)


def test_intra_domain_programming_is_the_lp_optimum():
    from scipy.optimize import linprog

    from featx.adapt import intra_domain_programming

    rng = np.random.default_rng(0)
    for n, C in [(12, 4), (30, 6), (7, 7)]:
        D = rng.random((n, C))
        D[:, 0] -= 1.0  # most rows prefer class 0, so the class constraints bind
        assign = intra_domain_programming(D)
        assert set(assign) == set(range(C))
        # the LP: min sum D*M, rows sum to 1, columns sum >= 1, 0 <= M <= 1
        A_eq = np.kron(np.eye(n), np.ones(C))
        A_ub = -np.kron(np.ones(n), np.eye(C))
        lp = linprog(D.ravel(), A_ub=A_ub, b_ub=-np.ones(C), A_eq=A_eq, b_eq=np.ones(n), bounds=(0, 1))
        assert D[np.arange(n), assign].sum() == pytest.approx(lp.fun, abs=1e-9)
    assert intra_domain_programming(np.array([[0.0, 1.0, 2.0]])).tolist() == [0]  # fewer rows than classes


def test_easytl_on_shifted_data_and_errors():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    X = rng.normal(size=(400, 5)) + 3.0 * y[:, None] * np.eye(5)[0]
    sd = np.r_[np.ones(200), -2 * np.ones(200)].astype(int)
    model = EasyTL().fit(X, np.where(sd < 0, -1, y), sample_domain=sd)
    assert model.classes_.tolist() == [0, 1] and model.score(X[sd < 0], y[sd < 0]) > 0.9
    with pytest.raises(ValueError, match="'intra_align' parameter of EasyTL"):
        EasyTL(intra_align="gfk").fit(X, y)
    with pytest.raises(ValueError, match="EasyTL needs labelled source rows"):
        EasyTL().fit(X, np.full(400, -1))


def test_domain_scaled_equals_scaling_each_domain_first():
    from featx.adapt import DomainScaled

    rng = np.random.default_rng(3)
    X = rng.normal(size=(90, 5)) * np.r_[np.ones(30), 3 * np.ones(30), 0.5 * np.ones(30)][:, None]
    y = np.r_[np.arange(30) % 2, np.full(60, -1)]
    sd = np.r_[np.ones(30, int), -np.ones(30, int), np.full(30, -2)]
    X[30:] += 5.0
    for how in ("zscore", "unit"):
        model = DomainScaled(AdaptThenClassify(CORAL()), how=how).fit(X, y, sample_domain=sd)
        by_hand = AdaptThenClassify(CORAL()).fit(scale_per_domain(X, sd, how), y, sample_domain=sd)
        Z = scale_per_domain(X, sd, how)
        np.testing.assert_array_equal(model.predict(X[30:], sample_domain=sd[30:]),
                                      by_hand.predict(Z[30:], sample_domain=sd[30:]))
    with pytest.raises(ValueError, match=r"fitted on 2 target domains \[-2, -1\]; pass sample_domain"):
        model.predict(X[30:])
    with pytest.raises(ValueError,
                       match=r"sample_domain has values \[-7\] not seen in fit; expected values from \[-2, -1, 1\]"):
        model.predict(X[:2], sample_domain=[-7, -7])
    with pytest.raises(ValueError, match="The 'how' parameter of DomainScaled must be a str among"):
        DomainScaled(how="l2").fit(X, y, sample_domain=sd)
    single = DomainScaled(how="zscore").fit(X[:60], y[:60], sample_domain=sd[:60])
    np.testing.assert_array_equal(single.predict(X[30:60]), single.predict(X[30:60], sample_domain=sd[30:60]))
    # one domain: no other domain's moments to match, so the rows are left as they are
    alone = DomainScaled(AdaptThenClassify("passthrough"), how="zscore").fit(X[:30], y[:30], sample_domain=sd[:30])
    assert not alone.means_.any() and (alone.scales_ == 1).all()
    np.testing.assert_array_equal(alone.estimator_.classifier_.coef_,
                                  AdaptThenClassify("passthrough").fit(X[:30], y[:30]).classifier_.coef_)
