"""
A learning curve under the compare protocol
===========================================

:func:`featx.evaluate.compare_features` runs the protocol of ``featx compare`` on features you
already have: for each labelled budget (images per class) it takes stratified draws of the
source, fits every method of the registry on the same draws (alignment methods also see the
unlabelled target rows), scores it on the target, and reports the mean with a 95% confidence
interval. Here on generated features: two domains of 4 classes in 20 dimensions, the target
shifted, stretched and mixed by a fixed linear map, as frozen embeddings of two photo styles
might be.
"""

import matplotlib.pyplot as plt
import numpy as np

from featx import FeatureSet
from featx.evaluate import compare_features


def domain(name, n, shift, scale, seed, mix=np.eye(20)):
    """``n`` rows of 4 classes in 20 dimensions; the domain moves, stretches and mixes them."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(42).normal(scale=0.8, size=(4, 20))
    y = rng.integers(0, 4, n)
    X = ((centres[y] + rng.normal(size=(n, 20))) * scale + shift) @ mix
    ids = np.array([f"{name}/{i}" for i in range(n)], dtype=object)
    return FeatureSet(X=X.astype(np.float32), y=y, ids=ids, domains=np.array([name] * n, dtype=object),
                      classes=("a", "b", "c", "d"))


rotation = np.linalg.qr(np.random.default_rng(7).normal(size=(20, 20)))[0]
source = domain("source", 400, shift=0.0, scale=1.0, seed=0)
target = domain("target", 400, shift=1.5, scale=2.5, seed=1, mix=0.3 * np.eye(20) + 0.7 * rotation)
result = compare_features(source, target=target, budgets=(2, 5, 20, "all"), repeats=3,
                          methods=["logreg", "ncm", "coral", "jda", "easytl"], progress=False)

for row in result.summary:
    if row["budget"] == 5:
        mean, half = 100 * row["accuracy"], 100 * row["ci95"]
        print(f"{row['method']:8s} 5 per class: {mean:.1f} ± {half:.1f}")

# %%
# Accuracy against the labelled budget, with the 95% interval over the draws.
budgets = result.info["budgets"]
x = np.arange(len(budgets))
fig, ax = plt.subplots(figsize=(6.4, 4), layout="constrained")
for method in result.info["methods"]:
    rows = [s for s in result.summary if s["method"] == method]
    acc = np.array([100 * s["accuracy"] for s in rows])
    half = np.nan_to_num(np.array([100 * s["ci95"] for s in rows]))
    style = "-" if rows[0]["rung"] == "aligned" else "--"
    ax.plot(x, acc, style, marker="o", label=method)
    ax.fill_between(x, acc - half, acc + half, alpha=0.15)
ax.set_xticks(x, [str(b) for b in budgets])
ax.set_xlabel("labelled source rows per class")
ax.set_ylabel("target accuracy %")
ax.legend()
plt.show()
