"""SSH signatures made in-process, for tests and benchmarks that need many of them.

`ssh-keygen -Y sign` costs a process per signature; these are the same bytes (an ed25519
SSHSIG over the `releasegate` namespace), and `tests/signing/test_verify_in_process.py`
checks that ssh-keygen itself accepts what this module makes.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from releasegate.audit.record import ApprovalEntry
from releasegate.signing.inprocess import InProcessVerifier
from releasegate.signing.keygen import KeygenVerifier
from releasegate.signing.payload import DecisionPayload, DecisionPayloadV1

REPO = Path(__file__).resolve().parents[2]
DEMO_KEYS = REPO / "examples" / "keys"


def wire(data: bytes) -> bytes:
    """An SSH wire-format string."""
    return len(data).to_bytes(4, "big") + data


def signed_data(message: bytes, namespace: str = "releasegate", hashalg: str = "sha512") -> bytes:
    """What an SSHSIG signature covers (PROTOCOL.sshsig)."""
    digest = hashlib.new(hashalg, message).digest()
    return b"SSHSIG" + wire(namespace.encode()) + wire(b"") + wire(hashalg.encode()) + wire(digest)


def armor(public_blob: bytes, signature: bytes, hashalg: str = "sha512") -> str:
    """An armored SSHSIG around a raw SSH signature blob by `public_blob`'s key."""
    blob = b"SSHSIG" + (1).to_bytes(4, "big") + wire(public_blob) + wire(b"releasegate")
    blob += wire(b"") + wire(hashalg.encode()) + wire(signature)
    b64 = base64.b64encode(blob).decode()
    body = "\n".join(b64[i : i + 70] for i in range(0, len(b64), 70))
    return f"-----BEGIN SSH SIGNATURE-----\n{body}\n-----END SSH SIGNATURE-----\n"


@cache
def _key(path: Path) -> tuple[Any, bytes]:
    private: Any = serialization.load_ssh_private_key(path.read_bytes(), None)
    public = path.with_name(path.name + ".pub").read_text().split()[1]
    return private, base64.b64decode(public)


def sign_ed25519(key: Path, message: bytes) -> str:
    """`ssh-keygen -Y sign -n releasegate -f key` for an ed25519 key, in-process."""
    private, public = _key(key)
    raw = private.sign(signed_data(message))
    return armor(public, wire(b"ssh-ed25519") + wire(raw))


def signed_approval(
    payload: DecisionPayloadV1, at: datetime, key: Path | None = None
) -> ApprovalEntry:
    """The approval a reviewer gives by signing `payload` with `key` (default: demo key),
    recorded as the run records it (a version 1 message: as it was recorded before)."""
    key = key or DEMO_KEYS / payload.reviewer
    signed = (
        {"pause_key": payload.pause_key, "issued_at": payload.issued_at}
        if isinstance(payload, DecisionPayload)
        else {}
    )
    return ApprovalEntry(
        name=payload.reviewer,
        decision=payload.decision,
        at=at,
        comment=payload.comment,
        signature=sign_ed25519(key, payload.message()),
        **signed,
    )


def verifier(allowed_signers: Path) -> InProcessVerifier:
    """The verifier `wiring.signature_verifier` makes: in-process, ssh-keygen behind it."""
    return InProcessVerifier(allowed_signers, fallback=KeygenVerifier(allowed_signers))
