"""OpenSSH public keys and signatures, checked in-process with `cryptography`.

Supported, with OpenSSH 9.2's rules (`sshkey.c`, `ssh-ed25519.c`, `ssh-ecdsa.c`,
`ssh-rsa.c`):

* ``ssh-ed25519``;
* ``ecdsa-sha2-nistp256`` / ``-nistp384`` / ``-nistp521`` (SHA-256/384/512 by curve);
* ``ssh-rsa`` keys of at least 1024 bits, signing with ``rsa-sha2-256`` or ``rsa-sha2-512``
  (SSHSIG refuses SHA-1 ``ssh-rsa`` signatures, so do we).

Anything else (``sk-*`` security-key types, ``*-cert-v01@openssh.com`` certificates,
``ssh-dss``) raises `Unsupported`: the caller hands those to ssh-keygen itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from releasegate.signing.sshsig import Wire
from releasegate.signing.verifier import SignatureError

ED25519 = "ssh-ed25519"
RSA = "ssh-rsa"
_CURVES: dict[str, tuple[str, ec.EllipticCurve, hashes.HashAlgorithm]] = {
    "ecdsa-sha2-nistp256": ("nistp256", ec.SECP256R1(), hashes.SHA256()),
    "ecdsa-sha2-nistp384": ("nistp384", ec.SECP384R1(), hashes.SHA384()),
    "ecdsa-sha2-nistp521": ("nistp521", ec.SECP521R1(), hashes.SHA512()),
}
_RSA_HASHES: dict[str, hashes.HashAlgorithm] = {
    "rsa-sha2-256": hashes.SHA256(),
    "rsa-sha2-512": hashes.SHA512(),
}
SUPPORTED = frozenset([ED25519, RSA, *_CURVES])
RSA_MIN_BITS = 1024


class Unsupported(SignatureError):
    """A well-formed key of a type checked by ssh-keygen, not in-process."""


def _string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _mpint(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 8) // 8, "big") if value else b""
    return _string(raw)


@dataclass(frozen=True)
class PublicKey:
    """A parsed public key. Equal keys have equal `blob`s (canonical encoding), as
    OpenSSH's `sshkey_equal` compares key material, not the bytes it was read from."""

    type: str
    blob: bytes
    key: Any

    @property
    def fingerprint(self) -> str:
        """`SHA256:...`, as `ssh-keygen -l` prints it."""
        digest = base64.b64encode(hashlib.sha256(self.blob).digest()).decode("ascii")
        return "SHA256:" + digest.rstrip("=")

    def verifies(self, signature: bytes, data: bytes) -> bool:
        """Whether `signature` (an SSH signature blob) is this key's over `data`."""
        try:
            sig = Wire(signature)
            kind = sig.text()
            if self.type == ED25519:
                raw = sig.string()
                sig.end()
                if kind != ED25519 or len(raw) != 64:
                    return False
                self.key.verify(raw, data)
            elif self.type in _CURVES:
                inner = Wire(sig.string())
                sig.end()
                r, s = inner.mpint(), inner.mpint()
                inner.end()
                if kind != self.type:
                    return False
                self.key.verify(encode_dss_signature(r, s), data, ec.ECDSA(_CURVES[kind][2]))
            else:
                raw = sig.string()
                sig.end()
                size = (self.key.key_size + 7) // 8
                if kind not in _RSA_HASHES or len(raw) > size:
                    return False
                # OpenSSH left-pads a short signature to the modulus size.
                padded = raw.rjust(size, b"\0")
                self.key.verify(padded, data, padding.PKCS1v15(), _RSA_HASHES[kind])
        except (ValueError, UnicodeDecodeError, InvalidSignature):
            return False
        return True


@lru_cache(maxsize=256)  # a history holds signatures by a handful of keys
def parse_public_key(blob: bytes) -> PublicKey:
    """The key an SSH public-key blob holds. ValueError if it is not a valid key;
    Unsupported if it is a type checked by ssh-keygen instead (see the module docstring)."""
    wire = Wire(blob)
    try:
        kind = wire.text()
    except UnicodeDecodeError:
        raise ValueError("not a key type name") from None
    if kind not in SUPPORTED:
        raise Unsupported(kind)
    if kind == ED25519:
        raw = wire.string()
        wire.end()
        if len(raw) != 32:
            raise ValueError("an ed25519 key is 32 bytes")
        key: Any = ed25519.Ed25519PublicKey.from_public_bytes(raw)
        return PublicKey(kind, _string(kind.encode()) + _string(raw), key)
    if kind in _CURVES:
        name, curve, _ = _CURVES[kind]
        if wire.text() != name:
            raise ValueError("the curve does not match the key type")
        point = wire.string()
        wire.end()
        key = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)  # validates the point
        q = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return PublicKey(kind, b"".join(map(_string, (kind.encode(), name.encode(), q))), key)
    e, n = wire.mpint(), wire.mpint()
    wire.end()
    if n.bit_length() < RSA_MIN_BITS:
        raise ValueError(f"an RSA key needs at least {RSA_MIN_BITS} bits")
    key = rsa.RSAPublicNumbers(e, n).public_key()
    return PublicKey(kind, _string(kind.encode()) + _mpint(e) + _mpint(n), key)


def decode_key(kind: str, b64: str) -> PublicKey:
    """A key as written in a key file (`ssh-ed25519 AAAA...`): the type must match the blob."""
    try:
        blob = base64.b64decode(b64, validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None
    key = parse_public_key(blob)
    if key.type != kind:
        raise ValueError(f"the key is {key.type}, not {kind}")
    return key
