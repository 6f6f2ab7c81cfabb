"""Signing a request to deploy or roll back with the actor's own SSH key, before the run
starts (`releasegate deploy --sign`, the demo): the proof a run checks (`releasegate.trigger`).

This is the actor's side, like `review` is the reviewer's: it signs on this machine, with a
key file or the key in ssh-agent, in the `releasegate-trigger` namespace.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

from releasegate.errors import UsageError
from releasegate.signing.keygen import sign
from releasegate.signing.trigger import TRIGGER_NAMESPACE, Asked
from releasegate.signing.verifier import SignatureError
from releasegate.trigger import TriggerProof


def signed(asked: Asked, actor: str, app: str, key: Path | None = None) -> TriggerProof:
    """`actor`'s signature over `asked`, issued now with a fresh nonce."""
    issued_at = datetime.now(UTC).replace(microsecond=0)
    nonce = secrets.token_hex(16)
    message = asked.payload(actor, app, issued_at, nonce).message()
    try:
        signature = sign(message, key=key, namespace=TRIGGER_NAMESPACE)
    except SignatureError as exc:
        raise UsageError(f"cannot sign the request as {actor}: {exc}") from None
    return TriggerProof(issued_at=issued_at, nonce=nonce, signature=signature)
