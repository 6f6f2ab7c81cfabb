"""The S3 audit store: the audit trail of record, one immutable object per record.

Configured as ``audit = "s3://bucket/prefix"`` (or ``RELEASEGATE_AUDIT``). The endpoint and
credentials come from boto3's standard chain (``AWS_ENDPOINT_URL_S3``, ``AWS_ACCESS_KEY_ID``,
profiles, instance/task roles), so S3-compatible stores need no code of their own.

Key layout
----------
::

    {prefix}/{env}/records/{9999999999999999 - seq:016d}-{seq}.json

* One key per sequence slot. ``put_object(IfNoneMatch="*")`` makes the key itself the lock:
  of several writers sealing the same ``seq`` exactly one succeeds; the others get 412,
  re-read the head and retry on top of it. So concurrent writers cannot fork the chain and
  no record is ever overwritten (the server refuses; Object Lock, when configured, makes
  the refusal permanent even for the bucket owner).
* The sequence number is *inverted* and zero-padded, so S3's ascending key order is newest
  first. The head of a chain is the first key of a ``MaxKeys=1`` listing: one request,
  whatever the history size; no head pointer object to keep consistent. ``newest()`` lists
  lazily in pages and fetches only a few records ahead of its consumer, so "latest N" and
  ``previous_good`` cost O(how far back they read), not O(history). ``append()`` costs one
  PUT when this process wrote the head (cached), else one LIST + one GET + one PUT.
* The plain ``-{seq}`` suffix is only for people browsing the bucket; it is a function of
  the inverted part, so each slot still has exactly one possible key.
* ``{env}`` is URL-quoted so any environment name is one path segment.

Integrity: each record carries ``prev_hash`` and ``hash`` (see ``record.py``);
``verify()`` walks a chain and reports edited, missing, misfiled or unreadable records.
A hash chain alone cannot tell a truncated *tail* from a shorter history; Object Lock
retention (``retention_days``) is what makes deleting the newest records impossible.
"""

from __future__ import annotations

import itertools
import random
import re
import threading
import time
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlparse

from pydantic import ValidationError

from releasegate.audit.record import GENESIS, AuditEntry, AuditRecord, seal, verify_chain
from releasegate.audit.store import AuditStore, AuditUnavailable

SEQ_WIDTH = 16
_INVERT = 10**SEQ_WIDTH - 1
_RECORD_KEY = re.compile(rf"^(\d{{{SEQ_WIDTH}}})-(\d+)\.json$")
_PAGES = (8, 64, 512, 1000)
"""List page sizes for newest(): small first (latest-N, previous good), then growing."""
_PREFETCH_NEWEST = 8
_PREFETCH_CHAIN = 32


class CorruptRecord(AuditUnavailable):
    """A stored object is not a valid audit record (edited by hand or damaged)."""


# --------------------------------------------------------------------------- key naming
# Shared with anything else that wants the same layout (e.g. a mirror or a migration).


def env_segment(environment: str) -> str:
    """The key segment of an environment: URL-quoted so it is exactly one segment."""
    return quote(environment, safe="")


def record_name(seq: int) -> str:
    """The object name of sequence slot `seq`: inverted so ascending order is newest first."""
    if not 0 <= seq <= _INVERT:
        raise ValueError(f"sequence number out of range: {seq}")
    return f"{_INVERT - seq:0{SEQ_WIDTH}d}-{seq}.json"


def parse_record_name(name: str) -> int | None:
    """The sequence number of an object name, or None if it is not a record name."""
    m = _RECORD_KEY.match(name)
    if m is None:
        return None
    seq = _INVERT - int(m.group(1))
    return seq if int(m.group(2)) == seq else None


# --------------------------------------------------------------------------- the store


