"""A fresh bucket on the session's S3 server (SeaweedFS) for every test."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from releasegate.audit.s3 import S3AuditStore
from tests.support.records import make_entry
from tests.support.seaweedfs import SeaweedFS


@pytest.fixture
def entry() -> Any:
    """The `make_entry` factory (a fixture, so test modules need not import conftest)."""
    return make_entry


@pytest.fixture
def s3(seaweedfs: SeaweedFS) -> Any:
    """An admin boto3 client for the server (to create buckets and to tamper)."""
    return seaweedfs.client()


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"audit-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def store(bucket: str, s3: Any) -> S3AuditStore:
    return S3AuditStore(bucket, "trail", client=s3)
