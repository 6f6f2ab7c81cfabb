"""One layout for both stores: a history moves between them by a plain copy and still verifies."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from releasegate.audit.copy import Copied, copy_trail
from releasegate.audit.file import FileAuditStore
from releasegate.audit.proofs import signature_check
from releasegate.audit.s3 import S3AuditStore
from tests.support.bulk import write_history
from tests.support.records import broken, make_entry, notices, signed_release
from tests.support.sshsig import DEMO_KEYS, verifier

pytestmark = pytest.mark.integration

ALLOWED = DEMO_KEYS / "allowed_signers"


def _history(store: Any) -> None:
    for n, version in enumerate(("1.0.0", "1.1.0", "1.2.0")):
        for entry in signed_release(version, n=n):
            store.append(entry)
        store.append(make_entry("staging", version=version))


def test_a_file_history_copied_into_a_bucket_verifies(tmp_path: Path, s3: Any, bucket: str) -> None:
    source = FileAuditStore(tmp_path / "audit")
    _history(source)
    source.record_path("production", 0).parent.joinpath(".keep").touch()  # foreign: reported
    # `aws s3 sync audit s3://bucket/copied`: every file, bookkeeping included, as it is.
    for folder, _, files in os.walk(source.root):
        for name in files:
            path = Path(folder, name)
            key = f"copied/{path.relative_to(source.root)}"
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    copy = S3AuditStore(bucket, "copied", client=s3)
    assert copy.environments() == ["production", "staging"]
    check = signature_check(verifier(ALLOWED))
    for env in ("production", "staging"):
        assert broken(copy, env, check=check) == []
        assert list(copy.chain(env)) == list(source.chain(env))
    assert [n for n in notices(copy) if "unwitnessed" not in n] == [
        "production: records/.keep: not an audit record: ignored"
    ]
    assert copy.append(make_entry(version="2.0.0")).seq == 9  # the copy carries on


def test_a_bucket_copied_into_a_folder_verifies(tmp_path: Path, s3: Any, bucket: str) -> None:
    source = S3AuditStore(bucket, "trail", client=s3)
    _history(source)
    root = tmp_path / "copy"
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="trail/"):
        for obj in page["Contents"]:
            path = root / obj["Key"].removeprefix("trail/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
    copy = FileAuditStore(root)  # no head hint came along: the head is found all the same
    check = signature_check(verifier(ALLOWED))
    for env in ("production", "staging"):
        assert broken(copy, env, check=check) == []
        assert list(copy.chain(env)) == list(source.chain(env))
    assert copy.append(make_entry(version="2.0.0")).seq == 9
    assert copy.append(make_entry("staging", version="2.0.0")).seq == 3


def test_two_copies_at_once_write_each_record_once(tmp_path: Path) -> None:
    """Two `audit copy` runs into one destination race for each slot: the loser finds its
    own bytes there and carries on, so both finish and the copy is whole."""
    source = FileAuditStore(tmp_path / "audit")
    write_history(source, (make_entry(version=f"1.0.{i}") for i in range(400)))
    results: list[Copied] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:  # a store of its own, as a second process would have
            results.extend(copy_trail(source, FileAuditStore(tmp_path / "copy"), ["production"]))
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)

    copies = [threading.Thread(target=run) for _ in range(2)]
    for copy in copies:
        copy.start()
    for copy in copies:
        copy.join(timeout=120)
    assert errors == [] and len(results) == 2
    assert [(r.records, r.head, r.broken) for r in results] == [(400, 399, "")] * 2
    assert sum(r.copied for r in results) == 400  # each slot written by exactly one of them
    destination = FileAuditStore(tmp_path / "copy")
    assert list(destination.chain("production")) == list(source.chain("production"))
    assert broken(destination) == []
