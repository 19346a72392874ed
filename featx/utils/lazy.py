"""Names a package exports but imports on first use (PEP 562), so that importing it stays cheap."""

from __future__ import annotations

import importlib
from typing import Callable


def lazy_getattr(package: str, names: dict[str, str]) -> Callable[[str], object]:
    """A module-level ``__getattr__`` for ``package`` that imports each of ``names`` from its
    module when first asked for.

    Parameters
    ----------
    package : str
        The package's ``__name__`` (for relative module names and the error message).
    names : dict
        Exported name -> the module defining it (absolute, or relative to ``package`` with a
        leading dot).

    Returns
    -------
    callable
        Assign it to ``__getattr__`` in the package's ``__init__.py``.

    Examples
    --------
    >>> getattr_ = lazy_getattr("featx", {"dedent": "textwrap"})
    >>> getattr_("dedent")("  x")
    'x'
    """
    def __getattr__(name: str):
        if name in names:
            return getattr(importlib.import_module(names[name], package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
