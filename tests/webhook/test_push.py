"""What a verified push delivery asks for (pure), and the two HMACs (pure)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from releasegate.config import Webhook
from releasegate.receiver.push import Ignored, Malformed, Push, read
from releasegate.signing.trigger import Asked
from releasegate.signing.webhook import attestation, attested, github_signature, github_signed

COMMIT = "9fceb02d0ae598e95dc970b74767f19372d61af8"


def body(**change: Any) -> bytes:
    payload: dict[str, Any] = {
        "ref": "refs/heads/main",
        "after": COMMIT,
        "deleted": False,
        "pusher": {"name": "dave", "email": "dave@example.com"},
        "repository": {"full_name": "acme/webapp"},
    }
    payload.update(change)
    return json.dumps(payload).encode()


def test_the_version_is_the_first_12_hex_digits_of_the_pushed_commit() -> None:
    assert read(body(), Webhook()) == Push(
        version="9fceb02d0ae5",
        branch="main",
        commit=COMMIT,
        pusher="dave",
        repository="acme/webapp",
    )
    sha256 = "ab" * 32  # a SHA-256 repository's commit id
    assert read(body(after=sha256), Webhook()).version == "ab" * 6  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "settings", "why"),
    [
        ({"ref": "refs/heads/feature/x"}, Webhook(), "branch 'feature/x' is not one of"),
        ({"ref": "refs/tags/v1"}, Webhook(), "is not a branch"),
        ({"deleted": True, "after": "0" * 40}, Webhook(), "was deleted"),
        ({"after": "0" * 40}, Webhook(), "was deleted"),
        ({}, Webhook(repository="acme/other"), "not acme/other"),
        ({"ref": "refs/heads/release"}, Webhook(branches=("main", "develop")), "not one of"),
    ],
)
def test_pushes_not_acted_on_are_ignored_with_the_reason(
    change: dict[str, Any], settings: Webhook, why: str
) -> None:
    ignored = read(body(**change), settings)
    assert isinstance(ignored, Ignored) and why in ignored.reason


@pytest.mark.parametrize(
    ("raw", "status", "why"),
    [
        (b"\xff", 400, "not JSON"),
        (b"[1]", 400, "not a JSON object"),
        (b"[" * 50_000 + b"]" * 50_000, 400, "not JSON"),
        (body(ref=1), 400, "ref: missing or not a str"),
        (body(repository="acme/webapp"), 400, "repository: missing or not a dict"),
        (body(after="9fceb02"), 400, "not a commit id"),
        (body(after=COMMIT.upper()), 400, "not a commit id"),
        (body(deleted="yes"), 400, "deleted: missing or not a bool"),
        (body(pusher={"name": "x[bot]"}), 422, "breaks the name rule"),
        (body(pusher={"name": "a\nb"}), 422, "breaks the name rule"),
        (body(pusher={}), 400, "name: missing"),
    ],
)
def test_malformed_pushes_are_refused_with_a_bounded_reason(
    raw: bytes, status: int, why: str
) -> None:
    with pytest.raises(Malformed, match=why) as refused:
        read(raw, Webhook())
    assert refused.value.status == status and len(str(refused.value)) < 400


def test_github_signature_is_hmac_sha256_of_the_exact_body() -> None:
    secret, raw = "It's a Secret to Everybody", b"Hello, World!"
    # GitHub's documented example value for this secret and payload.
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert github_signature(secret, raw) == expected
    assert github_signed(secret, raw, expected)
    assert not github_signed(secret, raw + b" ", expected)
    assert not github_signed(secret, raw, None)
    assert not github_signed(secret, raw, expected.upper())
    assert not github_signed(secret, raw, "sha256=ñ" + expected[8:])


def test_an_attestation_binds_every_field_and_the_delivery_under_its_own_key() -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    payload = Asked(request="deploy", version="9fceb02d0ae5", branch="main", commit=COMMIT).payload(
        "dave", "webapp", now, "n" * 64
    )
    made = attestation("s" * 32, payload, "delivery-0000000001")
    assert attested("s" * 32, payload, "delivery-0000000001", made)
    assert not attested("s" * 32, payload, "delivery-0000000002", made)
    assert not attested("t" * 32, payload, "delivery-0000000001", made)
    other = payload.model_copy(update={"actor": "erin"})
    assert not attested("s" * 32, other, "delivery-0000000001", made)
    # Not the plain HMAC of the message under the secret: nothing GitHub signs can pass.
    plain = hmac.new(b"s" * 32, payload.message(), hashlib.sha256).hexdigest()
    assert plain != made
