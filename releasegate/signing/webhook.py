"""The two HMACs of a GitHub push: GitHub's over the delivery, and the receiver's attestation
over the request it hands the run. Pure: no I/O.

- **GitHub's**: `X-Hub-Signature-256: sha256=<hex>` is HMAC-SHA256 over the raw request body
  with the webhook secret. Compared in constant time (`hmac.compare_digest`); the body is
  never parsed before it verifies.
- **The attestation**: once the delivery verified, the receiver tells the run "a verified
  push named this pusher for exactly this request" with HMAC-SHA256 over the request's
  canonical message (`signing.trigger.TriggerPayload.message()`, the very bytes a signed
  request covers) followed by `delivery: <id>\\n`. Its key is derived from the same secret
  for this one purpose (`attestation_key`), so nothing GitHub signs can ever pass for an
  attestation or the other way round. The run, which holds the secret too, recomputes it.
"""

from __future__ import annotations

import hashlib
import hmac

from releasegate.signing.trigger import TriggerPayload

SIGNATURE_PREFIX = "sha256="
ATTESTATION_CONTEXT = b"releasegate-webhook-attestation-v1"
ATTESTATION_CHARS = 64  # hex of one SHA-256


def github_signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends with `body`."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_signed(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is GitHub's signature of exactly `body` (constant-time compare)."""
    if header is None:
        return False
    expected = github_signature(secret, body).encode()
    # compare_digest takes bytes of any length; a str with non-ASCII would raise.
    return hmac.compare_digest(expected, header.encode("utf-8", "replace"))


def attestation_key(secret: str) -> bytes:
    """The attestation's own key, derived from the webhook secret."""
    return hmac.new(secret.encode(), ATTESTATION_CONTEXT, hashlib.sha256).digest()


def attestation(secret: str, payload: TriggerPayload, delivery: str) -> str:
    """The receiver's attestation that delivery `delivery` asked for `payload`."""
    message = payload.message() + f"delivery: {delivery}\n".encode()
    return hmac.new(attestation_key(secret), message, hashlib.sha256).hexdigest()


def attested(secret: str, payload: TriggerPayload, delivery: str, given: str) -> bool:
    """Whether `given` is the attestation of `payload` by delivery `delivery` (constant time)."""
    expected = attestation(secret, payload, delivery).encode()
    return hmac.compare_digest(expected, given.encode("utf-8", "replace"))
