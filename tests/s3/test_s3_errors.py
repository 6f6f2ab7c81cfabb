"""An unusable store fails loudly and clearly: bucket, cause, never the secret."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config

from releasegate.audit.s3 import S3AuditStore
from releasegate.audit.store import AuditUnavailable
from releasegate.processes import free_port

pytestmark = pytest.mark.integration


def _client(endpoint: str, key: str, secret: str, **config: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),
    )


@pytest.mark.parametrize(
    ("key", "secret", "cause"),
    [
        ("nobody", "whatever-secret-1", "access key is not known"),
        (None, "whatever-secret-2", "secret key does not match"),
    ],
)
def test_wrong_credentials(
    seaweedfs: Any, bucket: str, entry: Any, key: str | None, secret: str, cause: str
) -> None:
    client = _client(seaweedfs.endpoint, key or seaweedfs.access_key, secret)
    store = S3AuditStore(bucket, "trail", client=client)
    for action in (lambda: store.append(entry()), lambda: list(store.newest("production"))):
        with pytest.raises(AuditUnavailable) as err:
            action()
        message = str(err.value)
        assert f"s3://{bucket}/trail/" in message
        assert cause in message and "wrong credentials" in message
        assert secret not in message


def test_wrong_credentials_from_the_environment(
    seaweedfs: Any, bucket: str, entry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in seaweedfs.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(AuditUnavailable, match="wrong credentials") as err:
        S3AuditStore.from_url(f"s3://{bucket}/x").append(entry())
    assert "not-the-secret" not in str(err.value)


def test_no_such_bucket(seaweedfs: Any, entry: Any) -> None:
    store = S3AuditStore("no-such-bucket-here", client=seaweedfs.client())
    with pytest.raises(AuditUnavailable, match=r"no-such-bucket-here.*bucket does not exist"):
        store.append(entry())
    with pytest.raises(AuditUnavailable, match="bucket does not exist"):
        store.environments()


def test_unreachable_endpoint(entry: Any) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    client = _client(endpoint, "k", "s", connect_timeout=2)
    store = S3AuditStore("audit", client=client)
    with pytest.raises(AuditUnavailable, match=f"cannot connect to the S3 endpoint {endpoint}"):
        store.append(entry())


def test_credentials_are_resolved_per_store(
    seaweedfs: Any, bucket: str, entry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store built after fixing AWS_* uses the new values (no cached default session)."""
    for name, value in seaweedfs.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "stale")
    with pytest.raises(AuditUnavailable):
        S3AuditStore.from_url(f"s3://{bucket}").append(entry())
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweedfs.secret_key)
    assert S3AuditStore.from_url(f"s3://{bucket}").append(entry()).seq == 0


def test_default_client_retries_transient_errors_with_backoff() -> None:
    from releasegate.audit.s3client import default_client

    retries = default_client().meta.config.retries
    assert retries["mode"] == "standard" and retries["total_max_attempts"] >= 3
