"""The method registry: every named method featx runs, defined once.

One table holds the classifier heads, the alignment methods (EasyTL among them) and the
fine-tuning strategies, each with its description, its defaults and the hyper-parameter
grid that inner cross-validation searches on the labelled source rows. Python
(:func:`make_method`), ``featx fit``, ``featx evaluate`` and ``featx compare`` all build
from it, so one name is one model everywhere.

A model name is ``ALIGNMENT+HEAD`` (``coral+1nn``); a head alone (``logreg``) means no
alignment, an alignment alone (``coral``) means its default head (:data:`DEFAULT_HEAD`;
EasyTL is a classifier and takes none). On features of several layers (or backbones) side by
side, ``MODEL@LAYER`` fits the model on one layer's columns and ``MODEL@ensemble`` fits one
model per layer and averages their probabilities (:class:`featx.adapt.BlockEnsemble`); a
name without ``@`` sees every column. Every feature model first standardises each
domain with its own moments (``scale="zscore"``), the first step of the literature's
shallow domain adaptation, unless told otherwise.

The task log of ``featx compare`` keys each stored fit by the model's specification as data
(:func:`model_spec`) and a fingerprint of the code that fits it (:func:`code_fingerprint`), so
rewording a description keeps stored fits and a change of behaviour drops them.

Fine-tuning entries are data here (keyword arguments of
:class:`featx.finetune.FineTuneClassifier`); this module imports neither torch nor the
fine-tuning code. The deep domain-adaptation heads (:mod:`featx.deepda`) import torch when
one is built.
"""

from featx.methods._build import finetune_params, make_head, make_method, make_selected, on_layers, seeded
from featx.methods._fingerprint import code_fingerprint, model_spec
from featx.methods._names import (RUNGS, canonical_name, describe, grid_text, needs_target, parse_method, rung_of,
                                  selection_grid, split_layer, sweep_layers)
from featx.methods._registry import (DEFAULT_HEAD, ENSEMBLE, REGISTRY, SCALES, SOURCES, Method, default_methods,
                                     get_method, list_methods)

__all__ = [
    "DEFAULT_HEAD",
    "ENSEMBLE",
    "REGISTRY",
    "RUNGS",
    "SCALES",
    "SOURCES",
    "Method",
    "canonical_name",
    "code_fingerprint",
    "default_methods",
    "describe",
    "finetune_params",
    "get_method",
    "grid_text",
    "list_methods",
    "needs_target",
    "make_head",
    "make_method",
    "make_selected",
    "model_spec",
    "on_layers",
    "parse_method",
    "rung_of",
    "seeded",
    "selection_grid",
    "split_layer",
    "sweep_layers",
]
