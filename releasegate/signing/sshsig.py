"""The SSHSIG signature format (OpenSSH's PROTOCOL.sshsig): armor, parse, fingerprint, and
the SSH wire format it is written in.

Pure: bytes and text in, facts out. Whether a signature is *valid* is for a verifier
(`inprocess`, `keygen`) to say; this module only refuses what is not a signature at all,
or one not addressed to us (another namespace).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from pydantic import BaseModel, ConfigDict

from releasegate.signing.payload import PRINCIPAL
from releasegate.signing.verifier import RefusalCode, SignatureRefused

MAX_SIGNATURE_CHARS = 64 * 1024
"""An ed25519 signature is ~300 characters, RSA-4096 ~1.5k; anything huge is not one."""

_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_END = "-----END SSH SIGNATURE-----"


class Parsed(BaseModel):
    """A decoded SSHSIG: the whole blob, the signer's public key and the namespace."""

    model_config = ConfigDict(frozen=True)

    blob: bytes
    public_key: bytes
    namespace: str


def parse(signature: str | None) -> Parsed:
    """Dearmor and decode an SSHSIG, or refuse it as unsigned/malformed."""
    if signature is None or not signature.strip():
        raise SignatureRefused(RefusalCode.UNSIGNED, "the decision carries no signature")
    if len(signature) > MAX_SIGNATURE_CHARS:
        raise SignatureRefused(RefusalCode.MALFORMED, "far too long to be an SSH signature")
    lines = [ln.strip() for ln in signature.strip().splitlines()]
    if lines[0] != _BEGIN or lines[-1] != _END or len(lines) < 3:
        raise SignatureRefused(
            RefusalCode.MALFORMED,
            f"not an SSH signature: expected text between {_BEGIN} and {_END}",
        )
    try:
        blob = base64.b64decode("".join(lines[1:-1]), validate=True)
        if not blob.startswith(b"SSHSIG"):
            raise ValueError("no SSHSIG magic")
        reader = Wire(blob[6:])
        if (version := reader.uint32()) != 1:
            raise ValueError(f"unsupported SSHSIG version {version}")
        public_key = reader.string()
        namespace = reader.string().decode("utf-8")
        reader.string()  # reserved
        reader.string()  # hash algorithm: ssh-keygen checks it
        reader.string()  # the signature proper
        if reader.rest:
            raise ValueError("trailing bytes")
        if not public_key:
            raise ValueError("no public key")
    except (binascii.Error, ValueError) as e:  # UnicodeDecodeError is a ValueError
        raise SignatureRefused(RefusalCode.MALFORMED, f"not a valid SSH signature ({e})") from e
    return Parsed(blob=blob, public_key=public_key, namespace=namespace)


def check_addressed(parsed: Parsed, signer: str, namespace: str) -> None:
    """Refuse a signature made for another namespace; reject a signer that is no name."""
    if parsed.namespace != namespace:
        raise SignatureRefused(
            RefusalCode.WRONG_NAMESPACE,
            f"signed for namespace {parsed.namespace!r}, not {namespace!r} "
            f"(sign with `ssh-keygen -Y sign -n {namespace}`)",
        )
    if re.fullmatch(PRINCIPAL, signer) is None:
        raise ValueError(f"not a reviewer name: {signer!r}")


_MAX_BIGNUM_BYTES = 16384 // 8


class Wire:
    """SSH wire format (RFC 4251): uint32 big-endian, length-prefixed strings, mpints."""

    def __init__(self, data: bytes) -> None:
        self.rest = data

    def uint32(self) -> int:
        if len(self.rest) < 4:
            raise ValueError("truncated")
        value, self.rest = int.from_bytes(self.rest[:4], "big"), self.rest[4:]
        return value

    def string(self) -> bytes:
        n = self.uint32()
        if len(self.rest) < n:
            raise ValueError("truncated")
        value, self.rest = self.rest[:n], self.rest[n:]
        return value

    def text(self) -> str:
        return self.string().decode("ascii")

    def mpint(self) -> int:
        """A non-negative mpint, as OpenSSH reads one (leading zeros tolerated)."""
        raw = self.string()
        if raw and raw[0] & 0x80:
            raise ValueError("negative number")
        if len(raw) > _MAX_BIGNUM_BYTES + 1 or (len(raw) == _MAX_BIGNUM_BYTES + 1 and raw[0]):
            raise ValueError("number too large")
        return int.from_bytes(raw, "big")

    def end(self) -> None:
        if self.rest:
            raise ValueError("trailing data")


def armor(blob: bytes) -> str:
    """Canonical armor (70 columns, as ssh-keygen writes): what we hand to ssh-keygen."""
    b64 = base64.b64encode(blob).decode("ascii")
    body = "\n".join(b64[i : i + 70] for i in range(0, len(b64), 70))
    return f"{_BEGIN}\n{body}\n{_END}\n"


def fingerprint(public_key: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a public key blob (what `ssh-keygen -l` prints)."""
    digest = base64.b64encode(hashlib.sha256(public_key).digest()).decode("ascii")
    return "SHA256:" + digest.rstrip("=")


def fingerprint_of(signature: str) -> str:
    """`SHA256:...` of the key inside `signature`, as claimed; trust it only after verifying."""
    return fingerprint(parse(signature).public_key)


def line_fingerprint(pubkey_line: str) -> str:
    """The fingerprint of an OpenSSH public key line (`ssh-ed25519 AAAA... comment`), or "?"."""
    try:
        return fingerprint(base64.b64decode(pubkey_line.split()[1], validate=True))
    except (IndexError, binascii.Error):
        return "?"
