"""The S3 store on a fresh bucket (`bucket` and `s3` come from tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from releasegate.audit.s3 import S3AuditStore
from tests.support.records import make_entry


@pytest.fixture
def entry() -> Any:
    """The `make_entry` factory (a fixture, so test modules need not import conftest)."""
    return make_entry


@pytest.fixture
def store(bucket: str, s3: Any) -> S3AuditStore:
    return S3AuditStore(bucket, "trail", client=s3)
