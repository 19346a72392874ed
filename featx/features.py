"""The feature set handed from the cache to scikit-learn (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "FeatureSet",
]


@dataclass(repr=False)
class FeatureSet:
    """Embeddings of a data source, with what is known of each sample.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32
        The embeddings, one row per sample.
    y : ndarray of shape (n_samples,), int64
        Label index into ``classes``; ``-1`` where a sample has no label.
    ids : ndarray of shape (n_samples,), str
        Stable sample ids (for image folders, the path relative to the root).
    domains : ndarray of shape (n_samples,), str
        Domain name of each sample.
    classes : tuple of str
        Class names; ``classes[y[i]]`` is the label of sample ``i``.
    metadata : dict
        Provenance: cache file, cache key, backbone, layers, precision, and how many
        rows this call computed (``n_computed``) versus read from the cache.

    Examples
    --------
    >>> import numpy as np
    >>> fs = FeatureSet(X=np.zeros((2, 3), np.float32), y=np.array([0, 1]),
    ...                 ids=np.array(["a.png", "b.png"]), domains=np.array(["d", "d"]),
    ...                 classes=("cat", "dog"))
    >>> fs.labels.tolist()
    ['cat', 'dog']
    """

    X: np.ndarray
    y: np.ndarray
    ids: np.ndarray
    domains: np.ndarray
    classes: tuple[str, ...]
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.X)
        for name in ("y", "ids", "domains"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"FeatureSet.{name} has {len(getattr(self, name))} rows, but X has {n} rows."
                )

    def __len__(self) -> int:
        return len(self.X)

    def __repr__(self) -> str:
        """One line: the shape, classes, domains, labelled rows and where the rows came from
        (the arrays and the provenance are the attributes; a repr of them filled a screen).

        Examples
        --------
        >>> FeatureSet(X=np.zeros((2, 3), np.float32), y=np.array([0, -1]), ids=np.array(["a", "b"]),
        ...            domains=np.array(["d", "d"]), classes=("cat", "dog"))
        FeatureSet(2 rows x 3 features, classes ['cat', 'dog'], domains ['d'], 1 labelled)
        """
        def few(values, k=5):
            values = [str(v) for v in values]
            return repr(values[:k])[:-1] + (f", ... {len(values) - k} more]" if len(values) > k else "]")

        parts = [f"{len(self)} rows x {self.X.shape[1] if self.X.ndim == 2 else 0} features",
                 f"classes {few(self.classes)}", f"domains {few(dict.fromkeys(np.asarray(self.domains).tolist()))}",
                 f"{int((np.asarray(self.y) >= 0).sum())} labelled"]
        backbone = self.metadata.get("backbone")
        name = backbone.get("name") if isinstance(backbone, dict) else backbone
        if name:
            parts.append(f"backbone {name}")
        if self.metadata.get("path"):
            parts.append(f"from {self.metadata['path']}")
        return f"FeatureSet({', '.join(parts)})"

    @property
    def labels(self) -> np.ndarray:
        """Class name of each sample (``None`` where unlabelled)."""
        names = np.array(list(self.classes) + [None], dtype=object)
        return names[self.y]

    @property
    def layers(self) -> list[tuple[str, int]] | None:
        """``(name, width)`` of each backbone layer the columns hold, in column order, as the
        cache recorded them (the first part's, for sets joined by :meth:`concat`); ``None`` when
        the features did not come from featx's extractor.

        Examples
        --------
        >>> fs = FeatureSet(X=np.zeros((1, 3), np.float32), y=np.array([0]), ids=np.array(["a"]),
        ...                 domains=np.array(["d"]), classes=("c",),
        ...                 metadata={"backbone": {"layers": ["blocks.5", "pooled"], "layer_dims": [1, 2]}})
        >>> fs.layers
        [('blocks.5', 1), ('pooled', 2)]
        """
        meta = self.metadata.get("parts", [self.metadata])[0] if self.metadata else {}
        backbone = meta.get("backbone") if isinstance(meta, dict) else None
        if not isinstance(backbone, dict) or "layers" not in backbone or "layer_dims" not in backbone:
            return None
        return [(str(n), int(w)) for n, w in zip(backbone["layers"], backbone["layer_dims"])]

    def subset(self, mask) -> FeatureSet:
        """Rows selected by a boolean mask or an index array, as a new FeatureSet."""
        return FeatureSet(
            X=self.X[mask],
            y=self.y[mask],
            ids=self.ids[mask],
            domains=self.domains[mask],
            classes=self.classes,
            metadata=dict(self.metadata),
        )

    @classmethod
    def concat(cls, sets) -> FeatureSet:
        """The rows of several feature sets (same width and classes) as one.

        Raises
        ------
        ValueError
            If there is no set, or the sets disagree on the number of features or the classes.
        """
        sets = list(sets)
        if not sets:
            raise ValueError("FeatureSet.concat needs at least one FeatureSet; got none.")
        first = sets[0]
        for fs in sets[1:]:
            if fs.X.shape[1] != first.X.shape[1]:
                raise ValueError(f"Feature sets must have the same number of features; got {fs.X.shape[1]} "
                                 f"and {first.X.shape[1]}.")
            if tuple(fs.classes) != tuple(first.classes):
                raise ValueError(f"Feature sets must share their classes; got {list(fs.classes)} and "
                                 f"{list(first.classes)}.")
        if len(sets) == 1:
            return first
        return cls(X=np.concatenate([fs.X for fs in sets]), y=np.concatenate([fs.y for fs in sets]),
                   ids=np.concatenate([fs.ids for fs in sets]), domains=np.concatenate([fs.domains for fs in sets]),
                   classes=first.classes, metadata={"parts": [fs.metadata for fs in sets]})
