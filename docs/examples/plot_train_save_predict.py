"""
Train, save and predict images with a scikit-learn pipeline
===========================================================

:class:`featx.Embedder` is the first step of an image pipeline: images in (paths, a folder,
PIL images or an image array), one embedding row per image out, through the HDF5 cache. Here
it embeds 400 of scikit-learn's bundled digit scans as an image array with the embedded
EfficientNet-Lite0; a logistic regression learns from 300 of them, is cross-validated (every
image embedded once, however many folds), saved to one file with
:func:`featx.persist.save_model`, loaded back and asked about the 100 others, one image at a
time and all together.
"""

import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

import featx
from featx.data import load_digits_images
from featx.persist import load_model, save_model

digits = load_digits_images(n_samples=400)
images = np.stack([np.asarray(digits.load(i)) for i in range(len(digits))])  # (400, 32, 32) uint8
labels = np.asarray(digits.classes)[digits.labels]
train, test = slice(0, 300), slice(300, 400)

model = make_pipeline(featx.Embedder(), LogisticRegression(max_iter=2000))
start = time.perf_counter()
scores = cross_val_score(model, images[train], labels[train], cv=3)
print(f"3-fold accuracy {scores.mean():.3f} in {time.perf_counter() - start:.1f} s (each image embedded once)")
model.fit(images[train], labels[train])

# %%
# One file holds the embedder (the backbone's name, a fingerprint of its weights, layers,
# preprocessing, precision) and the classifier. Loading it checks that the backbone builds here
# with the same weights; an image predicts the same alone as among others.
path = save_model(model, Path(tempfile.mkdtemp()) / "digits.skops")
loaded = load_model(path)
print("provenance:", {k: loaded[0].provenance_[k] for k in ("backbone", "layers", "precision")})
together = loaded.predict(images[test])
alone = np.array([loaded.predict(images[i:i + 1])[0] for i in range(300, 400)])
print(f"held-out accuracy {np.mean(together == labels[test]):.3f}; one at a time == together: "
      f"{np.array_equal(alone, together)}")

# %%
# The first twelve held-out digits with the loaded model's answer and its probability.
proba = loaded.predict_proba(images[300:312])
fig, axes = plt.subplots(2, 6, figsize=(9, 4.2))
for ax, img, p, truth in zip(axes.flat, images[300:312], proba, labels[300:312]):
    guess = loaded.classes_[p.argmax()]
    ax.imshow(img, cmap="gray")
    right = guess == truth
    ax.set_title(f"{guess} ({p.max():.2f})" + ("" if right else f", is {truth}"), color="black" if right else "crimson",
                 fontsize=10)
    ax.axis("off")
fig.suptitle("Loaded model on held-out digits: predicted class (probability); red: wrong, with the truth")
fig.tight_layout()
plt.show()
