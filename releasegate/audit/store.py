"""The AuditStore interface: append-only, per-environment hash chains."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal, NamedTuple, Protocol

from releasegate.audit.record import AuditEntry, AuditRecord
from releasegate.errors import Failed


class AuditUnavailable(Failed):
    """The store cannot be reached or refused us; nothing may be deployed without it."""


class CorruptRecord(AuditUnavailable):
    """A record the operation cannot do without does not parse (damaged or edited by hand)."""


class Finding(NamedTuple):
    """One thing `verify` reports, and how bad it is:

    * ``broken``: a record was lost, altered or cannot be read: the trail cannot be trusted
      as it stands (exit 1);
    * ``unwitnessed``: the newest records cannot be checked against a witness, so deleting
      them would go unnoticed: the trail is not reported "intact";
    * ``notice``: something that is not part of the trail (a foreign file): reported, ignored.
    """

    text: str
    severity: Literal["broken", "unwitnessed", "notice"] = "broken"

    @property
    def broken(self) -> bool:
        return self.severity == "broken"

    def __str__(self) -> str:
        return self.text


RecordCheck = Callable[[AuditRecord], list[str]]
"""An extra check `verify` runs on every readable record (e.g. its approval signatures)."""


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
        how far back they read, not on the size of the history. A damaged or missing record
        is skipped with a warning on the `releasegate.audit` logger.
        """
        ...

    def chain(self, environment: str, start: int = 0) -> Iterator[AuditRecord]:
        """Every readable record of `environment` from sequence number `start` on, in
        sequence order (damaged ones skipped with a warning, as in `newest`): for export,
        and for readers that pick up where they stopped (the metrics)."""
        ...

    def verify(self, environment: str, check: RecordCheck | None = None) -> Iterator[Finding]:
        """Everything wrong with `environment`'s chain, in chain order, in constant memory:
        edited, missing, misfiled or unreadable records, foreign files, and the chain's head
        against the newest witnessed head. Nothing is yielded for an intact, witnessed chain.
        """
        ...

    def foreign(self) -> Iterator[Finding]:
        """Notices about entries at the top of the store that are not environments."""
        ...

    def environments(self) -> list[str]:
        """Names of the environments that have records."""
        ...
