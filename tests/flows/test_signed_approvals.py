"""Signed approvals through the real flow: the attack suite.

Every forged or misapplied decision is refused with a specific reason in the audit trail,
the run keeps waiting after each refusal (the next decision answers a new pause of the
same run), and only genuine signatures from eligible reviewers count.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from releasegate.approval import ApprovalRequest
from releasegate.audit.file import FileAuditStore
from releasegate.errors import Blocked
from releasegate.flows.deploy import deploy
from releasegate.signing.keygen import sign
from tests.flows.conftest import SIGNED, assert_given_again, signed
from tests.support.people import Responder, Reviewers, Step, proof

LINKED = "looks good, see https://tickets.example/T-1?id=42"


def wrong_namespace(key: Path, scratch: Path):
    """A genuine signature by `key` over the right message, in git's namespace."""
    private = scratch / f"{key.name}-0600"
    # A clone checks keys out 0644, and ssh-keygen refuses a readable private key.
    shutil.copyfile(key, private)
    private.chmod(0o600)

    def make(asked: ApprovalRequest) -> tuple[str, datetime]:
        now = datetime.now(UTC).replace(microsecond=0)
        message = asked.payload("alice", "approve", "", now).message()
        result = subprocess.run(
            ["ssh-keygen", "-q", "-Y", "sign", "-n", "git", "-f", str(private)],
            input=message,
            capture_output=True,
            check=True,
        )
        return result.stdout.decode(), now

    return make


def test_attack_suite_every_forgery_is_refused_and_the_run_keeps_waiting(
    make_setup, signers: dict[str, Path]
) -> None:
    setup = make_setup(
        production={"approvals": SIGNED}, top={"allowed_signers": str(signers["allowed_signers"])}
    )
    alice, bob = signers["alice"], signers["bob"]
    attacks = [
        # An empty signature is refused by the form's schema before the run sees it (the
        # browser tests show it); blanks pass the schema and reach the run.
        ("unsigned", Step("alice", signature=lambda asked: ("  \n", None))),
        ("unknown-key", Step("alice", key=signers["eve"])),
        ("wrong-signer", Step("alice", key=bob)),  # bob's key claiming to be alice
        (
            "bad-signature",
            Step("alice", signature=signed("alice", alice, flow_run_id=str(uuid.uuid4()))),
        ),
        (
            "bad-signature",
            Step("alice", signature=signed("alice", alice, digest="sha256:" + "0" * 64)),
        ),
        ("bad-signature", Step("alice", reject=True, signature=signed("alice", alice, "approve"))),
        ("bad-signature", Step("alice", signature=signed("alice", alice, "reject"))),
        (
            "bad-signature",
            Step(
                "alice",
                comment="ship it, and v9 too",
                signature=signed("alice", alice, comment="ship it"),
            ),
        ),
        (
            "wrong-namespace",
            Step("alice", signature=wrong_namespace(alice, signers["allowed_signers"].parent)),
        ),
        (
            "malformed",
            Step(
                "alice",
                signature=lambda asked: (
                    "-----BEGIN SSH SIGNATURE-----\nAAAAgarbage\n-----END SSH SIGNATURE-----\n",
                    asked.opened_at,
                ),
            ),
        ),
        # Genuine: counts. A URL with a query in a signed comment is kept as signed (the
        # trail's redaction would otherwise break the signature `audit verify` re-checks).
        (None, Step("alice", comment=LINKED)),
        ("duplicate", Step("alice")),
        ("self-review", Step("carol", key=signers["carol"])),  # carol triggered the run
        ("not-a-member", Step("dave", key=signers["dave"])),  # valid key, not in the group
        (None, Step("bob")),
    ]
    reviewers = Reviewers("v1", [step for _, step in attacks]).start()
    deploy(version="v1", actor="carol", proof=proof("v1", "carol", signers["carol"]))
    answered = reviewers.join()

    # The same run answered every time: each refusal left it waiting for the next decision.
    assert len({a.flow_run_id for a in answered}) == 1 and len(answered) == len(attacks)
    decisions = setup.records("approval")[::-1]
    assert [d.details.get("refusal") for d in decisions] == [code for code, _ in attacks]
    for decision, (code, _) in zip(decisions, attacks, strict=True):
        assert decision.status == ("accepted" if code is None else "refused")
        assert code is None or decision.reason, "a refusal must say why"
    assert "bob" in decisions[2].reason  # names whose key it really was
    # Zero forged approvals accepted: the deploy relied on exactly the two genuine ones.
    deployed = setup.records("deploy")[0]
    assert deployed.status == "succeeded" and deployed.approvers == ["alice", "bob"]
    assert {a.name: a.comment for a in deployed.approvals} == {"alice": LINKED, "bob": ""}
    assert all(
        a.key_fingerprint and a.key_fingerprint.startswith("SHA256:") for a in deployed.approvals
    )

    code, out = setup.cli("audit", "verify")
    assert code == 0, out


def test_a_signed_rejection_stops_the_run(make_setup, signers: dict[str, Path]) -> None:
    setup = make_setup(
        production={"approvals": SIGNED}, top={"allowed_signers": str(signers["allowed_signers"])}
    )
    reviewers = Reviewers("v1", [Step("bob", reject=True, comment="schema change unreviewed")])
    reviewers.start()
    with pytest.raises(Blocked, match="rejected by bob"):
        deploy(version="v1", actor="dave", proof=proof("v1", "dave", signers["dave"]))
    reviewers.join()
    rejected = setup.records("approval")[0]
    assert rejected.status == "rejected" and rejected.approvals[0].signature


def test_an_expired_signed_approval_must_be_given_again(
    make_setup, signers: dict[str, Path]
) -> None:
    setup = make_setup(
        app={"name": "signed-max-age"},
        production={"approvals": {**SIGNED, "max_age": "5s"}, "wait_timer": "6s"},
        top={"allowed_signers": str(signers["allowed_signers"])},
    )
    responder = Responder("m1", keys=signers).start()
    setup.call(
        deploy,
        version="m1",
        actor="dave",
        proof=proof("m1", "dave", signers["dave"], app="signed-max-age"),
    )
    responder.stop()
    assert_given_again(setup)


def test_audit_verify_names_a_record_whose_stored_signature_was_altered(
    make_setup, signers: dict[str, Path]
) -> None:
    setup = make_setup(
        production={"approvals": SIGNED}, top={"allowed_signers": str(signers["allowed_signers"])}
    )
    reviewers = Reviewers("v1", [Step("alice"), Step("bob")]).start()
    deploy(version="v1", actor="dave", proof=proof("v1", "dave", signers["dave"]))
    reviewers.join()
    assert setup.cli("audit", "verify")[0] == 0

    accepted = next(r for r in setup.records("approval") if r.approvers == ["bob"])
    path = FileAuditStore(setup.home / "audit").record_path("production", accepted.seq)
    data = json.loads(path.read_text())
    # Swap in bob's signature from another decision: cryptographically valid, wrong message.
    data["approvals"][0]["signature"] = sign(b"something else\n", key=signers["bob"])
    os.chmod(path, 0o644)
    path.write_text(json.dumps(data))
    code, out = setup.cli("audit", "verify")
    assert code == 1
    assert f"#{accepted.seq} ({accepted.id}) bob: signature does not verify" in out