class S3AuditStore(AuditStore):
    """Append-only, hash-chained audit records in an S3 bucket (see the module docstring)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: Any | None = None,
        retention_days: int | None = None,
        contention_timeout: float = 60.0,
    ) -> None:
        if not bucket:
            raise ValueError("an S3 audit store needs a bucket name")
        if retention_days is not None and retention_days < 1:
            raise ValueError(f"retention_days must be at least 1, not {retention_days}")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.retention_days = retention_days
        self.contention_timeout = contention_timeout
        self._client = client if client is not None else default_client()
        self._heads: dict[str, AuditRecord] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def from_url(
        cls, url: str, retention_days: int | None = None, *, client: Any | None = None
    ) -> S3AuditStore:
        """A store for ``s3://bucket/prefix`` (the prefix is optional)."""
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"not an S3 audit URL (expected s3://bucket/prefix): {url!r}")
        return cls(parsed.netloc, parsed.path, client=client, retention_days=retention_days)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def __repr__(self) -> str:
        return f"S3AuditStore({self.url!r})"

    # ------------------------------------------------------------------ AuditStore

    def append(self, entry: AuditEntry) -> AuditRecord:
        """Seal `entry` on top of its chain's head and store it; race-safe across processes."""
        env = entry.environment
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
            if self._put_new(env, record):
                return self._remember(record)
            # Slot taken. A retried PUT whose first attempt landed also ends here: is it ours?
            taken = self._get(self._key(env, seq))
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
        """Records newest first; lists page by page and fetches a few records ahead."""
        return self._fetch(self._key_pages(environment, _PAGES), _PREFETCH_NEWEST)

    def chain(self, environment: str) -> Iterator[AuditRecord]:
        """Every record in sequence order. Lists the whole chain first (it must: oldest last)."""
        keys = [k for page in self._key_pages(environment, (1000,)) for k in page]
        keys.reverse()
        return self._fetch([keys], _PREFETCH_CHAIN)

    def environments(self) -> list[str]:
        names: list[str] = []
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix, "Delimiter": "/"}
        while True:
            page = self._call("list environments", self._client.list_objects_v2, **kwargs)
            for cp in page.get("CommonPrefixes", []):
                names.append(unquote(cp["Prefix"][len(self.prefix) :].rstrip("/")))
            if not page.get("IsTruncated"):
                return sorted(names)
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def close(self) -> None:
        """Stop the prefetch threads (they are idle between queries)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ verification

    def verify(self, environment: str) -> list[str]:
        """Problems in `environment`'s chain in chain order; the first is the first broken link.

        Beyond `verify_chain` (edited, missing, reordered records) this reports objects that
        are not records, records that do not parse, and records filed under the wrong slot.
        """
        found: list[tuple[int, str]] = []
        records: list[AuditRecord] = []
        names = [n for page in self._name_pages(environment, (1000,)) for n in page]
        names.reverse()
        keys = []
        for name in names:
            seq = parse_record_name(name)
            if seq is None:
                found.append((-1, f"{environment}: {self._dir(environment)}{name}: not a record"))
            else:
                keys.append((seq, self._dir(environment) + name))
        for (seq, key), rec in zip(
            keys, self._fetch_raw([[k for _, k in keys]], _PREFETCH_CHAIN), strict=True
        ):
            where = f"{environment} #{seq} ({key})"
            if rec is None:
                found.append((seq, f"{where}: listed but gone: deleted while verifying"))
            elif isinstance(rec, str):
                found.append((seq, f"{where}: not a valid audit record ({rec}): edited"))
            else:
                if rec.seq != seq or rec.environment != environment:
                    found.append(
                        (seq, f"{where}: record says {rec.environment} #{rec.seq}: misfiled")
                    )
                records.append(rec)
        for problem in verify_chain(records):
            m = re.search(r" #(\d+) \(", problem)
            found.append((int(m.group(1)) if m else -1, problem))
        found.sort(key=lambda p: p[0])  # stable: verify_chain's own order within one record
        return [p for _, p in found]

    # ------------------------------------------------------------------ internals

    def _dir(self, environment: str) -> str:
        return f"{self.prefix}{env_segment(environment)}/records/"

    def _key(self, environment: str, seq: int) -> str:
        return self._dir(environment) + record_name(seq)

    def _remember(self, record: AuditRecord) -> AuditRecord:
        with self._lock:
            cur = self._heads.get(record.environment)
            if cur is None or cur.seq < record.seq:
                self._heads[record.environment] = record
        return record

    def _name_pages(self, environment: str, sizes: Iterable[int]) -> Iterator[list[str]]:
        """Object names under the environment's records, newest first, a page per LIST."""
        directory = self._dir(environment)
        size_iter = iter(sizes)
        size = next(size_iter)
        start_after = ""
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": directory, "MaxKeys": size}
            if start_after:
                kwargs["StartAfter"] = start_after
            page = self._call("list records", self._client.list_objects_v2, **kwargs)
            contents = page.get("Contents", [])
            yield [obj["Key"][len(directory) :] for obj in contents]
            if not page.get("IsTruncated") or not contents:
                return
            start_after = contents[-1]["Key"]
            size = next(size_iter, size)

    def _key_pages(self, environment: str, sizes: Iterable[int]) -> Iterator[list[str]]:
        directory = self._dir(environment)
        for names in self._name_pages(environment, sizes):
            # Strays (not record names) are verify()'s business.
            yield [directory + n for n in names if parse_record_name(n) is not None]

    def _head(self, environment: str, known: AuditRecord | None = None) -> AuditRecord | None:
        """The newest record: the first key of a one-key listing, then its body.

        `known` is a record just read; if it is the head, its GET is saved.
        """
        for _ in range(10):
            page = next(self._key_pages(environment, (1,)))
            if not page:
                return None
            key = page[0]
            if known is not None and key == self._key(environment, known.seq):
                return known
            rec = self._get(key)
            if rec is not None:
                return rec
            # Listed, then gone (deleted in between): list again.
        raise AuditUnavailable(
            f"audit store {self.url}: the head of {environment!r} keeps vanishing"
        )

    def _put_new(self, environment: str, record: AuditRecord) -> bool:
        """Store `record` in its slot unless the slot exists; False if someone was first."""
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self._key(environment, record.seq),
            "Body": record.model_dump_json().encode(),
            "ContentType": "application/json",
            "IfNoneMatch": "*",
        }
        if self.retention_days is not None:
            kwargs["ObjectLockMode"] = "COMPLIANCE"
            kwargs["ObjectLockRetainUntilDate"] = datetime.now(UTC) + timedelta(
                days=self.retention_days
            )
        try:
            self._client.put_object(**kwargs)
        except self._client.exceptions.ClientError as exc:
            code = _code(exc)
            # 412: the slot exists. 409: S3's answer to a conditional write racing another.
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or _status(exc) == 412:
                return False
            if code == "InvalidRequest" and self.retention_days is not None:
                raise AuditUnavailable(
                    f"audit store {self.url}: retention_days={self.retention_days} needs a "
                    f"bucket with Object Lock enabled; the server refused: {_message(exc)}"
                ) from None
            raise self._unavailable("write a record", exc) from None
        except Exception as exc:
            raise self._unavailable("write a record", exc) from None
        return True

    def _get_raw(self, key: str) -> AuditRecord | str | None:
        """The record at `key`; None if absent; a reason string if it does not parse."""
        try:
            body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self._client.exceptions.NoSuchKey:
            return None
        except Exception as exc:
            raise self._unavailable("read a record", exc) from None
        try:
            return AuditRecord.model_validate_json(body)
        except ValidationError as exc:
            return f"{exc.error_count()} validation error(s), first: {exc.errors()[0]['msg']}"

    def _get(self, key: str) -> AuditRecord | None:
        rec = self._get_raw(key)
        if isinstance(rec, str):
            raise CorruptRecord(f"audit store {self.url}: {key} is not a valid record: {rec}")
        return rec

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="s3-audit")
            return self._pool

    def _fetch_raw(self, pages: Iterable[list[str]], window: int) -> Iterator[Any]:
        """GET the keys of `pages` in order, yielding `_get_raw` results in key order.

        At most `window` GETs are in flight, all from the current page: the next page is
        listed only once the consumer has read this one, so stopping early costs at most
        one page of LISTing and `window` wasted GETs.
        """
        pool = self._executor()
        pending: deque[Future[Any]] = deque()
        page_iter = iter(pages)
        keys: deque[str] = deque()
        try:
            while True:
                if not keys and not pending:
                    page = next(page_iter, None)
                    if page is None:
                        return
                    keys.extend(page)
                    continue
                while keys and len(pending) < window:
                    pending.append(pool.submit(self._get_raw, keys.popleft()))
                yield pending.popleft().result()
        finally:
            for fut in pending:  # the consumer stopped early: drop what it will not read
                fut.cancel()

    def _fetch(self, pages: Iterable[list[str]], window: int) -> Generator[AuditRecord, None, None]:
        for rec in self._fetch_raw(pages, window):
            if rec is None:
                continue  # deleted between LIST and GET; verify() reports the gap
            if isinstance(rec, str):
                raise CorruptRecord(f"audit store {self.url}: a record does not parse: {rec}")
            yield rec

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except Exception as exc:
            raise self._unavailable(what, exc) from None

    def _unavailable(self, what: str, exc: Exception) -> AuditUnavailable:
        """A clear message naming the bucket and the cause; never a secret."""
        from botocore import exceptions as be

        endpoint = getattr(self._client.meta, "endpoint_url", "?")
        if isinstance(exc, be.ClientError):
            code = _code(exc)
            cause = _CAUSES.get(code, f"{code}: {_message(exc)}")
        elif isinstance(exc, be.NoCredentialsError | be.PartialCredentialsError):
            cause = (
                "no usable credentials (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                "AWS_PROFILE, or run with a role)"
            )
        elif isinstance(exc, be.EndpointConnectionError | be.ConnectTimeoutError):
            cause = f"cannot connect to the S3 endpoint {endpoint}"
        elif isinstance(exc, be.ReadTimeoutError | be.ConnectionClosedError):
            cause = f"the S3 endpoint {endpoint} did not answer in time"
        elif isinstance(exc, be.BotoCoreError):
            cause = f"{type(exc).__name__}: {exc}"
        else:
            raise exc
        return AuditUnavailable(f"audit store {self.url}: cannot {what}: {cause}")


_CAUSES = {
    "NoSuchBucket": "the bucket does not exist",
    "AccessDenied": "access denied (the credentials lack permission on this bucket)",
    "InvalidAccessKeyId": "the access key is not known to the server (wrong credentials)",
    "SignatureDoesNotMatch": "the secret key does not match the access key (wrong credentials)",
    "ExpiredToken": "the session token has expired",
    "InvalidToken": "the session token is invalid",
    "AllAccessDisabled": "all access to this bucket has been disabled",
}


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: Any) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _message(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)


def default_client() -> Any:
    """An S3 client from boto3's standard chain, with retries for transient errors."""
    import boto3
    from botocore.config import Config

    # A session of its own: boto3's module-level default session caches the credentials it
    # resolved first, so a later change of AWS_* (or of profile) would go unnoticed.
    return boto3.session.Session().client(
        "s3",
        config=Config(
            # "standard" mode: exponential backoff with jitter on throttling, 5xx and
            # connection errors. 412 is not retried: it is our slot-race signal.
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=16,
        ),
    )
