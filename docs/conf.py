"""Sphinx configuration of featx's documentation (``make docs``)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("FEATX_CACHE_DIR", str(ROOT / "docs" / "_build" / "cache"))  # the gallery's features

import featx  # noqa: E402

project = "featx"
author = "the featx developers"
copyright = "2026, the featx developers"
release = version = featx.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated", "examples/README.rst", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.json", "auto_examples/*.md5"]
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

autosummary_generate = True
templates_path = ["_templates"]
autodoc_default_options = {"members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()
default_role = "literal"  # `x` in docstrings is code, as in the README

html_theme = "pydata_sphinx_theme"
html_title = f"featx {release}"
html_static_path = []
html_theme_options = {
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "min_reported_time": 1,
}

# nothing may be fetched while building: no intersphinx, no remote images
suppress_warnings = []


def _registry_table() -> None:
    """``_generated/registry.md``: every registry entry with its description and inner-CV grid,
    written from :mod:`featx.methods` so the page cannot drift from the code."""
    from featx.methods import REGISTRY, grid_text

    rows = ["| name | kind | what | inner-CV grid | validator grid (`--select`) |", "|---|---|---|---|---|"]
    for m in REGISTRY.values():
        grid = grid_text(m.grid).removeprefix("; ") or "-"
        chosen = ", ".join(f"{k} in {v}" for k, v in m.select_grid.items()) or ("the head's grid" if m.grid else "-")
        rows.append(f"| `{m.name}` | {m.kind} | {m.description} | {grid} | {chosen} |")
    out = Path(__file__).parent / "_generated" / "registry.md"
    out.parent.mkdir(exist_ok=True)
    text = "\n".join(rows) + "\n"
    if not out.exists() or out.read_text() != text:
        out.write_text(text)


_registry_table()


#: The API page's sections: module, title, one line. Every name in each module's ``__all__`` is
#: listed, once: a name re-exported from an earlier section points there instead.
API_SECTIONS = [
    ("featx", "Top level", "The names most scripts need."),
    ("featx.data", "Data sources", "Image folders, CSV manifests, in-memory images, built-in sets (no torch)."),
    ("featx.features", "Feature sets", "The arrays extraction returns."),
    ("featx.domains", "Domains", "skada's ``X, y, sample_domain`` convention: source ``>= 0``, target ``< 0``, "
                                 "unlabelled ``y == -1``."),
    ("featx.backbones", "Backbones", "Frozen networks: the embedded EfficientNet-Lites, timm, torchvision, local "
                                     "checkpoints and ONNX graphs."),
    ("featx.runtime", "Runtime", "Device and precision choice, decode-worker loaders and the CPU allocator "
                                 "setting, shared by extraction and fine-tuning."),
    ("featx.extract", "Extraction and the cache", "Batched extraction into the keyed HDF5 cache, and reading it."),
    ("featx.adapt", "Domain alignment", "scikit-learn estimators on features (numpy, scipy and scikit-learn only); "
                                        "the math lives in small functions."),
    ("featx.classify", "Classifiers", "The heads' building blocks."),
    ("featx.methods", "The method registry", "Every named model, defined once."),
    ("featx.select", "Model selection", "Validators that choose a configuration without target labels, "
                                        "and the oracle beside them."),
    ("featx.transferability", "Transferability ranking",
     "Which backbone and layer: LogME, LEEP, NLEEP, NCE, H-score, GBC "
                                             "and k-NN accuracy from the feature cache (the scores numpy only)."),
    ("featx.protocol", "The evaluation protocol", "Budget draws, splits, confidence intervals, domain distance."),
    ("featx.metrics", "Metrics", "The scores featx reports."),
    ("featx.evaluate", "Comparisons and reports", "Frozen vs aligned vs fine-tuned under one protocol."),
    ("featx.deepda", "Deep-DA heads", "DANN, CDAN+E and MCC trained on cached embeddings (torch)."),
    ("featx.finetune", "Fine-tuning", "The end-to-end baseline on the same backbone."),
    ("featx.persist", "Saving models", "skops files: no pickle, no code run from the file."),
    ("featx.utils.machine", "Machine", "The CPU code paths a run takes."),
    ("featx.utils.discovery", "Discovery", "featx's estimators, for the common checks."),
    ("featx.utils.deprecation", "Deprecation", "Renamed parameters, kept for one release."),
    ("featx.utils.suggest", "Suggestions", "The known names closest to a mistyped one, by edit distance."),
    ("featx.utils.pseudo_labels", "Pseudo-labels",
     "Class-balanced pseudo-label rounds, shared by self-training and PACE."),
]


def api_page() -> str:
    """The text of ``api.rst``, built from the modules' ``__all__``."""
    import importlib
    import inspect

    seen, out = {}, [".. _api:", "", "API reference", "=============", "",
                     "Every public name of featx, by module: each module's ``__all__``, generated when these "
                     "pages are built, so none is left out.", ""]
    for mod, title, blurb in API_SECTIONS:
        module = importlib.import_module(mod)
        own, elsewhere = [], []
        for name in module.__all__:
            if name == "__version__":
                continue
            obj = getattr(module, name)
            key = id(obj) if inspect.isclass(obj) or inspect.isroutine(obj) else (mod, name)
            if key in seen:
                elsewhere.append(f":obj:`{name} <{seen[key]}.{name}>`")
            else:
                seen[key] = mod
                own.append(name)
        out += [title, "-" * len(title), "", f".. module:: {mod}", "", blurb, ""]
        if own:
            out += [f".. currentmodule:: {mod}", "", ".. autosummary::", "   :toctree: api/generated",
                    "   :nosignatures:", "", *[f"   {n}" for n in own], ""]
        if elsewhere:
            out += ["Also here: " + ", ".join(elsewhere) + ".", ""]
    return "\n".join(out) + "\n"


def _write_api_page() -> None:
    path = Path(__file__).parent / "api.rst"
    text = api_page()
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


_write_api_page()


def _skip_sklearn_plumbing(app, what, name, obj, skip, options):
    """scikit-learn's generated metadata-routing setters (``set_*_request``) and ``set_output``
    are documented by scikit-learn; listing them on every featx estimator only adds noise."""
    if name == "set_output" or (name.startswith("set_") and name.endswith("_request")):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_sklearn_plumbing)
