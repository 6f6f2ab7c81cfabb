"""The S3 audit store: the audit trail of record, one immutable object per record.

Configured as ``audit = "s3://bucket/prefix"`` (or ``RELEASEGATE_AUDIT``). The endpoint and
credentials come from boto3's standard chain (``AWS_ENDPOINT_URL_S3``, ``AWS_ACCESS_KEY_ID``,
profiles, instance/task roles), so S3-compatible stores need no code of their own.

Keys follow the shared layout (``layout.py``): ``{prefix}/{env}/records/{inverted seq}-{seq}.json``.

* ``put_object(IfNoneMatch="*")`` makes the key itself the lock: of several writers sealing
  the same ``seq`` exactly one succeeds; the others get 412, re-read the head and retry on
  top of it. So concurrent writers cannot fork the chain and no record is ever overwritten
  (the server refuses; Object Lock, when configured, makes the refusal permanent even for
  the bucket owner).
* The inverted sequence number makes S3's ascending key order newest first: the head is
  the first key of a one-key listing, whatever the history size. Every other record is
  addressed by its seq, so "latest N" and ``previous_good`` cost O(how far back they
  read), and ``verify`` walks the chain in constant memory. ``append()`` costs one PUT
  when this process wrote the head (cached), else one LIST + one GET + one PUT.

A hash chain alone cannot tell a truncated *tail* from a shorter history: the witness
(``witness.py``) and Object Lock retention (``retention_days``) are what cover the tail.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any
from urllib.parse import urlparse

from releasegate.audit.chainstore import ChainStore
from releasegate.audit.layout import (
    RECORDS,
    env_segment,
    environment_of,
    parse_record_name,
    record_path,
)
from releasegate.audit.record import NotARecord
from releasegate.audit.s3client import S3Errors, default_client
from releasegate.audit.store import AuditUnavailable, Finding
from releasegate.audit.witness import Witness

READ_AHEAD = 32
"""GETs in flight at most while reading records."""


class S3AuditStore(ChainStore):
    """Append-only, hash-chained audit records in an S3 bucket (see the module docstring)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: Any | None = None,
        retention_days: int | None = None,
        contention_timeout: float = 60.0,
        witness: Witness | None = None,
    ) -> None:
        if not bucket:
            raise ValueError("an S3 audit store needs a bucket name")
        if retention_days is not None and retention_days < 1:
            raise ValueError(f"retention_days must be at least 1, not {retention_days}")
        super().__init__(witness=witness, contention_timeout=contention_timeout)
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.retention_days = retention_days
        self._client = client if client is not None else default_client()
        self._errors = S3Errors(self._client, self.url)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @classmethod
    def from_url(
        cls,
        url: str,
        retention_days: int | None = None,
        *,
        client: Any | None = None,
        witness: Witness | None = None,
    ) -> S3AuditStore:
        """A store for ``s3://bucket/prefix`` (the prefix is optional)."""
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"not an S3 audit URL (expected s3://bucket/prefix): {url!r}")
        return cls(
            parsed.netloc,
            parsed.path,
            client=client,
            retention_days=retention_days,
            witness=witness,
        )

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, environment: str, seq: int) -> str:
        """The object key of slot `seq`."""
        return self.prefix + record_path(environment, seq)

    def close(self) -> None:
        """Stop the read-ahead threads (they are idle between queries)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ the backend

    def _read(self, environment: str, seq: int) -> bytes | None:
        try:
            body: bytes = self._client.get_object(
                Bucket=self.bucket, Key=self.key(environment, seq)
            )["Body"].read()
        except self._client.exceptions.NoSuchKey:
            return None
        except Exception as exc:
            raise self._errors.unavailable("read a record", exc) from None
        return body

    def _create(self, environment: str, seq: int, data: bytes) -> bool:
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.key(environment, seq),
            "Body": data,
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
        except Exception as exc:
            if self._errors.slot_taken(exc):
                return False
            if self._errors.code(exc) == "InvalidRequest" and self.retention_days is not None:
                raise AuditUnavailable(
                    f"audit store {self.url}: retention_days={self.retention_days} needs a "
                    "bucket with Object Lock enabled; the server refused: "
                    f"{self._errors.message(exc)}"
                ) from None
            raise self._errors.unavailable("write a record", exc) from None
        return True

    def _head_seq(self, environment: str, at_least: int | None = None) -> int | None:
        # Newest first: the first record name listed is the head. Foreign keys that sort
        # before it are skipped (verify reports them).
        del at_least  # the listing finds the head directly
        return self._first_listed(environment, (1, 8, 1000))

    def _next_occupied(self, environment: str, seq: int, step: int) -> int | None:
        if step > 0:
            return super()._next_occupied(environment, seq, step)
        # Keys sort newest first: the first record listed after this slot is the next older.
        return self._first_listed(environment, (8, 1000), after=self.key(environment, seq))

    def _scan(self, environment: str) -> Iterator[str]:
        for names in self._names(f"{self.prefix}{env_segment(environment)}/", sizes=(1000,)):
            yield from names

    def _where(self, environment: str, seq: int) -> str:
        return f"s3://{self.bucket}/{self.key(environment, seq)}"

    def _reads(
        self, environment: str, seqs: Iterable[int], batches: tuple[int, ...]
    ) -> Generator[tuple[int, bytes | NotARecord | None], None, None]:
        """GETs ahead of the consumer, a batch at a time: the next batch starts only once
        this one is read, so stopping early wastes at most one batch of GETs. At most the
        first batch's size are in flight (8 for newest(), 32 for a walk of the chain)."""
        pool = self._executor()
        todo = iter(seqs)
        sizes = iter(batches)
        size = next(sizes)
        in_flight = min(size, READ_AHEAD)
        pending: deque[tuple[int, Future[bytes | None]]] = deque()
        try:
            while True:
                batch = deque(islice(todo, size))
                if not batch:
                    return
                size = next(sizes, size)
                while batch or pending:
                    while batch and len(pending) < in_flight:
                        seq = batch.popleft()
                        pending.append((seq, pool.submit(self._read, environment, seq)))
                    seq, fut = pending.popleft()
                    yield seq, fut.result()
        finally:
            for _, fut in pending:  # the consumer stopped early: drop what it will not read
                fut.cancel()

    def environments(self) -> list[str]:
        return sorted(name for name, is_env in self._top() if is_env and name is not None)

    def foreign(self) -> Iterator[Finding]:
        for name, is_env in self._top():
            if not is_env:
                yield Finding(f"{self.url}{name}: not an environment: ignored", "notice")

    # ------------------------------------------------------------------ internals

    def _records_dir(self, environment: str) -> str:
        return f"{self.prefix}{env_segment(environment)}/{RECORDS}/"

    def _first_listed(
        self, environment: str, sizes: tuple[int, ...], after: str = ""
    ) -> int | None:
        """The seq of the first record name listed (after key `after`): the newest one."""
        for names in self._names(self._records_dir(environment), sizes, start_after=after):
            for name in names:
                if (seq := parse_record_name(name)) is not None:
                    return seq
        return None

    def _top(self) -> Iterator[tuple[str, bool]]:
        """Each entry directly under the prefix, and whether it is an environment."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix, "Delimiter": "/"}
        while True:
            page = self._call("list environments", **kwargs)
            for obj in page.get("Contents", []):
                yield obj["Key"][len(self.prefix) :], False
            for cp in page.get("CommonPrefixes", []):
                segment = cp["Prefix"][len(self.prefix) :].rstrip("/")
                env = environment_of(segment)
                is_env = env is not None and self._head_seq(env) is not None
                yield (env if is_env and env else segment + "/"), is_env
            if not page.get("IsTruncated"):
                return
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def _names(
        self, directory: str, sizes: tuple[int, ...], start_after: str = ""
    ) -> Iterator[list[str]]:
        """Key names below `directory` in key order (after `start_after`), a page per LIST
        (page sizes `sizes`)."""
        size_iter = iter(sizes)
        size = next(size_iter)
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": directory, "MaxKeys": size}
            if start_after:
                kwargs["StartAfter"] = start_after
            page = self._call("list records", **kwargs)
            contents = page.get("Contents", [])
            yield [obj["Key"][len(directory) :] for obj in contents]
            if not page.get("IsTruncated") or not contents:
                return
            start_after = contents[-1]["Key"]
            size = next(size_iter, size)

    def _call(self, what: str, **kwargs: Any) -> Any:
        try:
            return self._client.list_objects_v2(**kwargs)
        except Exception as exc:
            raise self._errors.unavailable(what, exc) from None

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=READ_AHEAD, thread_name_prefix="s3-audit"
                )
            return self._pool
