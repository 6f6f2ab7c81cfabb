"""The verifier interface: what checking a signature proves, or why it does not.

`Verified` names the signer and key; `SignatureRefused` carries a stable `RefusalCode` and
words for people, so the approval policy and the audit trail can say exactly why a
decision was void; `SignatureError` means no verdict could be reached at all.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from releasegate.errors import Failed
from releasegate.signing.payload import NAMESPACE, DecisionPayloadV1


class SignatureError(Failed):
    """Signing (or running ssh-keygen at all) failed: no key, wrong passphrase, no agent."""


class RefusalCode(StrEnum):
    """Why a signature does not prove a decision. Stable: stored in audit records."""

    UNSIGNED = "unsigned"
    """No signature at all."""
    MALFORMED = "malformed"
    """Not an armored OpenSSH signature (garbage, truncated, PGP, ...)."""
    NO_ALLOWED_SIGNERS = "no-allowed-signers"
    """The allowed_signers file is missing, unreadable or has no entries."""
    WRONG_NAMESPACE = "wrong-namespace"
    """Signed for another purpose (e.g. `-n git`), not `releasegate`."""
    BAD_SIGNATURE = "bad-signature"
    """Cryptographically invalid for this message: the signed message differs."""
    UNKNOWN_KEY = "unknown-key"
    """A valid signature by a key that no allowed_signers entry lists."""
    WRONG_SIGNER = "wrong-signer"
    """A valid signature by a key that allowed_signers lists for someone else."""
    NOT_ALLOWED = "not-allowed"
    """The signer's entry exists but does not allow this use (namespaces=, validity)."""


class SignatureRefused(Failed):
    """A signature does not prove the decision: `code` (stable) and `reason` (for people).

    Same shape as the approval policy's `Judgement(code, reason)`; hand it over as
    `proof_error=(refused.code, refused.reason)`.
    """

    def __init__(self, code: RefusalCode, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class Verified(BaseModel):
    """A signature that proved its decision: who signed, with which key."""

    model_config = ConfigDict(frozen=True)

    signer: str
    fingerprint: str
    """`SHA256:...` of the signing key, as `ssh-keygen -l` prints it."""


def identity_refusal(
    names: list[str], signer: str, fingerprint: str, allowed_signers: Path, not_allowed: str
) -> SignatureRefused:
    """Why a valid signature by key `fingerprint`, whose allowed_signers entries name
    `names`, does not prove that `signer` signed; `not_allowed` says what the entry refuses.
    Shared by every verifier, so they refuse in the same words."""
    if not names:
        return SignatureRefused(
            RefusalCode.UNKNOWN_KEY,
            f"signed with key {fingerprint}, which {allowed_signers} does not list",
        )
    if not any(fnmatchcase(signer, n) for n in names):
        return SignatureRefused(
            RefusalCode.WRONG_SIGNER,
            f"signed with the key of {', '.join(names)} ({fingerprint}), not of {signer}",
        )
    return SignatureRefused(
        RefusalCode.NOT_ALLOWED,
        f"{signer}'s key {fingerprint} is listed in {allowed_signers}, but its entry {not_allowed}",
    )


class Verifier(Protocol):
    """Checks signatures against the people's keys (allowed_signers): reviewers' decisions,
    and actors' requests to deploy or roll back. Implementations subclass it, to share
    `verify_decision`."""

    def verify(
        self,
        message: bytes,
        signature: str | None,
        *,
        signer: str,
        namespace: str,
        at: datetime | None = None,
    ) -> Verified:
        """Prove that `signer` signed exactly `message` in `namespace`; `at` judges key
        validity at that time instead of now. Raises SignatureRefused (with its code) or
        SignatureError (the check could not be run)."""
        ...

    def verify_decision(
        self, payload: DecisionPayloadV1, signature: str | None, *, at: datetime | None = None
    ) -> Verified:
        """Prove that `payload.reviewer` signed exactly `payload` (approvals' namespace), in
        either version of the message."""
        return self.verify(
            payload.message(), signature, signer=payload.reviewer, namespace=NAMESPACE, at=at
        )
