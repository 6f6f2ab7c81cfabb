"""Immutability and tamper evidence: races, overwrites, edits, deletions, Object Lock."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from releasegate.audit.layout import record_name
from releasegate.audit.record import encode, seal, verify_chain
from releasegate.audit.s3 import S3AuditStore
from releasegate.audit.store import AuditUnavailable, CorruptRecord
from releasegate.processes import wait_until
from tests.support.records import broken, notices

pytestmark = pytest.mark.integration

WRITERS, EACH = 8, 25

# Each writer: build the store from the URL (boto3's standard chain from the environment),
# say it is ready, wait for everyone, then append EACH records as fast as it can.
_WRITER = """
import sys, time
from pathlib import Path
from releasegate.audit.record import AuditEntry
from releasegate.audit.s3 import S3AuditStore

url, writer, each, rendezvous = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
store = S3AuditStore.from_url(url)
(rendezvous / f"ready-{writer}").touch()
deadline = time.monotonic() + 60
while not (rendezvous / "go").exists():
    if time.monotonic() > deadline:
        sys.exit("no go signal")
    time.sleep(0.005)
for i in range(each):
    rec = store.append(AuditEntry(kind="deploy", environment="production", app="webapp",
        version=f"{writer}.{i}", status="succeeded", actor=f"writer-{writer}"))
    print(rec.id, rec.seq, flush=True)
