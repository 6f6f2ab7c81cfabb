"""Benchmark: the audit trail at 1k, 10k and 100k records.

Each size is its own history of one environment (six records per release, as the pipeline
writes them: a gate, alice's and bob's signed approvals, deploy started, the outcome, the
verify; one deploy in seven fails). It is written by `tests/support/bulk.py`, which writes
the file store's own files byte for byte (checked by `tests/audit/test_flat_cost.py`),
only without a per-record fsync. Timed, each time on a fresh store object (as a new
process sees it):

* append: one `store.append` (finds the head, reads it, writes and fsyncs the record);
* newest(20): the latest 20 records (`releasegate history`);
* previous good: the rollback target (`previous_good(newest, current)`);
* audit verify: `releasegate audit verify` in a child process: every hash and every
  stored signature; wall time and the child's peak RSS (its own VmHWM);
* report: `releasegate report production --since 3650d --json` in a child process: the
  dashboard's figures over the whole history (every record is in the period), streamed;
  wall time and peak RSS as for verify.

The operations run in interleaved rounds (1k, 10k, 100k, 1k, ...), so the sizes share
whatever else the machine is doing; medians per size. With `--s3`, each history is also
copied key for key into a bucket on a local SeaweedFS (the plain copy the shared layout
allows) and timed there too, after the file stores.

Ratios are the 100k figure over the 1k one on the file store, measured in the same run.

    .venv/bin/python bench/audit_scale.py [--sizes 1000,10000,100000] [--runs 31] [--s3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import count, islice
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.support

from releasegate.audit.chainstore import ChainStore  # noqa: E402
from releasegate.audit.file import FileAuditStore  # noqa: E402
from releasegate.audit.record import AuditEntry  # noqa: E402
from releasegate.audit.s3 import S3AuditStore  # noqa: E402
from releasegate.policy.rollback import current_version, previous_good  # noqa: E402
from tests.support.bulk import write_history  # noqa: E402
from tests.support.records import make_entry, signed_release  # noqa: E402
from tests.support.seaweedfs import SeaweedFS  # noqa: E402

ENV = "production"
RECORDS_PER_RELEASE = 6
REPORT = ("report", ENV, "--since", "3650d", "--json")


def releases() -> Iterator[AuditEntry]:
    """Release after release, six records each."""
    for n in count():
        version = f"1.{n // 1000}.{n % 1000}"
        approve_alice, approve_bob, deployed = signed_release(version, ENV, n)
        failed = n % 7 == 3
        yield make_entry(ENV, kind="gate", status="passed", version=version)
        yield approve_alice
        yield approve_bob
        yield make_entry(ENV, status="started", version=version, operation_id=f"op{n}")
        committed = (datetime.now(UTC) - timedelta(hours=1)).isoformat()  # lead time: 1h
        yield deployed.model_copy(
            update={
                "status": "failed" if failed else "succeeded",
                "operation_id": f"op{n}",
                "details": {"committed_at": committed},
            }
        )
        yield make_entry(
            ENV, kind="verify", status="failed" if failed else "passed", version=version
        )


# The child reports its own peak: VmHWM belongs to the address space made by exec, whereas
# wait4's ru_maxrss also counts the parent's pages that a vfork-ed child shared before exec.
_CHILD = """
import atexit, sys
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print(f"peak-rss-kib={line.split()[1]}", file=sys.stderr)
atexit.register(peak)
from releasegate.cli import main
sys.argv = ["releasegate", *sys.argv[1:]]
main()
"""


def in_child(root: Path, *command: str) -> tuple[float, float, str]:
    """`releasegate COMMAND` on the store: (seconds, peak RSS in MiB, its output)."""
    env = {**os.environ, "RELEASEGATE_AUDIT": str(root), "RELEASEGATE_HOME": str(root.parent)}
    config = REPO / "deployments" / "releasegate.toml"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *command, "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    peak = next(ln for ln in done.stderr.splitlines() if ln.startswith("peak-rss-kib="))
    return took, int(peak.split("=")[1]) / 1024, done.stdout.strip()


def append(store: ChainStore, appends: Iterator[AuditEntry]) -> None:
    store.append(next(appends))


def newest(store: ChainStore, _: Iterator[AuditEntry]) -> None:
    assert len(list(islice(store.newest(ENV), 20))) == 20


def prevgood(store: ChainStore, _: Iterator[AuditEntry]) -> None:
    current = current_version(store.newest(ENV))
    assert current is not None
    assert previous_good(store.newest(ENV), current.version) is not None


OPERATIONS = {"append": append, "newest": newest, "prevgood": prevgood}


def interleaved(
    stores: dict[tuple[str, int], Callable[[], ChainStore]], runs: int
) -> dict[tuple[str, int], dict[str, float]]:
    """Median ms per store and operation; each round runs every operation on every store."""
    appends = {
        key: (make_entry(ENV, kind="gate", status="passed", version=f"a{i}") for i in range(10**9))
        for key in stores
    }
    times: dict[tuple[str, int], dict[str, list[float]]] = {
        key: {op: [] for op in OPERATIONS} for key in stores
    }
    for round_ in range(runs + 1):  # round 0 warms up: imports, the page cache, first use
        for op, run in OPERATIONS.items():
            for key, open_store in stores.items():
                store = open_store()
                started = time.perf_counter()
                run(store, appends[key])
                if round_:
                    times[key][op].append((time.perf_counter() - started) * 1000)
    return {key: {op: statistics.median(t) for op, t in ops.items()} for key, ops in times.items()}


class Bucket:
    """The histories in S3 (SeaweedFS): the file store's files, copied key for key."""

    def __init__(self, server: Any) -> None:
        self.client = server.client(max_pool_connections=32)
        self.client.create_bucket(Bucket="audit-scale")
        self.pool = ThreadPoolExecutor(32)

    def copy(self, files: FileAuditStore, prefix: str) -> Callable[[], ChainStore]:
        def put(path: Path) -> None:
            key = f"{prefix}/{path.relative_to(files.root)}"
            self.client.put_object(Bucket="audit-scale", Key=key, Body=path.read_bytes())

        records = files.record_path(ENV, 0).parent
        list(self.pool.map(put, (Path(e.path) for e in os.scandir(records))))
        return partial(S3AuditStore, "audit-scale", prefix, client=self.client)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--s3", action="store_true", help="also time the S3 store (SeaweedFS)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    work = Path(tempfile.mkdtemp(prefix="audit-scale-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        bucket = Bucket(stack.enter_context(SeaweedFS())) if args.s3 else None
        stores: dict[tuple[str, int], Callable[[], ChainStore]] = {}
        for size in sizes:
            started = time.perf_counter()
            files = FileAuditStore(work / f"audit-{size}")
            write_history(files, islice(releases(), size))
            stores["file", size] = partial(FileAuditStore, files.root)
            if bucket is not None:
                stores["s3", size] = bucket.copy(files, f"copy-{size}")
            print(
                f"built {size:>7} records ({time.perf_counter() - started:.1f}s)", file=sys.stderr
            )
        # The file stores first, on their own: S3 requests keep SeaweedFS busy after they return.
        medians = interleaved({k: v for k, v in stores.items() if k[0] == "file"}, args.runs)
        medians |= interleaved({k: v for k, v in stores.items() if k[0] == "s3"}, args.runs)
        verified, reported = {}, {}
        for size in sizes:
            verified[size] = in_child(work / f"audit-{size}", "audit", "verify", ENV)
            print(f"  verify at {size}: {verified[size][2].splitlines()[-1]}", file=sys.stderr)
            reported[size] = in_child(work / f"audit-{size}", *REPORT)
            (figures,) = json.loads(reported[size][2])["environments"]
            print(f"  report at {size}: {figures['deploys']} deploys, change failure rate "
                  f"{figures['change_failure_rate']:.2f}", file=sys.stderr)  # fmt: skip

    load = os.getloadavg()
    print()
    print(
        f"{'records':>8}  {'store':>5}  {'append ms':>9}  {'newest(20) ms':>13}  "
        f"{'prev-good ms':>12}  {'verify s':>8}  {'verify peak MiB':>15}  {'report s':>8}  "
        f"{'report peak MiB':>15}"
    )
    for (name, size), f in sorted(medians.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        ms = f"{f['append']:>9.2f}  {f['newest']:>13.2f}  {f['prevgood']:>12.2f}"
        took, mib, _ = verified[size]
        verify = f"  {took:>8.2f}  {mib:>15.0f}" if name == "file" else ""
        report_s, report_mib, _ = reported[size]
        report = f"  {report_s:>8.2f}  {report_mib:>15.0f}" if name == "file" else ""
        print(f"{size:>8}  {name:>5}  {ms}{verify}{report}")
    signatures = 4 * sizes[-1] // RECORDS_PER_RELEASE  # 2 approvals + the deploy's 2
    print(
        f"\nmedians of {args.runs} interleaved rounds, each operation on a fresh store object; "
        f"verify: `releasegate audit verify` in a child process (every hash, ~{signatures:,} "
        f"stored signatures at {sizes[-1]:,} records); report: `releasegate {' '.join(REPORT)}` "
        f"in a child process; {os.cpu_count()} cores, load average "
        f"{load[0]:.2f} at the end ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)"
    )
    first, last = medians["file", sizes[0]], medians["file", sizes[-1]]
    print(
        f"audit-scale: append_ratio={last['append'] / first['append']:.2f} "
        f"newest_ratio={last['newest'] / first['newest']:.2f} "
        f"prevgood_ratio={last['prevgood'] / first['prevgood']:.2f} "
        f"verify_100k_s={verified[sizes[-1]][0]:.1f} verify_peak_mib={verified[sizes[-1]][1]:.0f}"
    )


if __name__ == "__main__":
    main()
