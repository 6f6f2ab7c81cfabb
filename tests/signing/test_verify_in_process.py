"""The in-process SSHSIG verifier against the real `ssh-keygen -Y verify`, key type by key type.

Every case is decided three ways and must agree: ssh-keygen run directly (the reference),
`releasegate.signing.keygen.verify` (ssh-keygen behind our refusal codes) and
`releasegate.signing.inprocess.InProcessVerifier` (in-process). Keys are made per session.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding

from releasegate import config, wiring
from releasegate.signing.allowed_signers import AllowedSigners, match_list, parse_time
from releasegate.signing.inprocess import InProcessVerifier
from releasegate.signing.keygen import KeygenVerifier, sign
from releasegate.signing.payload import NAMESPACE
from releasegate.signing.verifier import SignatureError, SignatureRefused, Verified
from tests.conftest import REPO
from tests.support.sshsig import DEMO_KEYS, armor, sign_ed25519, signed_data, verifier, wire

MESSAGE = b"releasegate-approval-v1\ndecision: approve\nreviewer: alice\n"
KEY_TYPES = {
    "ed25519": ["-t", "ed25519"],
    "ecdsa-p256": ["-t", "ecdsa", "-b", "256"],
    "ecdsa-p384": ["-t", "ecdsa", "-b", "384"],
    "ecdsa-p521": ["-t", "ecdsa", "-b", "521"],
    "rsa-2048": ["-t", "rsa", "-b", "2048"],
}


@pytest.fixture(scope="module")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sshsig-keys")
    for name, args in KEY_TYPES.items():
        for who in ("alice", "bob"):
            _run(
                "ssh-keygen",
                "-q",
                *args,
                "-N",
                "",
                "-C",
                f"{who}-{name}",
                "-f",
                d / f"{who}-{name}",
            )
    return d


def _run(*args: object, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(a) for a in args], input=stdin, capture_output=True, check=False)


def _pub(path: Path) -> str:
    return " ".join(path.with_name(path.name + ".pub").read_text().split()[:2])


def reference(
    allowed: Path, signature: str, signer: str, message: bytes = MESSAGE, at: str | None = None
) -> bool:
    """`ssh-keygen -Y verify` itself: does it accept?"""
    sig = allowed.with_name("check.sig")
    sig.write_text(signature)
    opts = ["-O", f"verify-time={at}"] if at else []
    cmd = ["ssh-keygen", "-Y", "verify", "-f", allowed, "-I", signer, "-n", "releasegate"]
    return _run(*cmd, *opts, "-s", sig, stdin=message).returncode == 0


def decide(
    allowed: Path, signature: str, signer: str, message: bytes = MESSAGE, at: datetime | None = None
) -> tuple[str, str]:
    """(ssh-keygen path, in-process path): "ok" or the refusal code; they must agree."""
    results = []
    for checker in (KeygenVerifier(allowed), verifier(allowed)):
        try:
            got = checker.verify(message, signature, signer=signer, namespace=NAMESPACE, at=at)
            assert isinstance(got, Verified) and got.signer == signer
            results.append("ok")
        except SignatureRefused as refused:
            results.append(str(refused.code))
    return results[0], results[1]


def keygen_sign(
    key: Path, message: bytes = MESSAGE, namespace: str = "releasegate", *opts: str
) -> str:
    out = _run("ssh-keygen", "-Y", "sign", "-n", namespace, *opts, "-f", key, stdin=message)
    assert out.returncode == 0, out.stderr
    return out.stdout.decode()


@pytest.fixture
def allowed(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "allowed_signers"


# --- every supported key type ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KEY_TYPES)
@pytest.mark.parametrize("hashalg", ["sha512", "sha256"])
def test_valid_signature_agrees_with_ssh_keygen(
    keydir: Path, allowed: Path, kind: str, hashalg: str
) -> None:
    alice = keydir / f"alice-{kind}"
    allowed.write_text(f"alice {_pub(alice)}\n")
    sig = keygen_sign(alice, MESSAGE, "releasegate", "-O", f"hashalg={hashalg}")
    assert reference(allowed, sig, "alice")
    assert decide(allowed, sig, "alice") == ("ok", "ok")
    fingerprint = _run("ssh-keygen", "-l", "-f", f"{alice}.pub").stdout.decode().split()[1]
    assert (
        verifier(allowed).verify(MESSAGE, sig, signer="alice", namespace=NAMESPACE).fingerprint
        == fingerprint
    )


@pytest.mark.parametrize("kind", KEY_TYPES)
def test_refusals_agree_with_ssh_keygen(keydir: Path, allowed: Path, kind: str) -> None:
    alice, bob = keydir / f"alice-{kind}", keydir / f"bob-{kind}"
    allowed.write_text(f"alice {_pub(alice)}\nbob {_pub(bob)}\n")
    good = keygen_sign(alice)
    cases = {
        "tampered message": (good, "alice", MESSAGE + b"x", "bad-signature"),
        "wrong namespace": (
            keygen_sign(alice, MESSAGE, "git"),
            "alice",
            MESSAGE,
            "wrong-namespace",
        ),
        "wrong key": (keygen_sign(bob), "alice", MESSAGE, "wrong-signer"),
        "tampered signature": (_flip(good), "alice", MESSAGE, "bad-signature"),
    }
    for what, (sig, signer, message, code) in cases.items():
        assert not reference(allowed, sig, signer, message), what
        assert decide(allowed, sig, signer, message) == (code, code), what
    allowed.write_text(f"bob {_pub(bob)}\n")
    assert not reference(allowed, good, "alice")
    assert decide(allowed, good, "alice") == ("unknown-key", "unknown-key")


@pytest.mark.parametrize("kind", KEY_TYPES)
def test_validity_window_agrees_with_ssh_keygen(keydir: Path, allowed: Path, kind: str) -> None:
    alice = keydir / f"alice-{kind}"
    allowed.write_text(f'alice valid-after="20260101Z",valid-before="20260601Z" {_pub(alice)}\n')
    sig = keygen_sign(alice)
    inside, after = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 6, 1, 0, 0, 1, tzinfo=UTC)
    assert reference(allowed, sig, "alice", at="20260301Z")
    assert not reference(allowed, sig, "alice", at="20260601000001Z")
    assert not reference(allowed, sig, "alice")  # now: expired
    assert decide(allowed, sig, "alice", at=inside) == ("ok", "ok")
    assert decide(allowed, sig, "alice", at=after) == ("not-allowed", "not-allowed")
    assert decide(allowed, sig, "alice") == ("not-allowed", "not-allowed")
    # Both ends are inclusive, to the second.
    edge = datetime(2026, 6, 1, tzinfo=UTC)
    assert reference(allowed, sig, "alice", at="20260601000000Z")
    assert decide(allowed, sig, "alice", at=edge) == ("ok", "ok")


def test_rsa_sha2_256_and_sha1_signatures(keydir: Path, allowed: Path) -> None:
    """ssh-keygen signs RSA with rsa-sha2-512 only; 256 is valid and SHA-1 refused: made here."""
    key = keydir / "alice-rsa-2048"
    allowed.write_text(f"alice {_pub(key)}\n")
    private = serialization.load_ssh_private_key(key.read_bytes(), None)
    for alg, digest, accepted in (
        ("rsa-sha2-256", hashes.SHA256(), True),
        ("ssh-rsa", hashes.SHA1(), False),
    ):
        raw = private.sign(signed_data(MESSAGE), padding.PKCS1v15(), digest)  # type: ignore[call-arg, union-attr]
        sig = armor(base64.b64decode(_pub(key).split()[1]), wire(alg.encode()) + wire(raw))
        assert reference(allowed, sig, "alice") is accepted, alg
        want = "ok" if accepted else "bad-signature"
        assert decide(allowed, sig, "alice") == (want, want), alg


# --- allowed_signers options and principals ---------------------------------------------------


@pytest.mark.parametrize(
    ("line", "signer"),
    [
        ("alice,bob {key}", "alice"),
        ("al* {key}", "alice"),
        ("al?ce {key}", "alice"),
        ("!alice,* {key}", "alice"),
        ("* {key}", "mallory"),
        ('alice namespaces="git,release*" {key}', "alice"),
        ('alice namespaces="git" {key}', "alice"),
        ('alice NAMESPACES="releasegate" {key}', "alice"),
        ('alice namespaces="!releasegate,*" {key}', "alice"),
        ("alice namespaces=releasegate {key}", "alice"),  # unquoted: ssh-keygen ignores the line
        ("alice unknown-option {key}", "alice"),
        ('alice valid-after="20260101" {key}', "alice"),
        ('alice valid-before="20200101" {key}', "alice"),
        ('alice valid-after="20260601",valid-before="20260101" {key}', "alice"),
        ('alice valid-after="2026" {key}', "alice"),
        ("alice cert-authority {key}", "alice"),
        ('"alice bob" {key}', "alice"),
        ("alice   {key} comment with spaces", "alice"),
        ('# alice {key}\nalice namespaces="git" {key}\nalice {key}', "alice"),
    ],
)
def test_allowed_signers_lines_agree_with_ssh_keygen(
    keydir: Path, allowed: Path, line: str, signer: str
) -> None:
    alice = keydir / "alice-ed25519"
    allowed.write_text(line.format(key=_pub(alice)) + "\n")
    sig = keygen_sign(alice)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    accepted = reference(allowed, sig, signer, at="20260301Z")
    ours = verifier(allowed)
    try:
        ours.verify(MESSAGE, sig, signer=signer, namespace=NAMESPACE, at=at)
        got = True
    except SignatureRefused:
        got = False
    assert got is accepted
    first, second = decide(allowed, sig, signer, at=at)
    if line.startswith('"'):
        # A quoted principal with a space: the ssh-keygen path splits find-principals'
        # output on spaces and calls it not-allowed; in-process it is (rightly) wrong-signer.
        assert (first, second) == ("not-allowed", "wrong-signer")
    else:
        assert first == second


def test_local_time_without_z_is_the_local_zone(
    keydir: Path, allowed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`valid-before="20260301"` means midnight where ssh-keygen runs (here: New York)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        alice = keydir / "alice-ed25519"
        allowed.write_text(f'alice valid-before="20260301" {_pub(alice)}\n')
        sig = keygen_sign(alice)
        before, late = (
            datetime(2026, 3, 1, 4, 59, 59, tzinfo=UTC),
            datetime(2026, 3, 1, 5, 0, 1, tzinfo=UTC),
        )
        assert reference(allowed, sig, "alice", at="20260301045959Z")
        assert not reference(allowed, sig, "alice", at="20260301050001Z")
        assert decide(allowed, sig, "alice", at=before) == ("ok", "ok")
        assert decide(allowed, sig, "alice", at=late) == ("not-allowed", "not-allowed")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_pattern_lists_and_times() -> None:
    assert match_list("alice", "bob,al*") == 1
    assert match_list("alice", "*,!alice") == -1
    assert match_list("alice", "bob") == 0
    assert match_list("a.ice", "a?ice") == 1 and match_list("a.ice", "a.ic") == 0
    assert parse_time("20260101Z") == int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    assert parse_time("202601010930utc") == int(datetime(2026, 1, 1, 9, 30, tzinfo=UTC).timestamp())
    assert parse_time("2026010") is None and parse_time("20261301Z") is None
    assert parse_time("19700101Z") is None  # zero is "no limit" to ssh-keygen: refused


# --- types handed to ssh-keygen ------------------------------------------------------------------


def test_certificate_signatures_are_checked_by_ssh_keygen(keydir: Path, tmp_path: Path) -> None:
    ca, user = tmp_path / "ca", tmp_path / "user"
    for key in (ca, user):
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
    signed = _run(
        "ssh-keygen",
        "-q",
        "-s",
        ca,
        "-I",
        "alice",
        "-n",
        "alice",
        "-V",
        "always:forever",
        f"{user}.pub",
    )
    assert signed.returncode == 0, signed.stderr
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"alice cert-authority {_pub(ca)}\n")
    sig = keygen_sign(tmp_path / "user-cert.pub")
    assert reference(allowed, sig, "alice")
    assert decide(allowed, sig, "alice") == ("ok", "ok")
    assert decide(allowed, sig, "bob") == ("wrong-signer", "wrong-signer")


def test_security_key_signatures_are_checked_by_ssh_keygen(allowed: Path) -> None:
    """An sk-ssh-ed25519 signature, made here as a FIDO token would make it."""
    private = ed25519.Ed25519PrivateKey.generate()
    raw_pub = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    kind, app = b"sk-ssh-ed25519@openssh.com", b"ssh:"
    pub = base64.b64encode(wire(kind) + wire(raw_pub) + wire(app)).decode()
    allowed.write_text(f"alice {kind.decode()} {pub}\n")
    flags, counter = b"\x01", (7).to_bytes(4, "big")
    signed = (
        hashlib.sha256(app).digest()
        + flags
        + counter
        + hashlib.sha256(signed_data(MESSAGE)).digest()
    )
    sig = armor(base64.b64decode(pub), wire(kind) + wire(private.sign(signed)) + flags + counter)
    assert reference(allowed, sig, "alice")
    assert decide(allowed, sig, "alice") == ("ok", "ok")
    assert decide(allowed, sig, "alice", MESSAGE + b"x") == ("bad-signature", "bad-signature")


def test_supported_types_run_no_ssh_keygen_and_the_rest_need_it(
    allowed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no ssh-keygen on PATH, an ed25519 decision still verifies (in-process: no process
    per decision on the live path), while a certificate signature cannot be checked."""
    alice = tmp_path / "alice"
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", alice)
    allowed.write_text(f"alice {_pub(alice)}\n")
    sig = keygen_sign(alice)
    cert = _run("ssh-keygen", "-q", "-s", alice, "-I", "alice", "-n", "alice", f"{alice}.pub")
    assert cert.returncode == 0, cert.stderr
    cert_sig = keygen_sign(tmp_path / "alice-cert.pub")
    monkeypatch.setenv("PATH", "")
    assert (
        verifier(allowed).verify(MESSAGE, sig, signer="alice", namespace=NAMESPACE).signer
        == "alice"
    )
    with pytest.raises(SignatureError, match="ssh-keygen not found"):
        verifier(allowed).verify(MESSAGE, cert_sig, signer="alice", namespace=NAMESPACE)


