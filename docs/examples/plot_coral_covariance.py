"""
CORAL matches the source covariance to the target's
====================================================

CORAL (Sun et al., 2016) whitens the source features with their own covariance and re-colours
them with the target's, :math:`X_s C_s^{-1/2} C_t^{1/2}` (both regularised). After it, the
source covariance equals the target covariance up to the regulariser, and a classifier trained
on the source sees target-like features. Here on two generated 2-D domains, the target a
rotated and stretched copy of the source.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression

from featx.adapt import CORAL
from featx.domains import MASKED_LABEL

rng = np.random.default_rng(0)
n = 300
y_s = rng.integers(0, 2, n)
X_s = rng.normal(size=(n, 2)) * [1.0, 0.4] + np.c_[2.0 * y_s - 1.0, np.zeros(n)]
rotate = np.array([[np.cos(1.0), -np.sin(1.0)], [np.sin(1.0), np.cos(1.0)]]) @ np.diag([1.6, 0.6])
y_t = rng.integers(0, 2, n)
X_t = (rng.normal(size=(n, 2)) * [1.0, 0.4] + np.c_[2.0 * y_t - 1.0, np.zeros(n)]) @ rotate.T

# skada's convention: source rows have sample_domain >= 0, target rows < 0 and no label
X = np.vstack([X_s, X_t])
y = np.r_[y_s, np.full(n, MASKED_LABEL)]
sample_domain = np.r_[np.ones(n, int), -2 * np.ones(n, int)]
coral = CORAL(reg=1e-3).fit(X, y, sample_domain=sample_domain)
X_s_aligned = coral.transform(X_s, sample_domain=np.ones(n, int))

print("target covariance\n", np.cov(X_t.T).round(2))
print("source covariance after CORAL\n", np.cov(X_s_aligned.T).round(2))

before = LogisticRegression().fit(X_s, y_s).score(X_t, y_t)
after = LogisticRegression().fit(X_s_aligned, y_s).score(X_t, y_t)
print(f"source-trained logistic regression on the target: {before:.2f} before CORAL, {after:.2f} after")

# %%
# The source (circles) before and after alignment, over the target (crosses).
fig, axes = plt.subplots(1, 2, figsize=(8, 3.6), sharex=True, sharey=True, layout="constrained")
for ax, Z, title in ((axes[0], X_s, "before"), (axes[1], X_s_aligned, "after CORAL")):
    ax.scatter(*X_t.T, c=y_t, cmap="coolwarm", marker="x", s=12, alpha=0.5, label="target")
    ax.scatter(*Z.T, c=y_s, cmap="coolwarm", s=10, edgecolors="k", linewidths=0.3, label="source")
    ax.set_title(f"source {title}")
axes[0].legend(loc="lower right")
plt.show()
