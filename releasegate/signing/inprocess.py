"""Verifying approval signatures in-process: `ssh-keygen -Y verify`'s decision, without a
process per signature.

`InProcessVerifier` decides exactly as the ssh-keygen verifier (`keygen`) and refuses with
the same codes, in the same order: unsigned, malformed, no-allowed-signers,
wrong-namespace, bad-signature, then who signed (unknown-key, wrong-signer, not-allowed).
The SSHSIG check follows PROTOCOL.sshsig and OpenSSH 9.2's `sshsig.c`; `allowed_signers`
is read as `allowed_signers.py` describes.

Key types: ed25519, ECDSA P-256/384/521 and RSA (rsa-sha2-256/512) are checked here.
Signatures by security keys (`sk-*`) and certificates (`cert-authority` entries), and any
other type (DSA), are handed whole to the `fallback` verifier (ssh-keygen): still checked,
at ssh-keygen's speed. The allowed_signers file is read once per verifier: `wiring` makes
one per use (an `audit verify` run, one live decision), so a changed file is seen at once.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from datetime import datetime
from pathlib import Path

from releasegate.signing.allowed_signers import AllowedSigners
from releasegate.signing.sshkeys import PublicKey, Unsupported, parse_public_key
from releasegate.signing.sshsig import Wire, check_addressed, parse
from releasegate.signing.verifier import (
    RefusalCode,
    SignatureRefused,
    Verified,
    Verifier,
    identity_refusal,
)

_HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}


_REMEMBERED = 1024
"""Signatures proved, remembered per verifier: an approval's signature is stored twice (its
approval record, then the deploy that relied on it), so the second check is free."""


class InProcessVerifier(Verifier):
    """A Verifier: checks signatures against one allowed_signers file (read once), with
    `cryptography`; key types it does not check go to `fallback` (see the module docstring)."""

    def __init__(self, allowed_signers: Path, *, fallback: Verifier) -> None:
        self.path = allowed_signers
        self.fallback = fallback
        self._proved: OrderedDict[tuple[bytes, str, str, str, datetime | None], Verified] = (
            OrderedDict()
        )
        self._signers: AllowedSigners | SignatureRefused
        try:
            self._signers = AllowedSigners.trusted(allowed_signers)
        except SignatureRefused as refused:
            self._signers = refused  # refused when a signature is to be checked

    def verify(
        self,
        message: bytes,
        signature: str | None,
        *,
        signer: str,
        namespace: str,
        at: datetime | None = None,
    ) -> Verified:
        """Prove that `signer`'s key signed `message` in `namespace` (see `Verifier`)."""
        remembered = (message, signature or "", signer, namespace, at)
        if at is not None and (proved := self._proved.get(remembered)) is not None:
            self._proved.move_to_end(remembered)
            return proved
        parsed = parse(signature)
        signers = self._allowed()
        check_addressed(parsed, signer, namespace)
        when = int(time.time()) if at is None else _seconds(at)
        try:
            key = parse_public_key(parsed.public_key)
        except Unsupported:
            return self.fallback.verify(
                message, signature, signer=signer, namespace=namespace, at=at
            )
        except ValueError:
            key = None
        if key is None or not _signed(parsed.blob, key, message, namespace):
            raise SignatureRefused(
                RefusalCode.BAD_SIGNATURE,
                "the signed message does not match this decision (signed for another run, "
                "approval round, issue time, digest, decision or comment, or altered)",
            )
        if not signers.allows(signer, key, namespace, when):
            raise _who_signed(signers, key, signer, at, when)
        proved = Verified(signer=signer, fingerprint=key.fingerprint)
        if at is not None:  # "now" moves: only a proof as of a fixed time can be reused
            self._proved[remembered] = proved
            if len(self._proved) > _REMEMBERED:
                self._proved.popitem(last=False)
        return proved

    def _allowed(self) -> AllowedSigners:
        if isinstance(self._signers, SignatureRefused):
            raise SignatureRefused(self._signers.code, self._signers.reason)
        return self._signers


def _signed(blob: bytes, key: PublicKey, message: bytes, namespace: str) -> bool:
    """Whether the SSHSIG `blob` is `key`'s signature over `message` in `namespace`."""
    try:
        wire = Wire(blob[6:])  # after the SSHSIG magic, checked by `parse`
        wire.uint32()  # version
        wire.string()  # the public key: `key`
        wire.string()  # namespace: checked by the caller
        wire.string()  # reserved: not signed over
        hash_name = wire.text()
        sig = wire.string()
    except (ValueError, UnicodeDecodeError):
        return False
    if hash_name not in _HASHES:
        return False
    signed = b"SSHSIG" + b"".join(
        len(part).to_bytes(4, "big") + part
        for part in (
            namespace.encode(),
            b"",
            hash_name.encode(),
            _HASHES[hash_name](message).digest(),
        )
    )
    return key.verifies(sig, signed)


def _who_signed(
    signers: AllowedSigners, key: PublicKey, signer: str, at: datetime | None, when: int
) -> SignatureRefused:
    """Why a valid signature by `key` does not prove `signer` signed: whose key it is."""
    owner = signers.principals_of(key, when)
    # As find-principals skips entries outside their validity window, look for those too,
    # so an expired key is reported as such and not as a stranger's.
    owners = [owner] if owner is not None else signers.listed(key)
    moment = "now" if at is None else at.isoformat()
    return identity_refusal(
        [n for o in owners for n in o.split(",")],
        signer,
        key.fingerprint,
        signers.path,
        f"is not valid {moment} (valid-after/valid-before)"
        if owner is None
        else "refuses this signature (namespaces= or cert-authority)",
    )


def _seconds(at: datetime) -> int:
    """`at` in whole seconds, as `-O verify-time=` hands it to ssh-keygen."""
    if at.tzinfo is None:  # as the ssh-keygen verifier refuses it
        raise ValueError("`at` must be timezone-aware")
    return int(at.timestamp())
