"""What every audit store does the same way, over one key layout (`layout.py`).

A backend (the file store, the S3 store) supplies raw slot access: read a slot, create a
slot exclusively, find the highest occupied slot cheaply, scan its names. On top of that
this module keeps the chains:

* **append**: seal the entry on the head and create its slot; exactly one of several
  writers wins a slot, the others re-read the head and retry. Then tell the witness.
* **newest / chain**: address records by sequence number, so reading the latest N costs N
  reads whatever the history size. A missing or damaged record is skipped with a warning
  on the ``releasegate.audit`` logger (history and status keep working; verify names it).
* **verify**: one streaming pass in constant memory: foreign names, then every slot in
  chain order, then the head against the witness.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterable, Iterator

from releasegate.audit import witness as witnesses
from releasegate.audit.layout import BOOKKEEPING, RECORDS, env_segment, parse_record_name
from releasegate.audit.record import (
    GENESIS,
    AuditEntry,
    AuditRecord,
    ChainCheck,
    NotARecord,
    decode,
    encode,
    seal,
)
from releasegate.audit.store import AuditUnavailable, CorruptRecord, Finding, RecordCheck
from releasegate.audit.witness import Witness

log = logging.getLogger("releasegate.audit")

NEWEST_BATCHES = (8, 64, 512, 1000)
"""Reads ahead for newest(): small first (latest N, previous good), then growing."""
CHAIN_BATCHES = (32, 1000)
MAX_GAP = 64
"""Empty slots in a row a walk reads one by one before it looks for the next record."""


class ChainStore(ABC):
    """An AuditStore over raw slots (see the module docstring)."""

    def __init__(self, *, witness: Witness | None, contention_timeout: float) -> None:
        self.witness = witness
        self.contention_timeout = contention_timeout
        self._heads: dict[str, AuditRecord] = {}
        self._lock = threading.Lock()

    @property
    @abstractmethod
    def url(self) -> str:
        """Where the store is, for messages and as the witness's scope."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    # ------------------------------------------------------------------ the backend

    @abstractmethod
    def _read(self, environment: str, seq: int) -> bytes | None:
        """The bytes in slot `seq`; None if it is empty. NotARecord if the slot holds
        something unreadable; AuditUnavailable if the store cannot be reached."""

    @abstractmethod
    def _create(self, environment: str, seq: int, data: bytes) -> bool:
        """Store `data` in slot `seq` unless it is taken (then False). A slot only ever
        holds complete data: a crash leaves it empty or full, never half-written."""

    @abstractmethod
    def _head_seq(self, environment: str, at_least: int | None = None) -> int | None:
        """The highest occupied slot, without listing the history; `at_least` is a slot
        known to be occupied. None when the environment has no records."""

    @abstractmethod
    def _scan(self, environment: str) -> Iterator[str]:
        """Every name below the environment (`records/<name>`, `.head`, ...), streamed;
        directories end with `/`."""

    @abstractmethod
    def _where(self, environment: str, seq: int) -> str:
        """Slot `seq` as a person finds it: a path or an s3:// URL."""

    @abstractmethod
    def environments(self) -> list[str]:
        """Names of the environments that have records."""

    @abstractmethod
    def foreign(self) -> Iterator[Finding]:
        """Notices about entries at the top of the store that are not environments."""

    def _reads(
        self, environment: str, seqs: Iterable[int], batches: tuple[int, ...]
    ) -> Generator[tuple[int, bytes | NotARecord | None], None, None]:
        """`_read` of each slot in `seqs`, in order; a backend may read ahead in `batches`."""
        del batches  # reading ahead pays only where a read is a round trip
        for seq in seqs:
            try:
                yield seq, self._read(environment, seq)
            except NotARecord as exc:
                yield seq, exc

    def _next_occupied(self, environment: str, seq: int, step: int) -> int | None:
        """The nearest occupied slot beyond `seq` in direction `step` (+1 or -1), to cross a
        long gap in one jump. Streams every name: only damaged chains have long gaps."""
        beyond = (
            s
            for name in self._scan(environment)
            if name.startswith(RECORDS + "/")
            and (s := parse_record_name(name[len(RECORDS) + 1 :])) is not None
            and (s - seq) * step > 0
        )
        return (min if step > 0 else max)(beyond, default=None)

    def _walk(
        self, env: str, seqs: range, batches: tuple[int, ...]
    ) -> Iterator[tuple[int, int, bytes | NotARecord | None]]:
        """The slots of `seqs` in order as (seq, seq, data), and each run of empty slots
        once as (first, last, None). A run longer than MAX_GAP is crossed with one
        `_next_occupied` instead of a read per slot: a record named with an absurd seq
        cannot make a walk read forever."""
        start, step = seqs.start, seqs.step
        while (start - seqs.stop) * step < 0:
            reads = self._reads(env, range(start, seqs.stop, step), batches)
            first: int | None = None
            for seq, data in reads:
                if data is not None:
                    if first is not None:
                        yield first, seq - step, None
                        first = None
                    yield seq, seq, data
                    continue
                first = seq if first is None else first
                if abs(seq - first) + 1 >= MAX_GAP:
                    reads.close()  # stops the read-ahead
                    found = self._next_occupied(env, seq, step)
                    if found is None or (found - seqs.stop) * step >= 0:
                        yield first, seqs.stop - step, None
                        return
                    yield first, found - step, None
                    start = found
                    break
            else:
                if first is not None:
                    yield first, seqs.stop - step, None
                return

    # ------------------------------------------------------------------ AuditStore

    def append(self, entry: AuditEntry) -> AuditRecord:
        """Seal `entry` on its chain's head and store it; race-safe across processes."""
        env = _checked(entry.environment)
        with self._lock:
            head = self._heads.get(env)
        if head is None:
            head = self._head(env)
        deadline = time.monotonic() + self.contention_timeout
        for attempt in itertools.count():
            if head is not None and head.id == entry.id:
                return self._remember(head)  # an earlier attempt of ours already landed
            seq, prev = (head.seq + 1, head.hash) if head is not None else (0, GENESIS)
            record = seal(entry, seq=seq, prev_hash=prev)
            if self._create(env, seq, encode(record)):
                self._tell_witness(record)
                return self._remember(record)
            # Slot taken. A retried write whose first attempt landed also ends here: ours?
            taken = self._load(env, seq, strict=True)
            if taken is not None and taken.id == entry.id:
                return self._remember(taken)
            head = self._head(env, known=taken)
            if time.monotonic() > deadline:
                break
            # Jittered backoff so racing writers spread out instead of colliding again.
            time.sleep(random.uniform(0, min(0.2, 0.002 * 2 ** min(attempt, 7))))
        raise AuditUnavailable(
            f"audit store {self.url}: could not append to {env!r} within "
            f"{self.contention_timeout:g}s: other writers kept taking the next sequence slot"
        )

    def newest(self, environment: str) -> Iterator[AuditRecord]:
        """Records newest first, addressed by sequence number from the head down."""
        env = _checked(environment)
        head = self._head_seq(env)
        if head is not None:
            yield from self._records(env, range(head, -1, -1), NEWEST_BATCHES)

    def chain(self, environment: str, start: int = 0) -> Iterator[AuditRecord]:
        """Every readable record from slot `start` on, in sequence order, up to the head when
        the walk starts."""
        env = _checked(environment)
        head = self._head_seq(env)
        if head is not None:
            yield from self._records(env, range(max(start, 0), head + 1), CHAIN_BATCHES)

    def verify(
        self,
        environment: str,
        check: RecordCheck | None = None,
        intact: Callable[[AuditRecord, bytes], None] | None = None,
    ) -> Iterator[Finding]:
        """See AuditStore.verify: foreign names first, then slot by slot, then the witness.
        `intact` is called with each record that verified and its stored bytes, in chain
        order, before the walk moves on (`audit copy` writes them out)."""
        env = _checked(environment)
        top = -1
        for name in self._scan(env):
            first, _, rest = name.partition("/")
            if first in BOOKKEEPING:
                continue
            seq = parse_record_name(rest) if first == RECORDS else None
            if seq is None:
                yield Finding(f"{env}: {name}: not an audit record: ignored", "notice")
            else:
                top = max(top, seq)
        head = self._head_seq(env)  # records appended since the scan are walked too
        top = max(top, -1 if head is None else head)
        check_chain, newest = ChainCheck(), None
        for seq, last, data in self._walk(env, range(top + 1), CHAIN_BATCHES):
            if data is None:
                yield Finding(_missing(env, seq, last))
                check_chain.missing(last)
                continue
            try:
                if isinstance(data, NotARecord):
                    raise data
                rec = decode(data)
            except NotARecord as exc:
                where = self._where(env, seq)
                yield Finding(f"{env} #{seq} ({where}): not a valid audit record: {exc}")
                check_chain.missing(seq)
                continue
            if rec.seq != seq or rec.environment != env:
                where = self._where(env, seq)
                yield Finding(f"{env} #{seq} ({where}): holds {rec.environment} #{rec.seq}")
                check_chain.missing(seq)
                continue
            problems = [*check_chain.feed(rec), *(check(rec) if check else [])]
            for problem in problems:
                yield Finding(problem)
            if intact is not None and not problems:
                intact(rec, data)
            newest = rec
        yield from witnesses.compare(self.witness, env, newest, lambda s: self._hash_at(env, s))

    # ------------------------------------------------------------------ reading

    def _records(self, env: str, seqs: range, batches: tuple[int, ...]) -> Iterator[AuditRecord]:
        """The readable records of `seqs`; each gap or damaged record is logged once."""
        for first, last, data in self._walk(env, seqs, batches):
            if data is None:
                log.warning("audit store %s: %s; skipped", self.url, _missing(env, first, last))
                continue
            try:
                yield _decoded(data)
            except NotARecord as exc:
                log.warning(
                    "audit store %s: %s #%d (%s) is not a valid audit record (%s); skipped: "
                    "run `releasegate audit verify`",
                    self.url,
                    env,
                    first,
                    self._where(env, first),
                    exc,
                )

    def _load(self, env: str, seq: int, *, strict: bool = False) -> AuditRecord | None:
        """The record in slot `seq`, None if empty. A damaged one raises CorruptRecord when
        `strict` (the caller cannot do without it), else reads as empty."""
        try:
            data = self._read(env, seq)
            return None if data is None else decode(data)
        except NotARecord as exc:
            if not strict:
                return None
            raise CorruptRecord(
                f"audit store {self.url}: {env} #{seq} ({self._where(env, seq)}) is not a valid "
                f"audit record ({exc}): nothing can be chained onto it; restore it from a copy "
                "(`releasegate audit verify` names every damaged record)"
            ) from None

    def _head(self, env: str, known: AuditRecord | None = None) -> AuditRecord | None:
        """The newest record. `known`: a record just read (saves a read if it is the head)."""
        for _ in range(10):
            seq = self._head_seq(env, at_least=known.seq if known else None)
            if seq is None:
                return None
            if known is not None and known.seq == seq:
                return known
            rec = self._load(env, seq, strict=True)
            if rec is not None:
                return rec
            # Found, then gone (deleted in between): look again.
        raise AuditUnavailable(f"audit store {self.url}: the head of {env!r} keeps vanishing")

    def _remember(self, record: AuditRecord) -> AuditRecord:
        with self._lock:
            cur = self._heads.get(record.environment)
            if cur is None or cur.seq < record.seq:
                self._heads[record.environment] = record
        return record

    def _hash_at(self, env: str, seq: int) -> str | None:
        rec = self._load(env, seq)
        return rec.hash if rec is not None else None

    # ------------------------------------------------------------------ the witness

    def _tell_witness(self, record: AuditRecord) -> None:
        """Publish `record` as its chain's new head (see `witness.publish`); never fails."""
        env = record.environment
        witnesses.publish(self.witness, record, lambda seq: self._hash_at(env, seq), self.url)


def _missing(env: str, first: int, last: int) -> str:
    """Words for a run of empty slots (in either order)."""
    low, high = min(first, last), max(first, last)
    span = f"#{low}" if low == high else f"#{low}..#{high}"
    return f"{env} {span}: missing: the record was deleted"


def _decoded(data: bytes | NotARecord) -> AuditRecord:
    if isinstance(data, NotARecord):
        raise data
    return decode(data)


def _checked(environment: str) -> str:
    """`environment` if it can name a folder/prefix in the layout, else AuditUnavailable."""
    try:
        env_segment(environment)
    except ValueError as exc:
        raise AuditUnavailable(f"{environment!r} is not a usable environment name: {exc}") from None
    return environment
