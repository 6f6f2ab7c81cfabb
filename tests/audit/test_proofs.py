"""`audit verify`'s signature check of a signed request (trigger record): the signature must
still prove the request, and by the key the record names."""

from __future__ import annotations

from datetime import UTC, datetime

from releasegate.audit.proofs import signature_check
from releasegate.audit.record import GENESIS, AuditRecord, seal
from releasegate.signing.keygen import sign
from releasegate.signing.payload import utc_seconds
from releasegate.signing.sshsig import fingerprint_of, line_fingerprint
from releasegate.signing.trigger import TRIGGER_NAMESPACE, Asked
from tests.support.records import make_entry
from tests.support.sshsig import DEMO_KEYS, verifier

ISSUED = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
NONCE = "4f2c" * 8


def trigger(signature: str, **details: str) -> AuditRecord:
    """dave's signed request to deploy 1.4.2, recorded as accepted."""
    facts = {"request": "deploy", "issued_at": utc_seconds(ISSUED), "nonce": NONCE}
    entry = make_entry(
        "production",
        id="trigger-0",
        kind="trigger",
        status="accepted",
        actor="dave",
        actor_proof="signed",
        version="1.4.2",
        branch="main",
        details={**facts, "signature": signature, **details},
    )
    return seal(entry, seq=0, prev_hash=GENESIS)


def dave_signs() -> str:
    asked = Asked(request="deploy", version="1.4.2", branch="main")
    message = asked.payload("dave", "webapp", ISSUED, NONCE).message()
    return sign(message, key=DEMO_KEYS / "dave", namespace=TRIGGER_NAMESPACE)


def test_a_signed_request_is_checked_against_the_key_its_record_names() -> None:
    check = signature_check(verifier(DEMO_KEYS / "allowed_signers"))
    signature = dave_signs()
    assert check(trigger(signature, key_fingerprint=fingerprint_of(signature))) == []
    carols = line_fingerprint((DEMO_KEYS / "carol.pub").read_text())
    assert check(trigger(signature, key_fingerprint=carols)) == [
        f"production #0 (trigger-0) dave: signed by {fingerprint_of(signature)}, recorded otherwise"
    ]