"""


def test_concurrent_processes_neither_fork_nor_lose_records(
    seaweedfs: Any, bucket: str, tmp_path: Path
) -> None:
    env = {**_clean_env(), **seaweedfs.env()}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, f"s3://{bucket}/race", str(w), str(EACH), tmp_path],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(WRITERS)
    ]
    try:
        wait_until(
            lambda: all((tmp_path / f"ready-{w}").exists() for w in range(WRITERS)),
            timeout=60,
            what="all writers ready",
        )
        (tmp_path / "go").touch()
        results = [p.communicate(timeout=90) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
    written = {line.split()[0] for out, _ in results for line in out.splitlines()}
    assert len(written) == WRITERS * EACH

    store = S3AuditStore(bucket, "race", client=seaweedfs.client())
    chain = list(store.chain("production"))
    assert [r.seq for r in chain] == list(range(WRITERS * EACH))
    assert {r.id for r in chain} == written  # no lost record, none twice
    assert verify_chain(chain) == []
    assert broken(store) == []


def test_an_overwrite_is_refused(store: S3AuditStore, entry: Any, s3: Any) -> None:
    original = store.append(entry(version="1.0.0"))
    key = f"trail/production/records/{record_name(0)}"
    forged = seal(entry(version="6.6.6"), seq=0, prev_hash=original.prev_hash)
    with pytest.raises(s3.exceptions.ClientError) as refused:
        s3.put_object(Bucket=store.bucket, Key=key, Body=forged.model_dump_json(), IfNoneMatch="*")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    # The store's own write path loses the slot instead of overwriting it ...
    assert store._create("production", 0, encode(forged)) is False
    # ... and the record of seq 0 is still the original.
    assert json.loads(s3.get_object(Bucket=store.bucket, Key=key)["Body"].read()) == (
        original.model_dump(mode="json")
    )


def test_verify_names_an_edited_record(store: S3AuditStore, entry: Any, s3: Any) -> None:
    for i in range(6):
        store.append(entry(version=f"1.0.{i}"))
    key = f"trail/production/records/{record_name(3)}"
    body = json.loads(s3.get_object(Bucket=store.bucket, Key=key)["Body"].read())
    body["version"] = "9.9.9"  # someone with write access rewrites history
    s3.put_object(Bucket=store.bucket, Key=key, Body=json.dumps(body))

    problems = broken(store)
    assert problems, "an edited record went unnoticed"
    assert " #3 " in problems[0] and "edited" in problems[0]
    assert verify_chain(store.chain("production"))[0] == problems[0]


def test_verify_names_a_deleted_record(store: S3AuditStore, entry: Any, s3: Any) -> None:
    for i in range(6):
        store.append(entry(version=f"1.0.{i}"))
    s3.delete_object(Bucket=store.bucket, Key=f"trail/production/records/{record_name(2)}")

    assert broken(store) == ["production #2: missing: the record was deleted"]


def test_verify_names_an_unreadable_record(
    store: S3AuditStore, entry: Any, s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    for i in range(4):
        store.append(entry(version=f"1.0.{i}"))
    key = f"trail/production/records/{record_name(1)}"
    s3.put_object(Bucket=store.bucket, Key=key, Body=b"{not json")
    s3.put_object(Bucket=store.bucket, Key="trail/production/records/extra.json", Body=b"{}")

    problems = broken(store)
    assert len(problems) == 1
    assert problems[0].startswith(f"production #1 (s3://{store.bucket}/{key}): not a valid audit")
    assert "production: records/extra.json: not an audit record: ignored" in notices(store)
    # Reading on skips the damaged record with a warning instead of failing.
    assert [r.seq for r in store.chain("production")] == [0, 2, 3]
    assert "production #1" in caplog.text and "skipped" in caplog.text


def test_object_lock_retention_refuses_a_delete(s3: Any, entry: Any) -> None:
    bucket = f"locked-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    store = S3AuditStore(bucket, client=s3, retention_days=1)
    store.append(entry())
    key = f"production/records/{record_name(0)}"

    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    until = head["ObjectLockRetainUntilDate"]
    assert dt.timedelta(hours=23) < until - dt.datetime.now(dt.UTC) <= dt.timedelta(days=1)
    with pytest.raises(s3.exceptions.ClientError) as refused:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=head["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert broken(store) == []


def test_retention_without_object_lock_is_a_clear_error(store: S3AuditStore, entry: Any) -> None:
    locked = S3AuditStore(store.bucket, client=store._client, retention_days=7)
    with pytest.raises(AuditUnavailable, match="Object Lock") as err:
        locked.append(entry())
    assert store.bucket in str(err.value)


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def test_foreign_keys_and_a_damaged_head(
    store: S3AuditStore, entry: Any, s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    for i in range(3):
        store.append(entry(version=f"1.0.{i}"))
    s3.put_object(Bucket=store.bucket, Key="trail/stray/notes.txt", Body=b"hello")
    s3.put_object(Bucket=store.bucket, Key="trail/README", Body=b"hello")
    key = f"trail/production/records/{record_name(2)}"
    s3.put_object(Bucket=store.bucket, Key=key, Body=b'{"truncated": ')
    assert store.environments() == ["production"]
    assert sorted(f.text for f in store.foreign()) == [
        f"s3://{store.bucket}/trail/README: not an environment: ignored",
        f"s3://{store.bucket}/trail/stray/: not an environment: ignored",
    ]
    assert [r.seq for r in store.newest("production")] == [1, 0]
    assert f"production #2 (s3://{store.bucket}/{key}) is not a valid audit record" in caplog.text
    assert broken(store)[0].startswith(f"production #2 (s3://{store.bucket}/{key}): not a valid")
    with pytest.raises(CorruptRecord, match="nothing can be chained onto it"):
        S3AuditStore(store.bucket, "trail", client=s3).append(entry())


def test_a_key_with_an_absurd_seq_cannot_stall_newest(
    bucket: str, seaweedfs: Any, entry: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """It sorts first, so it looks like the head: newest() reads a few empty slots below it,
    then jumps to the next record with one LIST instead of a GET per empty slot."""
    client = seaweedfs.client()
    store = S3AuditStore(bucket, "trail", client=client)
    for i in range(3):
        store.append(entry(version=f"1.0.{i}"))
    far = f"trail/production/records/{record_name(10**15)}"
    client.put_object(Bucket=bucket, Key=far, Body=b"junk")
    calls: list[str] = []
    client.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    assert [r.seq for r in S3AuditStore(bucket, "trail", client=client).newest("production")] == [
        2,
        1,
        0,
    ]
    assert calls.count("GetObject") < 100 and calls.count("ListObjectsV2") <= 3
    assert f"production #3..#{10**15 - 1}: missing" in caplog.text
    problems = broken(S3AuditStore(bucket, "trail", client=client))
    assert problems[0] == f"production #3..#{10**15 - 1}: missing: the record was deleted"
    assert problems[1].startswith(f"production #{10**15} (s3://{bucket}/{far}): not a valid")
