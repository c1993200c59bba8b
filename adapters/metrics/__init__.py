"""Prometheus metrics: the registry, the request middleware and the counting wrappers."""
