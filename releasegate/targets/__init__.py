"""Targets: where an environment's releases run (local processes or Kubernetes)."""
