"""Proven actors on a real Prefect server: a typed name is recorded as a claim and cannot
trigger where self-review prevention needs a proof; a signed request proves its actor once,
fresh, for exactly what it names; every other attempt is refused and recorded."""

from __future__ import annotations

import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from releasegate import review
from releasegate.audit.record import AuditEntry
from releasegate.errors import Blocked
from releasegate.flows.deploy import deploy
from releasegate.flows.rollback import rollback
from releasegate.request import signed
from releasegate.signing.keygen import sign
from releasegate.signing.trigger import TRIGGER_NAMESPACE, Asked
from releasegate.signing.webhook import attestation
from releasegate.trigger import TriggerProof
from releasegate.wiring import open_store
from tests.flows.conftest import keypair, serving
from tests.support import console
from tests.support.people import KEYS, pinned_app, proof

SIGNED = {"required": 2, "from": "release-managers", "timeout": "2m", "signed": True}
DEMO_SIGNERS = {"allowed_signers": str(KEYS / "allowed_signers")}


def trigger_records(setup: Any) -> list[Any]:
    return setup.records("trigger", "_triggers")


def test_a_claimed_actor_is_blocked_before_approvals_with_how_to_prove_it(make_setup) -> None:
    setup = make_setup(production={"approvals": SIGNED}, top=DEMO_SIGNERS)
    done = console.run("deploy", "v1", "--as", "dave", "--config", str(setup.path))
    assert done.returncode == 3, done.stderr
    line = console.one_line(done.stderr)
    assert line.startswith("blocked: production: blocked by actor gate: 'dave' (claimed)")
    assert "releasegate deploy v1 --sign --as dave --key" in line
    claimed = trigger_records(setup)[0]
    assert (claimed.actor, claimed.actor_proof, claimed.status) == ("dave", "claimed", "accepted")
    gate = setup.records("gate")[0]
    assert gate.status == "blocked" and gate.details["stage"] == "before approvals"
    assert gate.actor_proof == "claimed" and gate.trigger_seq == claimed.seq
    assert setup.records("approval") == []  # no approval was ever asked for
    with pytest.raises(httpx.ConnectError):
        httpx.get(setup.urls["production"], timeout=2)


def test_a_signed_actor_is_proven_self_review_holds_and_approve_exits_0_or_3(
    make_setup,
) -> None:
    setup = make_setup(production={"approvals": SIGNED}, top=DEMO_SIGNERS)
    config = ("--config", str(setup.path))
    run = console.start(
        "deploy", "v1", "--sign", "--as", "carol", "--key", str(KEYS / "carol"), *config
    )
    answered: set[str] = set()

    def approve(reviewer: str) -> subprocess.CompletedProcess[str]:
        asked = review.next_request("v1", "production", answered, timeout=60)
        assert asked is not None and asked.actor_proof == "signed"
        answered.add(asked.pause_key)
        key = str(KEYS / reviewer)
        return console.run("approve", asked.flow_run_id, "--as", reviewer, "--key", key, *config)

    own = approve("carol")  # carol triggered it: her own decision cannot count
    assert own.returncode == 3, own.stderr
    assert "triggered this deployment and cannot review it" in console.one_line(own.stderr)
    for reviewer in ("alice", "bob"):
        given = approve(reviewer)
        assert given.returncode == 0, given.stderr
        assert "the decision counts (accepted)" in given.stdout
    code, _, err = console.finish(run)
    assert code == 0, err
    assert serving(setup.urls["production"]) == "v1"

    trigger = trigger_records(setup)[0]
    assert (trigger.actor, trigger.actor_proof, trigger.status) == ("carol", "signed", "accepted")
    assert trigger.details["key_fingerprint"].startswith("SHA256:")
    deployed = setup.records("deploy")[0]
    assert (deployed.actor, deployed.actor_proof) == ("carol", "signed")
    assert deployed.trigger_seq == trigger.seq and deployed.approvers == ["alice", "bob"]
    refused = setup.records("approval")[-1]
    assert refused.details["refusal"] == "self-review"


