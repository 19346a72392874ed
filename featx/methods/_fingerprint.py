"""What identifies a model for the task log of ``featx compare``: its specification as data and a
fingerprint of the code that fits it.

A stored fit is reused only under the same key, so the key must change when the model's
behaviour can, and only then: rewording a registry description keeps the stored fits, while a
new default, a changed parameter or an edited source file of the code that fits the model drops
them, with or without a version bump.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from featx.methods._names import parse_method, split_layer
from featx.methods._registry import REGISTRY

_REGISTRY_PACKAGE = "featx.methods"
#: The module every fine-tuning strategy is fitted by (its imports are followed from there).
FINETUNE_MODULE = "featx.finetune._classifier"


def model_spec(name: str, scale: str = "zscore") -> dict:
    """Model ``name`` as data: for a feature model, every parameter of the estimator that
    :func:`featx.methods.make_method` builds (nested estimators by their class's qualified
    name), the scaling and the layer; for a fine-tuning strategy, the keyword arguments of
    :class:`featx.finetune.FineTuneClassifier`. Descriptions are not part of it.

    Examples
    --------
    >>> spec = model_spec("coral+1nn")
    >>> spec["alignment"], spec["head"], spec["params"]["estimator__adapter__reg"]
    ('coral', '1nn', 10.0)
    """
    from featx.methods._build import finetune_params, make_method

    base, layer = split_layer(name)
    alignment, head = parse_method(name)
    if REGISTRY[alignment].kind == "finetune":
        return {"finetune": alignment, "params": _plain(finetune_params(alignment))}
    model = make_method(base, scale=scale)
    return {"alignment": alignment, "head": head, "layer": layer, "scale": scale,
            "estimator": _qualname(type(model)), "params": _plain(model.get_params(deep=True))}


def code_fingerprint(name: str, also=()) -> str:
    """A digest of the code that fits model ``name``: the source of every featx module its
    estimators' modules import, directly or not (:func:`import_closure`), and the version of
    every third-party distribution those modules import (scikit-learn, POT, torch, ...).
    ``also``: more modules whose code decides the fit (the caller's, e.g. the code that
    measures it).

    Examples
    --------
    >>> code_fingerprint("coral") == code_fingerprint("coral+logreg")
    True
    """
    from featx.methods._build import make_method

    base, _ = split_layer(name)
    alignment, _ = parse_method(name)
    if REGISTRY[alignment].kind == "finetune":
        modules = {FINETUNE_MODULE}
    else:
        modules = {type(o).__module__ for o in _estimators(make_method(base))}
    return modules_fingerprint(sorted({m for m in modules if m.split(".")[0] == "featx"} | set(also)))


def modules_fingerprint(modules, root: str = "featx") -> str:
    """The digest of the sources in the import closure of ``modules`` under package ``root``
    and of the versions of the third-party distributions they import."""
    sources, third = set(), set()
    for module in modules:
        closure, imported = import_closure(module, root)
        sources |= closure
        third |= imported
    h = hashlib.sha256()
    for module in sorted(sources):
        h.update(module.encode() + b"\0" + _source_bytes(module) + b"\0")
    for dist in _distributions(frozenset(third)):
        h.update(dist.encode() + b"\0")
    return h.hexdigest()[:20]


@lru_cache(maxsize=None)
def import_closure(module: str, root: str = "featx") -> tuple[frozenset, frozenset]:
    """``(modules, third_party)``: the modules under ``root`` that ``module`` imports, itself
    included, followed through their imports (those inside functions too, read from the
    source without running it), and the top-level names of the other packages they import.
    The package ``root`` itself, its ``_version`` module and the registry (``featx.methods``,
    whose text :func:`model_spec` stands for) are left out: a version string or a reworded
    description is not behaviour."""
    skip = {root, f"{root}._version"}
    seen, third, stack = set(), set(), [module]
    while stack:
        name = stack.pop()
        if name in seen or name in skip or name.startswith(_REGISTRY_PACKAGE):
            continue
        seen.add(name)
        path = _origin(name)
        if path is None:
            continue
        for node in ast.walk(ast.parse(Path(path).read_bytes())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                if target.split(".")[0] == root:
                    if _origin(target) is not None:
                        stack.append(target)
                else:
                    third.add(target.split(".")[0])
    return frozenset(seen - skip), frozenset(third)


@lru_cache(maxsize=None)
def _origin(module: str) -> str | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):  # "pkg.Name" that is a class, not a module
        return None
    return spec.origin if spec is not None and spec.origin and spec.origin.endswith(".py") else None


def _source_bytes(module: str) -> bytes:
    return Path(_origin(module)).read_bytes()


@lru_cache(maxsize=None)
def _distributions(names: frozenset) -> tuple:
    """``name==version`` of the installed distributions that provide top-level packages ``names``."""
    provided = metadata.packages_distributions()
    out = set()
    for name in names:
        for dist in provided.get(name, ()):
            try:
                out.add(f"{dist}=={metadata.version(dist)}")
            except metadata.PackageNotFoundError:  # pragma: no cover - a broken install
                out.add(f"{dist}==?")
    return tuple(sorted(out))


def _estimators(obj):
    """``obj`` and every estimator nested in its parameters."""
    yield obj
    if hasattr(obj, "get_params"):
        for value in obj.get_params(deep=True).values():
            if hasattr(value, "get_params"):
                yield value


def _qualname(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _plain(value):
    """``value`` as JSON-able data that is the same in every process: estimators and
    callables by qualified name, containers element by element, numbers as they are."""
    if hasattr(value, "get_params"):
        return _qualname(type(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, type):
        return _qualname(value)
    if callable(value):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__name__)}"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    return repr(value)
