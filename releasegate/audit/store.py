"""The AuditStore interface: append-only, per-environment hash chains."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from releasegate.audit.record import AuditEntry, AuditRecord
from releasegate.errors import Failed


class AuditUnavailable(Failed):
    """The store cannot be reached or refused us; nothing may be deployed without it."""


class AuditStore(Protocol):
    """Where the audit trail of record lives. Records are never rewritten."""

    def append(self, entry: AuditEntry) -> AuditRecord:
        """Seal `entry` as the next record of its environment's chain and store it.

        Exactly one of several concurrent writers wins each sequence slot; losers retry on
        the new head. Raises AuditUnavailable if the record could not be stored.
        """
        ...

    def newest(self, environment: str) -> Iterator[AuditRecord]:
        """Records of `environment`, newest first, fetched lazily.

        Consumers stop early (previous good version, latest N), so the cost must depend on
        how far back they read, not on the size of the history.
        """
        ...

    def chain(self, environment: str) -> Iterator[AuditRecord]:
        """Every record of `environment` in sequence order, for verification and export."""
        ...

    def verify(self, environment: str) -> list[str]:
        """Problems with `environment`'s chain in chain order ([] when intact): edited,
        missing or reordered records, and anything stored there that is not a record."""
        ...

    def environments(self) -> list[str]:
        """Names of the environments that have records."""
        ...
