"""``Embedder``: images in, frozen-backbone embeddings out, as a scikit-learn transformer."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from featx import __version__
from featx.features import FeatureSet

#: What a fitted Embedder records of its features, and what features handed to it must match.
PROVENANCE_FIELDS = ("backbone", "weights", "layers", "preprocessing", "precision", "fold_batchnorm")


class Embedder(TransformerMixin, BaseEstimator):
    """Embed images with a frozen pretrained backbone, through the HDF5 feature cache.

    The first step of an image pipeline:
    ``make_pipeline(Embedder(), LogisticRegression()).fit(paths, y).predict(new_paths)``.
    ``transform`` returns one row per input, in input order. Every image goes through the
    cache (:func:`featx.extract_features`): an image already embedded with the same backbone,
    layers and precision, wherever it was first cached (a training folder, an earlier call),
    is read back, not computed (:func:`featx.extract.find_rows` says how a row is
    recognised); only new images are computed, into a cache file of their own. So
    ``cross_val_score`` and ``GridSearchCV`` over the head's parameters embed every image
    once, and calling ``transform`` again on the same images leaves no new file.

    A fitted Embedder records where its features come from (:attr:`provenance_`), which
    travels inside a saved model (:func:`featx.persist.save_model`): ``transform`` refuses to
    run a backbone whose weights differ from those it was fitted with, and a
    :class:`featx.FeatureSet` handed to it (features computed elsewhere) is accepted only if
    its cache key names the same backbone, weights, layers, preprocessing and precision.

    Parameters
    ----------
    backbone : str, default="efficientnet_lite0"
        A name for :func:`featx.backbones.create_backbone` (``timm:NAME``, ``onnx:PATH``, ...).
    layers : sequence of str, optional
        Layers to report (default the pooled embedding).
    precision : {"float32", "bfloat16", "float16", "auto"}, default="float32"
    batch_size : int or "auto", default="auto"
    device : str, default="auto"
    num_workers : int or "auto", default="auto"
    fold_batchnorm : bool, default=True
    cache_dir : str or Path, optional
        Cache root; default ``$FEATX_CACHE_DIR`` or ``./cache``.
    backbone_options : dict, optional
        Further keywords of :func:`featx.backbones.create_backbone` (``pretrained=False`` for a
        timm test model, ``arch=`` for ``file:``).
    progress : bool, default=False
        Show a progress bar while new images are embedded.

    Attributes
    ----------
    provenance_ : dict
        ``backbone``, ``weights`` (fingerprint), ``layers``, ``layer_dims``, ``preprocessing``,
        ``precision``, ``fold_batchnorm`` and ``featx_version``.
    n_features_out_ : int
        Width of the embeddings.

    Notes
    -----
    Every image must be readable: ``transform`` raises :class:`featx.runtime.ImageDecodeError`
    naming the images that are not (``featx predict`` reports and skips them instead).
    Each batch is padded to ``batch_size``, so an image embedded alone gets the same features
    as in a batch, and a model predicts it the same way.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> model = make_pipeline(Embedder(), LogisticRegression(max_iter=1000))  # doctest: +SKIP
    >>> model.fit(["a/1.jpg", "b/2.jpg", ...], ["cat", "dog", ...]).predict(["new.jpg"])  # doctest: +SKIP
    """

    def __init__(self, backbone="efficientnet_lite0", *, layers=None, precision="float32", batch_size="auto",
                 device="auto", num_workers="auto", fold_batchnorm=True, cache_dir=None, backbone_options=None,
                 progress=False):
        self.backbone = backbone
        self.layers = layers
        self.precision = precision
        self.batch_size = batch_size
        self.device = device
        self.num_workers = num_workers
        self.fold_batchnorm = fold_batchnorm
        self.cache_dir = cache_dir
        self.backbone_options = backbone_options
        self.progress = progress

    def fit(self, X=None, y=None):
        """Build the backbone and record what its features are; ``X`` and ``y`` are not used.

        Returns
        -------
        self
        """
        if not isinstance(self.backbone, str):
            raise ValueError("Embedder's backbone must be a name (create_backbone's; a saved model rebuilds it "
                             f"from the name); got {type(self.backbone).__name__}.")
        backbone = self._built()
        self.provenance_ = provenance_of(backbone, self._precision(backbone), self.fold_batchnorm)
        self.n_features_out_ = int(backbone.embed_dim)
        return self

    def transform(self, X):
        """Embeddings of images, one row per input, in input order.

        Parameters
        ----------
        X : list of paths, folder, manifest, list of PIL images, image array, ImageSource or FeatureSet
            Images (see :func:`featx.data.open_source`; a path listed twice gives two equal
            rows), or features already extracted, checked against :attr:`provenance_`.

        Returns
        -------
        ndarray of shape (n_images, ``n_features_out_``), float32
        """
        check_is_fitted(self)
        if isinstance(X, FeatureSet):
            check_provenance(self.provenance_, X.metadata)
            return X.X
        from featx.extract._embed import embed_images

        backbone = self.check_backbone()
        return embed_images(X, backbone, precision=self.provenance_["precision"], fold_batchnorm=self.fold_batchnorm,
                            batch_size=self.batch_size, device=self.device, num_workers=self.num_workers,
                            cache_dir=self.cache_dir, progress=self.progress)

    def check_backbone(self):
        """Build the backbone and check that its weights are those the Embedder was fitted with
        (:func:`featx.persist.load_model` calls this on a loaded model).

        Returns
        -------
        Backbone

        Raises
        ------
        ValueError
            When this machine builds other weights under the backbone's name.
        """
        check_is_fitted(self)
        backbone = self._built()
        if backbone.weights_fingerprint != self.provenance_["weights"]:
            raise ValueError(
                f"The model was fitted on features of {self.provenance_['backbone']!r} with weights "
                f"{self.provenance_['weights'][:12]}..., but this machine builds weights "
                f"{backbone.weights_fingerprint[:12]}... under that name (another package or timm version?). "
                "Install the versions the model was fitted with, or fit it again."
            )
        return backbone

    def get_feature_names_out(self, input_features=None):
        """``embedding0``, ``embedding1``, ... (one name per column)."""
        check_is_fitted(self)
        return np.asarray([f"embedding{i}" for i in range(self.n_features_out_)], dtype=object)

    def _built(self):
        cached = getattr(self, "_backbone_cache", None)
        spec = (self.backbone, None if self.layers is None else tuple(np.atleast_1d(self.layers)),
                tuple(sorted((self.backbone_options or {}).items())))
        if cached is None or cached[0] != spec:
            from featx.backbones import create_backbone

            cached = (spec, create_backbone(self.backbone, layers=self.layers, **(self.backbone_options or {})))
            self._backbone_cache = cached
        return cached[1]

    def _precision(self, backbone) -> str:
        from featx.extract._api import backbone_precision
        from featx.runtime import check_precision, resolve_device

        return backbone_precision(backbone, check_precision(self.precision, resolve_device(self.device)),
                                   asked=self.precision)

    def __getstate__(self):
        """The parameters and fitted attributes; the built network is left out (rebuilt from the name)."""
        state = dict(super().__getstate__())
        state.pop("_backbone_cache", None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        return tags


def provenance_of(backbone, precision: str, fold_batchnorm: bool) -> dict:
    """What a backbone's features are: name, weights fingerprint, layers and widths,
    preprocessing, precision, BatchNorm folding, and the featx version that computed them."""
    import json

    return json.loads(json.dumps({  # as a cache key holds it: lists, not tuples
        "backbone": backbone.name,
        "weights": backbone.weights_fingerprint,
        "layers": list(backbone.layers),
        "layer_dims": [int(d) for d in backbone.layer_dims],
        "preprocessing": backbone.preprocessing.to_dict(),
        "precision": precision,
        "fold_batchnorm": bool(fold_batchnorm),
        "featx_version": __version__,
    }))


def check_provenance(expected: dict, metadata: dict) -> None:
    """Refuse features whose cache key differs from ``expected`` (:func:`provenance_of`) in
    backbone, weights, layers, preprocessing, precision or folding.

    Raises
    ------
    ValueError
        Naming both provenances, or when ``metadata`` records none (features not from the cache).
    """
    parts = metadata.get("parts", [metadata]) if metadata else [{}]
    for meta in parts:
        key = meta.get("key") if isinstance(meta, dict) else None
        if not isinstance(key, dict):
            raise ValueError("These features carry no cache key (they did not come from featx's extractor), so "
                             f"nothing shows they match the model's ({describe_provenance(expected)}). Pass images "
                             "instead, or features from featx.extract_features / featx.load_features.")
        got = {k: key.get(k) for k in PROVENANCE_FIELDS}
        want = {k: expected.get(k) for k in PROVENANCE_FIELDS}
        if got != want:
            raise ValueError(f"The model was fitted on features of {describe_provenance(want)}; these features "
                             f"come from {describe_provenance(got)}. Embed the images with the model's backbone "
                             "(pass the images themselves), or fit the model on these features.")


def describe_provenance(p: dict) -> str:
    """``efficientnet_lite0 (weights 3f2a..., layers ['pooled'], float32)``."""
    weights = str(p.get("weights") or "?")[:12]
    return f"{p.get('backbone')!s} (weights {weights}..., layers {p.get('layers')}, {p.get('precision')})"
