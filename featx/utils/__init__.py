"""Helpers: the machine's code paths, estimator discovery, deprecated names, pseudo-label rounds,
suggestions for mistyped names."""