def forged(**change: Any):  # type: ignore[no-untyped-def]
    """A proof for `deploy v1` by dave, made with the given changes (key, namespace, ...)."""
    key: Path = change.pop("key", KEYS / "dave")
    namespace: str = change.pop("namespace", TRIGGER_NAMESPACE)
    signer: str = change.pop("signer", "dave")
    issued_at: datetime = change.pop("issued_at", datetime.now(UTC).replace(microsecond=0))
    asked = Asked(request="deploy", version=change.pop("version", "v1"), branch="main")
    message = asked.payload(signer, pinned_app(), issued_at, "n" * 32).message()
    signature = change.pop("signature", None) or sign(message, key=key, namespace=namespace)
    return TriggerProof(issued_at=issued_at, nonce="n" * 32, signature=signature)


@pytest.mark.parametrize(
    ("actor", "make", "code"),
    [
        ("dave", lambda eve: forged(key=eve), "unknown-key"),
        ("dave", lambda eve: forged(key=KEYS / "carol"), "wrong-signer"),
        ("alice", lambda eve: forged(key=KEYS / "alice", signer="alice"), "not-allowed"),
        ("dave", lambda eve: forged(version="v0"), "bad-signature"),  # signed for another version
        ("dave", lambda eve: forged(namespace="releasegate"), "wrong-namespace"),  # an approval's
        ("dave", lambda eve: forged(namespace="git"), "wrong-namespace"),
        ("dave", lambda eve: forged(issued_at=datetime.now(UTC) - timedelta(minutes=11)), "stale"),
        ("dave", lambda eve: forged(issued_at=datetime.now(UTC) + timedelta(minutes=5)), "future"),
        (
            "dave",
            lambda eve: forged(
                signature="-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----"
            ),
            "malformed",
        ),
    ],
    ids=[
        "unknown-key",
        "someone-elses-key",
        "approval-only-key",
        "other-version",
        "approval-namespace",
        "git-namespace",
        "stale",
        "future",
        "garbage",
    ],
)
def test_a_request_that_does_not_prove_its_actor_is_refused_and_nothing_changes(
    make_setup, tmp_path: Path, actor: str, make: Any, code: str
) -> None:
    setup = make_setup(top=DEMO_SIGNERS)
    with pytest.raises(Blocked, match=f"trigger refused: {code}: "):
        deploy(version="v1", actor=actor, proof=make(keypair(tmp_path, "eve")))
    refused = trigger_records(setup)[0]
    assert (refused.status, refused.details["refusal"], refused.actor_proof) == (
        "refused",
        code,
        "claimed",
    )
    assert refused.reason
    assert setup.records("deploy") == [] and setup.records("gate") == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(setup.urls["production"], timeout=2)


def test_a_signed_request_is_good_for_one_run_even_when_two_race(make_setup) -> None:
    setup = make_setup(top=DEMO_SIGNERS)
    request = proof("v1")
    deploy(version="v1", actor="dave", proof=request)
    with pytest.raises(Blocked, match=r"trigger refused: replayed: .* already used by flow run"):
        deploy(version="v1", actor="dave", proof=request)

    # Two runs started at once on one fresh request: exactly one goes ahead.
    twice = proof("v2")
    outcomes: list[str] = []

    def attempt() -> None:
        try:
            deploy(version="v2", actor="dave", proof=twice)
            outcomes.append("deployed")
        except Blocked as exc:
            outcomes.append(str(exc).split(":")[1].strip())

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["deployed", "replayed"]
    assert serving(setup.urls["production"]) == "v2"


