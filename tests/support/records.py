"""Audit entries for tests, with sensible defaults."""

from __future__ import annotations

from typing import Any

from releasegate.audit.record import AuditEntry


def make_entry(environment: str = "production", **fields: Any) -> AuditEntry:
    """A successful deploy of webapp 1.0.0 by alice; `fields` override any of it."""
    base: dict[str, Any] = {
        "kind": "deploy",
        "environment": environment,
        "app": "webapp",
        "version": "1.0.0",
        "status": "succeeded",
        "actor": "alice",
    }
    return AuditEntry(**{**base, **fields})
