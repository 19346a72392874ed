"""Numerical cross-checks against skada, the reference scikit-learn DA library (test extra).

skada's TCA is not compared: it weights the MMD term by ``mu`` against an identity
regulariser in the kernel space (``I + mu K L K``) and takes ``np.linalg.eigh`` of the
non-symmetric ``(I + mu K L K)^-1 K H K``, so its components solve a different problem;
featx's TCA is tested by its own properties (it lowers the MMD, JDA ignores target labels).
"""

import numpy as np
import pytest

skada = pytest.importorskip("skada")

from featx.adapt import CORAL, SubspaceAlignment  # noqa: E402
from featx.data import make_shifted_domains  # noqa: E402


def two_domains(n_source=80, n_target=60, d=6, seed=0):
    X, _, sd, _ = make_shifted_domains(n_source, n_target, d, 2, class_sep=1.0, shift=2.0, rotation=1.0, stretch=3.0,
                                       random_state=seed)
    return X, sd


def test_coral_matches_skada_without_shrinkage():
    X, sd = two_domains()
    ns, nt = (sd > 0).sum(), (sd < 0).sum()
    ours = CORAL(reg=0.0).fit(X, sample_domain=sd)
    theirs = skada.CORALAdapter(reg=None).fit(X, sample_domain=sd)
    # skada's covariances divide by n, ours by n - 1
    np.testing.assert_allclose(ours.whiten_[0].dense(), theirs.cov_source_inv_sqrt_ * np.sqrt((ns - 1) / ns),
                               atol=1e-10)
    np.testing.assert_allclose(ours.colour_[0].dense(), theirs.cov_target_sqrt_ * np.sqrt(nt / (nt - 1)), atol=1e-10)
    # skada also centres each domain; after centring the mapped rows agree
    Z_ours = ours.transform(X, sample_domain=sd)
    Z_theirs = theirs.fit_transform(X, sample_domain=sd)
    src = sd > 0
    shift = X[src].mean(0) @ ours.whiten_[0].dense() @ ours.colour_[0].dense()
    scale = np.sqrt((ns - 1) / ns * nt / (nt - 1))
    np.testing.assert_allclose((Z_ours[src] - shift) / scale, Z_theirs[src], atol=1e-9)
    np.testing.assert_allclose(Z_ours[~src] - X[~src].mean(0), Z_theirs[~src], atol=1e-10)


def test_subspace_alignment_matches_skada_up_to_component_signs():
    X, sd = two_domains()
    ours = SubspaceAlignment(n_components=3).fit(X, sample_domain=sd)
    theirs = skada.SubspaceAlignmentAdapter(n_components=3).fit(X, sample_domain=sd)
    Z_ours = ours.transform(X, sample_domain=sd)
    Z_theirs = theirs.fit_transform(X, sample_domain=sd)
    signs = np.sign(Z_ours[0] * Z_theirs[0])  # PCA sign conventions differ, per target component
    np.testing.assert_allclose(Z_ours, Z_theirs * signs, atol=1e-9)
    np.testing.assert_allclose(np.abs(ours.M_), np.abs(theirs.M_), atol=1e-10)
