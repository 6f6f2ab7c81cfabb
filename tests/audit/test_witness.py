"""The witnessed chain head, on both stores, with the session's real Prefect server as witness.

A hash chain cannot tell a chain whose newest records were deleted, truncated or rewritten
and re-hashed from an honest shorter one; the witness can, and keeps saying so after the
next legitimate append.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from releasegate.audit.chainstore import ChainStore
from releasegate.audit.file import FileAuditStore
from releasegate.audit.prefect_witness import PrefectWitness
from releasegate.audit.record import decode, encode, seal, verify_chain
from releasegate.audit.s3 import S3AuditStore
from releasegate.processes import free_port
from tests.support.records import broken, make_entry, notices

pytestmark = pytest.mark.integration


@dataclass
class Trail:
    """A store with a Prefect witness, and the hands of someone with write access to it."""

    store: ChainStore
    delete: Any
    overwrite: Any
    api: str

    def read(self, seq: int) -> bytes:
        data = self.store._read("production", seq)
        assert data is not None
        return data

    def fill(self, n: int) -> None:
        for i in range(n):
            self.store.append(make_entry(version=f"1.0.{i}"))

    def reopen(self, witness: PrefectWitness | None = None) -> ChainStore:
        """The same store as another process opens it."""
        witness = witness or PrefectWitness(self.store.url, api_url=self.api)
        if isinstance(self.store, S3AuditStore):
            return S3AuditStore(
                self.store.bucket, self.store.prefix, client=self.store._client, witness=witness
            )
        assert isinstance(self.store, FileAuditStore)
        return FileAuditStore(self.store.root, witness=witness)


@pytest.fixture(params=["file", "s3"])
def trail(request: pytest.FixtureRequest, prefect_api: str, tmp_path: Path) -> Trail:
    if request.param == "file":
        store: Any = FileAuditStore(tmp_path / "audit")
        store.witness = PrefectWitness(store.url, api_url=prefect_api)

        def overwrite(seq: int, data: bytes) -> None:
            path = store.record_path("production", seq)
            os.chmod(path, 0o644)
            path.write_bytes(data)

        return Trail(
            store, lambda seq: store.record_path("production", seq).unlink(), overwrite, prefect_api
        )
    s3, bucket = request.getfixturevalue("s3"), request.getfixturevalue("bucket")
    store = S3AuditStore(bucket, "trail", client=s3)
    store.witness = PrefectWitness(store.url, api_url=prefect_api)
    return Trail(
        store,
        lambda seq: s3.delete_object(Bucket=bucket, Key=store.key("production", seq)),
        lambda seq, data: s3.put_object(Bucket=bucket, Key=store.key("production", seq), Body=data),
        prefect_api,
    )


def test_an_intact_witnessed_chain_reports_nothing(trail: Trail) -> None:
    trail.fill(4)
    assert list(trail.store.verify("production")) == []
    head = trail.store.witness.newest("production")  # type: ignore[union-attr]
    assert head is not None and (head.seq, head.discrepancy) == (3, "")


@pytest.mark.parametrize("deleted", [1, 3])
def test_deleting_the_newest_records_is_detected(trail: Trail, deleted: int) -> None:
    trail.fill(6)
    for seq in range(5, 5 - deleted, -1):
        trail.delete(seq)
    assert verify_chain(trail.store.chain("production")) == []  # the chain alone sees nothing
    problems = broken(trail.reopen())
    assert len(problems) == 1
    assert problems[0].startswith("production #5: witnessed")
    assert "the newest records were deleted or truncated" in problems[0]


def test_a_later_append_does_not_wash_the_deletion_away(
    trail: Trail, caplog: pytest.LogCaptureFixture
) -> None:
    trail.fill(6)
    trail.delete(5)
    trail.delete(4)
    caplog.set_level(logging.ERROR, logger="releasegate.audit")
    writer = trail.reopen()
    writer.append(make_entry(version="2.0.0"))  # refills slot #4 on top of #3
    writer.append(make_entry(version="2.0.1"))
    assert "the newest records were deleted or truncated" in caplog.text
    assert verify_chain(writer.chain("production")) == []
    problems = broken(trail.reopen())
    assert len(problems) == 1 and "the witness recorded a discrepancy" in problems[0]
    assert "found when #4 was appended: production #5: witnessed" in problems[0]


def test_rewriting_and_rehashing_the_newest_record_is_detected(trail: Trail) -> None:
    trail.fill(4)
    newest = decode(trail.read(3))
    forged = seal(newest.model_copy(update={"actor": "mallory"}), seq=3, prev_hash=newest.prev_hash)
    trail.overwrite(3, encode(forged))
    assert verify_chain(trail.store.chain("production")) == []
    problems = broken(trail.reopen())
    assert len(problems) == 1 and problems[0].startswith("production #3: witnessed with hash")
    assert "the record was rewritten after it was witnessed" in problems[0]


def test_rewriting_an_older_record_and_rehashing_the_rest_is_detected(trail: Trail) -> None:
    trail.fill(5)
    prev = decode(trail.read(0))
    for seq in range(1, 5):
        rec = decode(trail.read(seq))
        changes = {"version": "6.6.6"} if seq == 1 else {}
        prev = seal(rec.model_copy(update=changes), seq=seq, prev_hash=prev.hash)
        trail.overwrite(seq, encode(prev))
    assert verify_chain(trail.store.chain("production")) == []
    problems = broken(trail.reopen())
    assert len(problems) == 1 and "#4: witnessed with hash" in problems[0]


def test_truncating_the_newest_record_file_is_detected(trail: Trail) -> None:
    trail.fill(3)
    trail.overwrite(2, trail.read(2)[:40])
    problems = broken(trail.reopen())
    assert len(problems) == 2
    assert problems[0].startswith("production #2 (") and "not a valid audit record" in problems[0]
    assert (
        problems[1].startswith("production #2: witnessed")
        and "missing or unreadable" in problems[1]
    )


def test_an_unreachable_witness_never_fails_an_append_and_verify_says_unwitnessed(
    trail: Trail, caplog: pytest.LogCaptureFixture
) -> None:
    trail.fill(2)
    dead = PrefectWitness(trail.store.url, api_url=f"http://127.0.0.1:{free_port()}/api", timeout=2)
    offline = trail.reopen(witness=dead)
    caplog.set_level(logging.WARNING, logger="releasegate.audit")
    assert offline.append(make_entry(version="1.1.0")).seq == 2  # stored all the same
    assert offline.append(make_entry(version="1.1.1")).seq == 3
    assert "production #3 is stored but not witnessed" in caplog.text
    assert broken(offline) == []
    unwitnessed = notices(offline)
    assert (
        len(unwitnessed) == 1
        and "the tail is unwitnessed: the witness cannot be read" in unwitnessed[0]
    )
    # Back online: the records appended meanwhile are named as unwitnessed, not as intact.
    assert broken(trail.reopen()) == []
    assert notices(trail.reopen()) == [
        "production #2..#3: appended after the newest witnessed head (#1): unwitnessed"
    ]
    trail.reopen().append(make_entry(version="1.2.0"))  # the next append witnesses all of it
    assert list(trail.reopen().verify("production")) == []


def test_a_late_publish_neither_lowers_the_head_nor_raises_an_alarm(trail: Trail) -> None:
    """Two writers: the one that appended #2 publishes after the one that appended #4."""
    trail.fill(5)
    trail.store._tell_witness(decode(trail.read(2)))
    head = trail.store.witness.newest("production")  # type: ignore[union-attr]
    assert head is not None and (head.seq, head.discrepancy) == (4, "")
    assert list(trail.reopen().verify("production")) == []


def test_an_emptied_store_is_detected(trail: Trail) -> None:
    trail.fill(2)
    trail.delete(1)
    trail.delete(0)
    assert broken(trail.reopen()) == [
        "production: the witness saw #1 ("
        + trail.store.witness.newest("production").hash[:12]  # type: ignore[union-attr]
        + "…) but the store has no records"
    ]
