"""LP-FT's warm start: the new head set to a logistic regression on the cached frozen features."""

from __future__ import annotations

import numpy as np
import torch

from featx.data import SourceSubset


def warm_start_head(net, backbone, train, n_classes: int, *, device, precision, cache_dir, progress) -> int:
    """Set ``net.head`` to a logistic regression fitted on the frozen features of the ``train``
    images (read from, or written to, featx's cache); return how many images were embedded now
    (0 when the cache had them).

    The features are extracted for the whole source ``train`` was drawn from, so the cache key is
    the one ``featx extract`` gives that data. With two classes the regression's one logit
    difference is split evenly between the two rows of the head.
    """
    from sklearn.linear_model import LogisticRegression

    from featx.extract import extract_features

    whole = train.parent if isinstance(train, SourceSubset) else train
    fs = extract_features(whole, backbone, cache_dir=cache_dir, device=device, precision=precision,
                          on_error="fail", progress=progress)  # rows must stay aligned with `whole`
    rows = train.indices if isinstance(train, SourceSubset) else slice(None)
    clf = LogisticRegression(max_iter=2000).fit(fs.X[rows], fs.y[rows])
    W = np.zeros((n_classes, fs.X.shape[1]))
    b = np.zeros(n_classes)
    if clf.coef_.shape[0] == 1:  # binary: one logit difference, split between the two classes
        W[clf.classes_] = np.vstack([-clf.coef_[0] / 2, clf.coef_[0] / 2])
        b[clf.classes_] = [-clf.intercept_[0] / 2, clf.intercept_[0] / 2]
    else:
        W[clf.classes_], b[clf.classes_] = clf.coef_, clf.intercept_
    with torch.no_grad():
        net.head.weight.copy_(torch.as_tensor(W, dtype=torch.float32))
        net.head.bias.copy_(torch.as_tensor(b, dtype=torch.float32))
    return int(fs.metadata["n_computed"])