def test_wiring_checks_live_and_stored_signatures_in_process() -> None:
    """The one verifier `wiring` hands out, to `audit verify` and to the approval loop."""
    settings = config.load(REPO / "deployments" / "releasegate.toml")
    verifier = wiring.signature_verifier(settings)
    assert isinstance(verifier, InProcessVerifier)
    assert isinstance(verifier.fallback, KeygenVerifier)
    assert verifier.path == settings.allowed_signers


# --- speed ---------------------------------------------------------------------------------------


def test_one_verifier_reads_allowed_signers_once(keydir: Path, allowed: Path) -> None:
    alice = keydir / "alice-ed25519"
    allowed.write_text(f"alice {_pub(alice)}\n")
    ours = verifier(allowed)
    sig = sign(MESSAGE, key=alice)
    allowed.write_text("")  # later changes are not seen by this verifier
    assert ours.verify(MESSAGE, sig, signer="alice", namespace=NAMESPACE).signer == "alice"
    assert AllowedSigners.load(allowed).lines == 0


# --- helpers -------------------------------------------------------------------------------------


def _flip(signature: str) -> str:
    """Change one byte of the signature proper (the end of the blob)."""
    lines = signature.strip().splitlines()
    blob = bytearray(base64.b64decode("".join(lines[1:-1])))
    blob[-5] ^= 0x01
    b64 = base64.b64encode(bytes(blob)).decode()
    body = "\n".join(b64[i : i + 70] for i in range(0, len(b64), 70))
    return f"{lines[0]}\n{body}\n{lines[-1]}\n"


def test_in_process_test_signatures_are_what_ssh_keygen_accepts(allowed: Path) -> None:
    """tests/support/sshsig.py signs for benchmarks; ssh-keygen must accept its output."""
    allowed.write_text(f"alice {_pub(DEMO_KEYS / 'alice')}\n")
    sig = sign_ed25519(DEMO_KEYS / "alice", MESSAGE)
    assert reference(allowed, sig, "alice")
    assert decide(allowed, sig, "alice") == ("ok", "ok")
