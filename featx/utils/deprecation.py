"""Deprecated parameter names kept for one release."""

from __future__ import annotations

import warnings

__all__ = [
    "DEPRECATED",
    "renamed",
]

#: Default of a deprecated parameter: tells "not given" apart from every real value.
DEPRECATED = "deprecated"


def renamed(old_name: str, old_value, new_name: str, new_value, new_default, owner: str):
    """``new_value``, or ``old_value`` with a ``FutureWarning`` when the old name was used.

    Raises
    ------
    ValueError
        If both names were given (the new one away from its default ``new_default``).
    """
    if isinstance(old_value, str) and old_value == DEPRECATED:
        return new_value
    if new_value != new_default:
        raise ValueError(f"{owner}: got both {old_name}={old_value!r} and {new_name}={new_value!r}; "
                         f"'{old_name}' is the deprecated name of '{new_name}', pass only {new_name}.")
    warnings.warn(f"{owner}: '{old_name}' was renamed '{new_name}' (scikit-learn's name) and will be removed in "
                  f"the next release; pass {new_name}={old_value!r}.", FutureWarning, stacklevel=3)
    return old_value
