"""The S3 audit store against a real S3 server: appends, reads, queries, export."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from releasegate.audit.layout import parse_record_name, record_name
from releasegate.audit.record import GENESIS, verify_chain
from releasegate.audit.s3 import S3AuditStore
from releasegate.cli import app
from releasegate.policy.rollback import current_version, previous_good
from tests.conftest import REPO
from tests.support.records import broken

pytestmark = pytest.mark.integration


def test_record_names_sort_newest_first() -> None:
    names = [record_name(seq) for seq in (0, 1, 9, 10, 99, 100, 12345)]
    assert sorted(names) == list(reversed(names))
    assert [parse_record_name(n) for n in names] == [0, 1, 9, 10, 99, 100, 12345]
    assert parse_record_name("0000000000000001-5.json") is None  # suffix must agree
    assert parse_record_name("notes.txt") is None


def test_append_builds_a_verifiable_chain(store: S3AuditStore, entry: Any) -> None:
    records = [store.append(entry(version=f"1.0.{i}")) for i in range(5)]
    assert [r.seq for r in records] == [0, 1, 2, 3, 4]
    assert records[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(records))

    chain = list(store.chain("production"))
    assert chain == records
    assert verify_chain(chain) == []
    assert broken(store) == []


def test_environments_are_separate_chains(store: S3AuditStore, entry: Any) -> None:
    store.append(entry("staging"))
    store.append(entry("production"))
    store.append(entry("staging"))
    store.append(entry("eu west/1"))  # odd names are quoted into one key segment
    assert store.environments() == ["eu west/1", "production", "staging"]
    assert [r.seq for r in store.chain("staging")] == [0, 1]
    assert [r.seq for r in store.chain("eu west/1")] == [0]
    assert all(broken(store, env) == [] for env in store.environments())


def test_keys_live_under_the_prefix(store: S3AuditStore, entry: Any, s3: Any) -> None:
    store.append(entry())
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=store.bucket)["Contents"]]
    assert keys == ["trail/production/records/9999999999999999-0.json"]


def test_newest_and_latest_n(store: S3AuditStore, entry: Any) -> None:
    for i in range(30):
        store.append(entry(version=f"1.0.{i}"))
    assert [r.seq for r in itertools.islice(store.newest("production"), 5)] == [29, 28, 27, 26, 25]
    assert [r.seq for r in store.newest("production")] == list(range(29, -1, -1))
    assert list(store.newest("nowhere")) == []
    assert list(store.newest("nowhere")) == []


def test_previous_good_through_the_store(store: S3AuditStore, entry: Any) -> None:
    store.append(entry(version="1.0.0"))
    store.append(entry(version="1.1.0"))
    store.append(entry(version="1.2.0", status="failed"))  # never served
    store.append(entry(kind="gate", version="1.3.0", status="passed"))
    store.append(entry(version="1.3.0", status="started"))
    store.append(entry(version="1.3.0"))
    store.append(entry(version="1.3.0"))  # a redeploy of the current version

    current = current_version(store.newest("production"))
    assert current is not None and current.version == "1.3.0" and current.seq == 6
    good = previous_good(store.newest("production"), current.version)
    assert good is not None and (good.version, good.seq) == ("1.1.0", 1)


def test_previous_good_reads_only_the_newest_page(bucket: str, seaweedfs: Any, entry: Any) -> None:
    """Cost depends on how far back the answer is, not on the history size."""
    client = seaweedfs.client()
    calls: list[str] = []
    client.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    store = S3AuditStore(bucket, client=client)
    for i in range(200):
        store.append(entry(version=f"1.0.{i}"))
    calls.clear()

    good = previous_good(store.newest("production"), "1.0.199")
    assert good is not None and good.seq == 198
    assert calls.count("ListObjectsV2") == 1
    assert calls.count("GetObject") <= 8  # one page of prefetch, not 200 records


def test_append_costs_one_put_when_this_process_holds_the_head(
    bucket: str, seaweedfs: Any, entry: Any
) -> None:
    client = seaweedfs.client()
    calls: list[str] = []
    client.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    store = S3AuditStore(bucket, client=client)
    store.append(entry())
    calls.clear()
    store.append(entry())
    assert calls == ["PutObject"]
    # A fresh store (another process) finds the head with one LIST + one GET.
    calls.clear()
    S3AuditStore(bucket, client=client).append(entry())
    assert calls == ["ListObjectsV2", "GetObject", "PutObject"]


def test_append_is_idempotent_for_the_same_entry(store: S3AuditStore, entry: Any) -> None:
    """A retried append (Prefect task retry after a lost response) does not duplicate."""
    e = entry()
    first = store.append(e)
    again = S3AuditStore(store.bucket, store.prefix, client=store._client).append(e)
    assert again == first
    assert [r.seq for r in store.chain("production")] == [0]


def test_audit_export_jsonl_streams_in_chain_order(
    store: S3AuditStore, entry: Any, seaweedfs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        store.append(entry("staging", version=f"0.{i}"))
        store.append(entry("production", version=f"1.{i}"))
    for name, value in {**seaweedfs.env(), "RELEASEGATE_AUDIT": store.url}.items():
        monkeypatch.setenv(name, value)
    config = str(REPO / "deployments" / "releasegate.toml")
    result = CliRunner().invoke(app, ["audit", "export", "--jsonl", "--config", config])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["environment"], r["seq"]) for r in rows] == [
        ("production", 0),
        ("production", 1),
        ("production", 2),
        ("staging", 0),
        ("staging", 1),
        ("staging", 2),
    ]
    assert all(r["hash"] and r["prev_hash"] for r in rows)


def test_from_url_uses_the_standard_credential_chain(
    seaweedfs: Any, bucket: str, entry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in seaweedfs.env().items():
        monkeypatch.setenv(name, value)
    store = S3AuditStore.from_url(f"s3://{bucket}/team/audit")
    assert (store.bucket, store.prefix) == (bucket, "team/audit/")
    rec = store.append(entry())
    assert list(store.newest("production")) == [rec]
    assert S3AuditStore.from_url(f"s3://{bucket}").prefix == ""
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        S3AuditStore.from_url(f"https://{bucket}/x")
