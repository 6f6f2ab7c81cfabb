"""Benchmark: "previous successful version" via the S3 store vs list-everything-and-sort.

Starts its own SeaweedFS, seeds one environment's chain to 1k, 10k and 100k records, and at
each size times the rollback-target query two ways on the same bucket:

* store: ``previous_good(store.newest(env), current)`` — newest-first lazy pages;
* list-all: list every key of the environment, sort by sequence number, newest first, then
  read records one by one until the policy finds its answer (the "JSON files in a bucket"
  approach this store replaces).

Both use the same policy function and must return the same record.

    .venv/bin/python bench/audit_previous_good.py [--sizes 1000,10000,100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support

from releasegate.audit.record import GENESIS, AuditEntry, AuditRecord, seal
from releasegate.audit.s3 import S3AuditStore, parse_record_name
from releasegate.policy.rollback import current_version, previous_good
from tests.support.seaweedfs import SeaweedFS

ENV = "production"
PREFIX = "bench"


def release_cycle(n: int) -> list[AuditEntry]:
    """Five records per release, as a real pipeline writes them; every 10th deploy fails."""
    version = f"1.{n // 100}.{n % 100}"
    common = {"environment": ENV, "app": "webapp", "version": version, "actor": "ci"}
    outcome = "failed" if n % 10 == 7 else "succeeded"
    checked = "passed" if outcome == "succeeded" else "failed"
    return [
        AuditEntry(kind="gate", status="passed", **common),
        AuditEntry(kind="approval", status="accepted", **{**common, "actor": "alice"}),
        AuditEntry(kind="deploy", status="started", **common),
        AuditEntry(kind="deploy", status=outcome, **common),
        AuditEntry(kind="verify", status=checked, **common),
    ]


class Seeder:
    """Writes sealed records straight into the store's key layout, many PUTs in parallel."""

    def __init__(self, store: S3AuditStore, client: Any) -> None:
        self.store, self.client = store, client
        self.head: AuditRecord | None = None
        self.cycle = 0
        self.pool = ThreadPoolExecutor(max_workers=48)

    def grow_to(self, size: int) -> float:
        started = time.perf_counter()
        batch: list[AuditRecord] = []
        while (self.head.seq + 1 if self.head else 0) < size:
            for e in release_cycle(self.cycle):
                seq = self.head.seq + 1 if self.head else 0
                if seq >= size:
                    break
                self.head = seal(e, seq=seq, prev_hash=self.head.hash if self.head else GENESIS)
                batch.append(self.head)
            self.cycle += 1
        list(self.pool.map(self._put, batch))
        return time.perf_counter() - started

    def _put(self, rec: AuditRecord) -> None:
        self.client.put_object(
            Bucket=self.store.bucket,
            Key=self.store._key(ENV, rec.seq),
            Body=rec.model_dump_json().encode(),
            ContentType="application/json",
            IfNoneMatch="*",
        )


def via_store(store: S3AuditStore) -> AuditRecord | None:
    current = current_version(store.newest(ENV))
    return previous_good(store.newest(ENV), current.version if current else None)


def via_list_all(store: S3AuditStore, client: Any) -> AuditRecord | None:
    directory = store._dir(ENV)
    keys: list[tuple[int, str]] = []
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=store.bucket, Prefix=directory
    ):
        for obj in page.get("Contents", []):
            seq = parse_record_name(obj["Key"][len(directory) :])
            if seq is not None:
                keys.append((seq, obj["Key"]))
    keys.sort(reverse=True)

    def records() -> Iterator[AuditRecord]:
        for _, key in keys:
            body = client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
            yield AuditRecord.model_validate_json(body)

    current = current_version(records())
    return previous_good(records(), current.version if current else None)


def median_ms(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    with SeaweedFS() as server:
        client = server.client(max_pool_connections=64)
        client.create_bucket(Bucket="audit-bench")
        store = S3AuditStore("audit-bench", PREFIX, client=client)
        seeder = Seeder(store, client)
        rows = []
        for size in sizes:
            took = seeder.grow_to(size)
            print(f"seeded {size:>7} records ({took:.1f}s)", file=sys.stderr, flush=True)
            via_store(store)  # warm both paths (connections, imports) before timing
            fast_ms, fast = median_ms(lambda: via_store(store), args.runs)
            slow_ms, slow = median_ms(lambda: via_list_all(store, client), max(3, args.runs // 2))
            assert fast is not None and fast == slow, (fast, slow)
            rows.append((size, fast_ms, slow_ms, fast.version, fast.seq))

    print()
    print(f"{'records':>8}  {'store (ms)':>10}  {'list-all (ms)':>13}  {'ratio':>7}  answer")
    for size, fast_ms, slow_ms, version, seq in rows:
        print(
            f"{size:>8}  {fast_ms:>10.1f}  {slow_ms:>13.1f}  {slow_ms / fast_ms:>6.0f}x"
            f"  {version} (#{seq})"
        )
    slow_runs = max(3, args.runs // 2)
    print(f"\nmedian of {args.runs} runs (list-all: {slow_runs}); SeaweedFS on 127.0.0.1")


if __name__ == "__main__":
    main()
