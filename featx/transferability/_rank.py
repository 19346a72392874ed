"""``featx.transferability``: transferability scores for every (backbone, layer), read from the feature cache."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from featx.features import FeatureSet
from featx.transferability._registry import GAP, SCORES, check_scores
from scipy.special import softmax

POOLED = "pooled"  # featx.backbones.POOLED, without importing torch


@dataclass
class Ranking:
    """The scores of :func:`rank`: one record per (backbone, layer, score).

    Attributes
    ----------
    records : list of dict
        ``backbone``, ``layer``, ``score``, ``value``, ``cache_file`` (the file the features
        came from), ``seconds`` (the score's compute time); the domain gap's records also
        name ``target_cache_file``.
    skipped : list of dict
        ``backbone``, ``layer``, ``score``, ``reason`` for scores a candidate does not have
        (LEEP and NCE need the backbone's own classifier, on its pooled layer).
    extractions : list of dict
        ``backbone``, ``data``, ``cache_file``, ``n_computed`` (0 when the cache had them).
    """

    records: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    extractions: list = field(default_factory=list)

    def candidates(self) -> list[tuple[str, str]]:
        """The (backbone, layer) pairs, in the order they were scored."""
        return list(dict.fromkeys((r["backbone"], r["layer"]) for r in self.records))

    def scores(self) -> list[str]:
        """The score names present, in registry order (the domain gap last)."""
        present = {r["score"] for r in self.records}
        return [s for s in [*SCORES, GAP] if s in present]

    def value(self, backbone: str, layer: str, score: str) -> float:
        """One candidate's value of one score (NaN when it has none)."""
        for r in self.records:
            if (r["backbone"], r["layer"], r["score"]) == (backbone, layer, score):
                return r["value"]
        return float("nan")

    def best(self, score: str) -> tuple[str, str]:
        """The (backbone, layer) a score ranks first (the lowest domain gap for ``a-distance``)."""
        rows = [r for r in self.records if r["score"] == score]
        if not rows:
            raise ValueError(f"No candidate has the score {score!r}; the ranking has {self.scores()}.")
        pick = min if score == GAP else max
        r = pick(rows, key=lambda r: r["value"])
        return r["backbone"], r["layer"]

    def table(self) -> str:
        """A plain-text table: a row per candidate, a column per score, ``*`` on each column's best."""
        scores = self.scores()
        best = {s: self.best(s) for s in scores}
        head = ["backbone", "layer", *scores]
        rows = []
        for bb, layer in self.candidates():
            cells = [bb, layer]
            for s in scores:
                v = self.value(bb, layer, s)
                cells.append("-" if np.isnan(v) else f"{v:.4g}{'*' if best[s] == (bb, layer) else ''}")
            rows.append(cells)
        widths = [max(len(str(c)) for c in col) for col in zip(head, *rows)]
        fmt = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
        lines = [fmt.format(*head), fmt.format(*["-" * w for w in widths])]
        lines += [fmt.format(*r) for r in rows]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-able form (what ``rank.json`` holds)."""
        return {"records": self.records, "skipped": self.skipped, "extractions": self.extractions,
                "scores": {s: SCORES[s].description for s in self.scores() if s in SCORES}}

    def write(self, out) -> Path:
        """Write ``<out>/rank.json``; returns its path."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        path = out / "rank.json"
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path


def layer_slices(fs: FeatureSet) -> list[tuple[str, slice]]:
    """``(layer, columns)`` of each layer a feature set holds (one ``pooled`` block when the
    cache recorded none)."""
    layers = fs.layers or [(POOLED, fs.X.shape[1])]
    out, start = [], 0
    for name, width in layers:
        out.append((name, slice(start, start + width)))
        start += width
    if start != fs.X.shape[1]:
        raise ValueError(f"The layers {layers} add up to {start} columns; the features have {fs.X.shape[1]}.")
    return out


def score_features(fs: FeatureSet, scores=None, *, backbone: str | None = None, head=None, target=None,
                   random_state=0) -> Ranking:
    """Every score for every layer of one backbone's features (numpy only).

    Parameters
    ----------
    fs : FeatureSet
        Labelled features (rows with ``y == -1`` are left out), one block of columns per
        layer (:attr:`FeatureSet.layers`).
    scores : list of str, optional
        Registry names (:data:`featx.transferability.SCORES`); default all.
    backbone : str, optional
        Name recorded in the records (default: the cache's).
    head : tuple (W, b), optional
        The backbone's own classifier on its pooled layer, for LEEP and NCE.
    target : FeatureSet, optional
        Unlabelled target features of the same backbone: each layer's proxy A-distance.
    random_state : int, default=0
        Seeds the PCA and mixtures of NLEEP and GBC, and the A-distance's rows.

    Returns
    -------
    Ranking
    """
    from featx.protocol import proxy_a_distance

    names = check_scores(scores)
    labelled = fs.y >= 0
    if labelled.sum() < 2 or len(np.unique(fs.y[labelled])) < 2:
        raise ValueError(f"Transferability scores need labelled rows of at least 2 classes; got "
                         f"{int(labelled.sum())} labelled rows of {len(np.unique(fs.y[labelled]))} classes.")
    meta = fs.metadata or {}
    bb = backbone or _backbone_name(meta)
    cache = meta.get("path")
    out = Ranking()
    target_slices = dict(layer_slices(target)) if target is not None else {}
    for layer, cols in layer_slices(fs):
        X, y = fs.X[labelled, cols], fs.y[labelled]
        for name in names:
            score = SCORES[name]
            if score.needs == "source":
                if layer != POOLED or head is None:
                    out.skipped.append({"backbone": bb, "layer": layer, "score": name, "reason": (
                        "needs the backbone's own classifier" if head is None else
                        "the backbone's classifier reads the pooled layer only")})
                    continue
                inputs = softmax(X.astype(np.float64) @ head[0].T + head[1], axis=1)
            else:
                inputs = X
            start = time.perf_counter()
            value = score(inputs, y, random_state=random_state)
            out.records.append({"backbone": bb, "layer": layer, "score": name, "value": value,
                                "cache_file": cache, "seconds": round(time.perf_counter() - start, 4)})
        if target is not None:
            if layer not in target_slices:
                raise ValueError(f"The target features hold no layer {layer!r}; they hold {list(target_slices)}.")
            start = time.perf_counter()
            gap = proxy_a_distance(fs.X[:, cols], target.X[:, target_slices[layer]], random_state=random_state)
            out.records.append({"backbone": bb, "layer": layer, "score": GAP, "value": gap, "cache_file": cache,
                                "target_cache_file": target.metadata.get("path"),
                                "seconds": round(time.perf_counter() - start, 4)})
    return out


def _backbone_name(meta: dict) -> str:
    backbone = meta.get("backbone")
    return backbone.get("name", "?") if isinstance(backbone, dict) else str(backbone or "?")


def source_head(backbone):
    """``(W, b)`` of the backbone's own classifier over its pooled embedding, or ``None``.

    A timm model's ``get_classifier()`` (or an ``fc`` / ``classifier`` / ``head`` attribute)
    that is a linear layer reading exactly the pooled width.
    """
    from torch import nn

    model = getattr(backbone, "model", None)
    candidates = [model.get_classifier()] if hasattr(model, "get_classifier") else []
    candidates += [getattr(model, a, None) for a in ("fc", "classifier", "head")]
    for layer in candidates:
        if isinstance(layer, nn.Linear) and layer.in_features == backbone.pooled_dim:
            bias = layer.bias.detach().cpu().double().numpy() if layer.bias is not None else 0.0
            return layer.weight.detach().cpu().double().numpy(), bias
    return None


def rank(data, backbones=("efficientnet_lite0",), *, layers=None, target=None, scores=None, cache_dir=None,
         device="auto", batch_size="auto", num_workers="auto", precision="float32", progress=True,
         random_state=0) -> Ranking:
    """Score how well each (backbone, layer) should transfer to ``data``, from the feature cache.

    One extraction pass per backbone gives all its layers (none when the cache has them);
    every score of :data:`featx.transferability.SCORES` is then computed on each layer's columns.

    Parameters
    ----------
    data : str, Path or ImageSource
        Labelled images (folder, CSV manifest, ``builtin:<name>``).
    backbones : str, Backbone or a sequence of them, default=("efficientnet_lite0",)
        Candidates (names as for :func:`featx.backbones.create_backbone`, built with
        ``layers``; a built backbone keeps its own layers).
    layers : sequence of str, optional
        Layers of every named backbone (default ``["pooled"]``); each is scored on its own.
    target : str, Path or ImageSource, optional
        Unlabelled target images: adds each candidate's proxy A-distance to them.
    scores : list of str or str, optional
        Registry names or ``"all"`` (default).
    cache_dir, device, batch_size, num_workers, precision, progress
        As for :func:`featx.extract.extract_features`.
    random_state : int, default=0
        See :func:`score_features`.

    Returns
    -------
    Ranking
    """
    from featx.backbones import Backbone, backbone_with
    from featx.data import open_source
    from featx.extract import extract_features

    names = check_scores(scores)
    if isinstance(backbones, (str, Backbone)):
        backbones = [backbones]
    if not backbones:
        raise ValueError("rank needs at least one backbone; got none.")
    data = open_source(data)  # listed once for every backbone
    target = open_source(target) if target is not None else None
    out = Ranking()
    options = dict(cache_dir=cache_dir, device=device, batch_size=batch_size, num_workers=num_workers,
                   precision=precision, progress=progress)
    for candidate in backbones:
        bb = backbone_with(candidate, layers)
        fs = extract_features(data, bb, **options)
        tfs = extract_features(target, bb, **options) if target is not None else None
        for what, f in (("data", fs), ("target", tfs)):
            if f is not None:
                out.extractions.append({"backbone": bb.name, "data": what, "cache_file": f.metadata["path"],
                                        "n_computed": f.metadata["n_computed"]})
        part = score_features(fs, names, backbone=bb.name, head=source_head(bb), target=tfs,
                              random_state=random_state)
        out.records += part.records
        out.skipped += part.skipped
    return out
