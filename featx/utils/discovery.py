"""Find every public featx estimator (for the common scikit-learn checks)."""

from __future__ import annotations

import importlib
import inspect

from sklearn.base import BaseEstimator

__all__ = ["all_estimators"]

_MODULES = ("featx.adapt", "featx.classify", "featx.deepda")


def all_estimators() -> list[tuple[str, type]]:
    """``(name, class)`` of every public, concrete scikit-learn estimator featx defines, sorted."""
    found = {}
    for module_name in _MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", dir(module)):
            obj = getattr(module, name)
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseEstimator)
                and obj.__module__.startswith("featx.")
                and not name.startswith(("_", "Base"))
                and not inspect.isabstract(obj)
            ):
                found[name] = obj
    return sorted(found.items())
