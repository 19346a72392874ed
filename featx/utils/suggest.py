"""Suggestions for a mistyped name: the known names closest to it by edit distance."""

from __future__ import annotations

__all__ = ["closest_names", "edit_distance"]


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: the fewest single-character insertions, deletions and substitutions
    that turn ``a`` into ``b`` (Levenshtein 1966), by the two-row dynamic programme.

    Examples
    --------
    >>> edit_distance("resnet500", "resnet50"), edit_distance("lite0", "lite2"), edit_distance("", "abc")
    (1, 1, 3)
    """
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def closest_names(name: str, candidates, n: int = 5) -> list[str]:
    """Up to ``n`` of ``candidates`` nearest to ``name`` by :func:`edit_distance` (ties by
    name), within a third of the longer name's length (at least 2 edits), so that a typo finds
    the intended name and an unrelated word finds nothing.

    Examples
    --------
    >>> closest_names("resnet500", ["resnet50", "resnet18", "vit_base", "resnet50d"])
    ['resnet50', 'resnet50d', 'resnet18']
    >>> closest_names("zzz", ["resnet50"])
    []
    """
    scored = []
    for candidate in set(candidates):
        limit = max(2, max(len(name), len(candidate)) // 3)
        d = edit_distance(name.lower(), candidate.lower())
        if d <= limit:
            scored.append((d, candidate))
    return [c for _, c in sorted(scored)[:n]]
