"""The pipeline with its audit trail on S3 (SeaweedFS), chosen by configuration alone."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from releasegate import processes
from releasegate.flows.deploy import deploy
from tests.flows.conftest import serving


@pytest.fixture
def s3_audit(seaweedfs, monkeypatch: pytest.MonkeyPatch) -> str:
    """RELEASEGATE_AUDIT on a fresh bucket; credentials through boto3's standard chain."""
    bucket = f"audit-{uuid.uuid4().hex[:12]}"
    seaweedfs.client().create_bucket(Bucket=bucket)
    for name, value in seaweedfs.env().items():
        monkeypatch.setenv(name, value)
    url = f"s3://{bucket}/releasegate"
    monkeypatch.setenv("RELEASEGATE_AUDIT", url)
    return url


def test_deploy_history_rollback_and_verify_from_s3(make_setup, s3_audit: str) -> None:
    setup = make_setup()
    for version in ("v1", "v2"):
        deploy(version=version, actor="dave")
    assert not (setup.home / "audit").exists()  # nothing went to the file store

    code, out = setup.cli("rollback", "production", "--reason", "v2 breaks checkout")
    assert code == 0, out
    assert serving(setup.urls["production"]) == "v1"
    code, out = setup.cli("history", "production", "--json")
    assert code == 0, out
    assert [(h["kind"], h["version"]) for h in json.loads(out)] == [
        ("rollback", "v1"),
        ("deploy", "v2"),
        ("deploy", "v1"),
    ]
    code, out = setup.cli("audit", "verify")
    assert code == 0, out


def test_unreachable_store_means_nothing_is_deployed(
    make_setup, s3_audit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{processes.free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    setup = make_setup()
    code, out = setup.cli("deploy", "v1", "--actor", "dave")
    assert code == 1 and "audit store" in out and "s3://" in out
    with pytest.raises(httpx.ConnectError):
        httpx.get(setup.urls["production"], timeout=2)


def test_wrong_credentials_are_a_clear_error(
    make_setup, s3_audit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    setup = make_setup()
    code, out = setup.cli("history", "production")
    assert code == 1 and "not-the-secret" not in out
    assert "s3://" in out
    assert "the secret key does not match the access key (wrong credentials)" in out, out