def test_a_rollback_takes_any_provenance_and_records_which(make_setup) -> None:
    setup = make_setup(top=DEMO_SIGNERS)
    for version in ("v1", "v2", "v3"):
        deploy(version=version, actor="dave", proof=proof(version))
    rollback(environment="production", reason="typed in a hurry", actor="carol")
    asked = Asked(request="rollback", environment="production", reason="signed")
    rollback(
        environment="production",
        reason="signed",
        actor="carol",
        proof=signed(asked, "carol", setup.app, KEYS / "carol"),
    )
    signed_back, claimed_back = setup.records("rollback")[0], setup.records("rollback")[2]
    assert (claimed_back.actor, claimed_back.actor_proof) == ("carol", "claimed")
    assert (signed_back.actor, signed_back.actor_proof) == ("carol", "signed")
    code, out = setup.cli("history", "production")
    assert code == 0 and "carol (claimed)" in out and "carol (signed)" in out
    assert setup.cli("audit", "verify")[0] == 0  # every request signature re-verifies

    # Someone who can write to the store appends a copy of a signed trigger, for v9, with
    # its genuine signature: the chain stays intact, but the signature does not prove it.
    genuine = next(r for r in trigger_records(setup) if r.actor_proof == "signed")
    fields = genuine.model_dump(exclude={"id", "seq", "prev_hash", "hash"})
    open_store(setup.load()).append(AuditEntry(**{**fields, "version": "v9"}))
    code, out = setup.cli("audit", "verify")
    assert code == 1 and "request signature does not verify" in out


WEBHOOK_SECRET = "actors-test-webhook-secret-0123456789"


def attested(**change: Any) -> TriggerProof:
    """The receiver's attestation of `deploy v1` pushed by dave, made with the given changes."""
    issued_at: datetime = change.pop("issued_at", datetime.now(UTC).replace(microsecond=0))
    delivery: str = change.pop("delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
    asked = Asked(request="deploy", version=change.pop("version", "v1"), branch="main")
    payload = asked.payload(change.pop("pusher", "dave"), pinned_app(), issued_at, "w" * 64)
    made = attestation(change.pop("secret", WEBHOOK_SECRET), payload, delivery)
    return TriggerProof(
        issued_at=issued_at,
        nonce="w" * 64,
        attestation=made,
        delivery=change.pop("as_delivery", delivery),
    )


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: attested(secret="another-secret-of-32-characters!"), "forged"),
        (lambda: attested(version="v0"), "forged"),  # attested for another version
        (lambda: attested(pusher="erin"), "forged"),  # erin pushed; the run claims dave
        (lambda: attested(as_delivery="0" * 36), "forged"),  # another delivery's id
        (lambda: attested(issued_at=datetime.now(UTC) - timedelta(minutes=11)), "stale"),
        (lambda: attested(issued_at=datetime.now(UTC) + timedelta(minutes=5)), "future"),
        (lambda: attested(), "no-webhook-secret"),  # this process holds no secret
    ],
    ids=[
        "other-secret",
        "other-version",
        "other-pusher",
        "other-delivery",
        "stale",
        "future",
        "no-secret",
    ],
)
def test_a_webhook_attestation_that_does_not_hold_is_refused_and_nothing_changes(
    make_setup, monkeypatch: pytest.MonkeyPatch, make: Any, code: str
) -> None:
    setup = make_setup()
    monkeypatch.delenv("RELEASEGATE_WEBHOOK_SECRET", raising=False)
    if code != "no-webhook-secret":
        monkeypatch.setenv("RELEASEGATE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    with pytest.raises(Blocked, match=f"trigger refused: {code}: "):
        setup.call(deploy, version="v1", actor="dave", proof=make())
    refused = trigger_records(setup)[0]
    assert (refused.status, refused.details["refusal"], refused.actor_proof) == (
        "refused",
        code,
        "claimed",
    )
    assert refused.details["delivery"] and refused.details["attestation"]
    assert setup.records("deploy") == [] and setup.records("gate") == []


def test_a_proof_carries_one_kind_of_evidence() -> None:
    good = attested()
    with pytest.raises(ValueError, match="either a signature or an attestation"):
        TriggerProof(**{**good.model_dump(), "signature": "x"})
    with pytest.raises(ValueError, match="names its delivery"):
        TriggerProof(**{**good.model_dump(), "delivery": None})
