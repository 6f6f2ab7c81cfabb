"""The S3 client the audit store uses, and what its errors mean for people."""

from __future__ import annotations

from typing import Any

from releasegate.audit.store import AuditUnavailable

_CAUSES = {
    "NoSuchBucket": "the bucket does not exist",
    "AccessDenied": "access denied (the credentials lack permission on this bucket)",
    "InvalidAccessKeyId": "the access key is not known to the server (wrong credentials)",
    "SignatureDoesNotMatch": "the secret key does not match the access key (wrong credentials)",
    "ExpiredToken": "the session token has expired",
    "InvalidToken": "the session token is invalid",
    "AllAccessDisabled": "all access to this bucket has been disabled",
}


def default_client() -> Any:
    """An S3 client from boto3's standard chain, with retries for transient errors."""
    import boto3
    from botocore.config import Config

    # A session of its own: boto3's module-level default session caches the credentials it
    # resolved first, so a later change of AWS_* (or of profile) would go unnoticed.
    return boto3.session.Session().client(
        "s3",
        config=Config(
            # "standard" mode: exponential backoff with jitter on throttling, 5xx and
            # connection errors. 412 is not retried: it is our slot-race signal.
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=32,
        ),
    )


class S3Errors:
    """Reads boto3 errors for one store: which mean "slot taken", and clear messages that
    name the store and the cause, never a secret."""

    def __init__(self, client: Any, url: str) -> None:
        self.client = client
        self.url = url

    @staticmethod
    def code(exc: Exception) -> str:
        response = getattr(exc, "response", None) or {}
        return str(response.get("Error", {}).get("Code", ""))

    @staticmethod
    def message(exc: Exception) -> str:
        response = getattr(exc, "response", None) or {}
        return str(response.get("Error", {}).get("Message", "")) or str(exc)

    def slot_taken(self, exc: Exception) -> bool:
        """412: the slot exists. 409: S3's answer to a conditional write racing another."""
        response = getattr(exc, "response", None) or {}
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        return self.code(exc) in ("PreconditionFailed", "ConditionalRequestConflict") or (
            status == 412
        )

    def unavailable(self, what: str, exc: Exception) -> AuditUnavailable:
        """AuditUnavailable for a failed `what`; anything not from boto is re-raised."""
        from botocore import exceptions as be

        endpoint = getattr(self.client.meta, "endpoint_url", "?")
        if isinstance(exc, be.ClientError):
            code = self.code(exc)
            cause = _CAUSES.get(code, f"{code}: {self.message(exc)}")
        elif isinstance(exc, be.NoCredentialsError | be.PartialCredentialsError):
            cause = (
                "no usable credentials (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                "AWS_PROFILE, or run with a role)"
            )
        elif isinstance(exc, be.EndpointConnectionError | be.ConnectTimeoutError):
            cause = f"cannot connect to the S3 endpoint {endpoint}"
        elif isinstance(exc, be.ReadTimeoutError | be.ConnectionClosedError):
            cause = f"the S3 endpoint {endpoint} did not answer in time"
        elif isinstance(exc, be.BotoCoreError):
            cause = f"{type(exc).__name__}: {exc}"
        else:
            raise exc
        return AuditUnavailable(f"audit store {self.url}: cannot {what}: {cause}")
