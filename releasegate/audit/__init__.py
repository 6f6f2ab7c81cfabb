"""The audit trail: records, stores, and opening the store a configuration names."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from releasegate.audit.file import FileAuditStore
from releasegate.audit.store import AuditStore

if TYPE_CHECKING:  # the configuration imports the audit record: no cycle at run time
    from releasegate.config import Config


def open_store(config: Config) -> AuditStore:
    """The store `config.audit` names: `s3://bucket/prefix` -> S3; a path -> a file store;
    unset -> `<home>/audit`."""
    spec = config.audit
    if spec and spec.startswith("s3://"):
        from releasegate.audit.s3 import S3AuditStore  # boto3 loads only when S3 is used

        return S3AuditStore.from_url(spec, retention_days=config.audit_retention_days)
    return FileAuditStore(Path(spec) if spec else config.home / "audit")
