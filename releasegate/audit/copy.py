"""Copying a trail from one store to another (`releasegate audit copy`), verifying as it goes.

Both stores share one key layout, so a copy is the stored bytes of each record put into the
same slot of the other store (never re-encoded: the hashes cover what was stored). It works
through the stores' raw slots (`ChainStore._read`, `_create`, `_head_seq`), which exist for
exactly this kind of use inside the package.

* **Verified first.** The source is walked as `audit verify` walks it (hash chain, approval
  signatures, the head against the source's witness); a record is written only once it has
  verified, so the copy of a damaged trail stops at its first broken record.
* **Never onto another history.** A destination chain that already holds records must be a
  prefix of the source's (an interrupted copy) or the same: otherwise the copy is refused
  before anything is written, and any slot found taken by other bytes later stops it.
* **Resumable.** Slots are created exclusively; running the copy again skips (and
  compares) what is already there and fills in the rest.
* **Witnessed.** Once an environment is copied, its head is published to the destination's
  witness, so the new store's tail is witnessed from the start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from releasegate.audit.chainstore import ChainStore
from releasegate.audit.record import AuditRecord, NotARecord
from releasegate.audit.store import Finding, RecordCheck
from releasegate.errors import Blocked


class CopyRefused(Blocked):
    """The destination holds another history: copying would mix two trails. Exit 3."""


@dataclass
class Copied:
    """What the copy of one environment did."""

    environment: str
    copied: int = 0
    """Records written to the destination."""
    present: int = 0
    """Records the destination already held, byte for byte (an earlier, interrupted copy)."""
    head: int | None = None
    """The newest record now in both stores."""
    unwitnessed: list[str] = field(default_factory=list)
    """Why the source's newest records could not be checked against its witness."""
    broken: str = ""
    """The first broken record of the source: nothing from it on was copied."""

    @property
    def records(self) -> int:
        return self.copied + self.present


Notice = Callable[[Finding], None]


def copy_trail(
    source: ChainStore,
    destination: ChainStore,
    environments: Iterable[str],
    *,
    check: RecordCheck | None = None,
    notice: Notice = lambda finding: None,
) -> list[Copied]:
    """Copy each environment's chain from `source` to `destination` (see the module
    docstring); stops after the first environment with a broken record. Raises CopyRefused
    (before writing anything) if the destination holds a different history."""
    names = list(environments)
    for env in names:
        refuse_different(source, destination, env)
    done: list[Copied] = []
    for env in names:
        done.append(copy_environment(source, destination, env, check=check, notice=notice))
        if done[-1].broken:
            break
    return done


def refuse_different(source: ChainStore, destination: ChainStore, env: str) -> None:
    """CopyRefused unless `destination`'s chain of `env` is empty or ends with a record the
    source holds byte for byte (the hash chain then makes everything before it the same)."""
    head = destination._head_seq(env)
    if head is None:
        return
    theirs, ours = _bytes(destination, env, head), _bytes(source, env, head)
    if ours is None:
        raise CopyRefused(
            f"{destination.url} already holds {env} #{head}, which {source.url} does not have: "
            "it holds another (or a longer) history; copy into an empty destination"
        )
    if theirs != ours:
        raise CopyRefused(_differs(source, destination, env, head))


def copy_environment(
    source: ChainStore,
    destination: ChainStore,
    env: str,
    *,
    check: RecordCheck | None = None,
    notice: Notice = lambda finding: None,
) -> Copied:
    """Copy one environment's chain, record by record as each verifies."""
    done = Copied(env)
    newest: list[AuditRecord] = []

    def put(record: AuditRecord, data: bytes) -> None:
        if destination._create(env, record.seq, data):
            done.copied += 1
        elif _bytes(destination, env, record.seq) == data:
            done.present += 1
        else:
            raise CopyRefused(_differs(source, destination, env, record.seq))
        done.head = record.seq
        newest[:] = [record]

    for finding in source.verify(env, check, intact=put):
        if finding.broken:
            done.broken = finding.text
            return done
        if finding.severity == "unwitnessed":
            done.unwitnessed.append(finding.text)
        else:
            notice(finding)
    if newest:
        destination._tell_witness(newest[0])
    return done


def _bytes(store: ChainStore, env: str, seq: int) -> bytes | None:
    """The bytes in slot `seq`; unreadable ones compare unequal to anything."""
    try:
        return store._read(env, seq)
    except NotARecord as exc:
        return f"unreadable: {exc}".encode()


def _differs(source: ChainStore, destination: ChainStore, env: str, seq: int) -> str:
    return (
        f"{destination._where(env, seq)} differs from {source._where(env, seq)}: the "
        f"destination holds another history of {env}; copy into an empty destination"
    )
