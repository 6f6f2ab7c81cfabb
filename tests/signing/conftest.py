"""Shared by the signing tests: demo keys, a fresh untrusted key, and a sample decision."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from releasegate.signing.keygen import KeygenVerifier
from releasegate.signing.payload import DecisionPayload
from releasegate.signing.verifier import SignatureRefused
from tests.support.sshsig import verifier

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "keys"
ALLOWED = DEMO / "allowed_signers"
DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32


@pytest.fixture(autouse=True)
def _no_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own agent must not change what these tests sign with."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Private key paths. alice/bob: 0600 copies of the demo keys; carol: untrusted."""
    d = tmp_path_factory.mktemp("keys")
    out: dict[str, Path] = {}
    for name in ("alice", "bob"):
        shutil.copy(DEMO / name, d / name)
        shutil.copy(DEMO / f"{name}.pub", d / f"{name}.pub")
        (d / name).chmod(0o600)
        out[name] = d / name
    make_key(d / "carol", comment="carol (not trusted)")
    out["carol"] = d / "carol"
    return out


def make_key(path: Path, *, comment: str, passphrase: str = "") -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f", str(path)],
        check=True,
    )


def payload(**changes: str) -> DecisionPayload:
    fields = {
        "decision": "approve",
        "reviewer": "alice",
        "flow_run_id": "0b6f9c1e-6a1f-4c3e-9d7a-2f0e5b8c1a11",
        "environment": "production",
        "app": "webapp",
        "version": "1.4.2",
        "digest": DIGEST,
        "comment": "smoke tests green",
        "pause_key": "approval-production-0-120102123456",
        "issued_at": "2026-11-27T12:01:02Z",
    }
    return DecisionPayload.model_validate({**fields, **changes})


def refused(p: DecisionPayload, signature: str | None, allowed: Path = ALLOWED) -> SignatureRefused:
    """The ssh-keygen verifier's refusal, which the in-process one must share."""
    with pytest.raises(SignatureRefused) as info:
        KeygenVerifier(allowed).verify_decision(p, signature)
    with pytest.raises(SignatureRefused) as in_process:
        verifier(allowed).verify_decision(p, signature)
    assert in_process.value.code == info.value.code
    return info.value


def keygen_fingerprint(pub: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-f", str(pub)], capture_output=True, check=True)
    return out.stdout.decode().split()[1]
