"""The Kubernetes target: images by digest, rolling/recreate/blue-green/canary, instant rollback.

Imports nothing, so the configuration can import `settings` without loading the
Kubernetes client; `releasegate.wiring` imports the target only when one is configured.
"""
