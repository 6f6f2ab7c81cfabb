"""The audit trail: records, stores, and opening the store a configuration names."""

from __future__ import annotations

from pathlib import Path

from releasegate.audit.file import FileAuditStore
from releasegate.audit.store import AuditStore


def open_store(spec: str | None, *, home: Path, retention_days: int | None = None) -> AuditStore:
    """`s3://bucket/prefix` -> the S3 store; a path -> a file store; None -> `<home>/audit`."""
    if spec and spec.startswith("s3://"):
        from releasegate.audit.s3 import S3AuditStore  # boto3 loads only when S3 is used

        return S3AuditStore.from_url(spec, retention_days=retention_days)
    return FileAuditStore(Path(spec) if spec else home / "audit")
