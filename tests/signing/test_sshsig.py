"""The SSHSIG format: what is not a signature at all is refused before ssh-keygen runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasegate.signing import sshsig
from releasegate.signing.keygen import sign
from releasegate.signing.verifier import RefusalCode, SignatureRefused
from tests.signing.conftest import DEMO, keygen_fingerprint, payload


def malformed(signature: str | None) -> RefusalCode:
    with pytest.raises(SignatureRefused) as info:
        sshsig.parse(signature)
    return info.value.code


@pytest.mark.parametrize("signature", [None, "", "   \n"])
def test_unsigned(signature: str | None) -> None:
    assert malformed(signature) == RefusalCode.UNSIGNED


def _armor(b64: str) -> str:
    return f"-----BEGIN SSH SIGNATURE-----\n{b64}\n-----END SSH SIGNATURE-----\n"


@pytest.mark.parametrize(
    "garbage",
    [
        "looks good to me",
        "-----BEGIN PGP SIGNATURE-----\n\niQEzBAABCAAdFiEE\n-----END PGP SIGNATURE-----\n",
        _armor("not base64 at all!!"),
        _armor("aGVsbG8gd29ybGQ="),  # base64, but not an SSHSIG blob
        _armor("U1NIU0lHAAAAAQAAADM="),  # SSHSIG magic, truncated
        "-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----\n",
        "x" * 100_000,
    ],
    ids=["text", "pgp", "bad-base64", "not-sshsig", "truncated", "empty-armor", "huge"],
)
def test_garbage_signature(garbage: str) -> None:
    assert malformed(garbage) == RefusalCode.MALFORMED


def test_truncated_real_signature(keys: dict[str, Path]) -> None:
    lines = sign(payload().message(), key=keys["alice"]).splitlines()
    assert malformed("\n".join([*lines[:2], lines[-1]]) + "\n") == RefusalCode.MALFORMED


def test_a_real_signature_parses_rearmors_and_names_its_key(keys: dict[str, Path]) -> None:
    signature = sign(payload().message(), key=keys["alice"])
    parsed = sshsig.parse(signature)
    assert parsed.namespace == "releasegate"
    assert sshsig.armor(parsed.blob) == signature  # the canonical armor is ssh-keygen's own
    expected = keygen_fingerprint(DEMO / "alice.pub")
    assert sshsig.fingerprint_of(signature) == expected
    assert sshsig.line_fingerprint((DEMO / "alice.pub").read_text()) == expected
    assert sshsig.line_fingerprint("ssh-ed25519 not-base64!") == "?"
