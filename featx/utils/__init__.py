"""Helpers: the machine's code paths, estimator discovery, deprecated names."""
