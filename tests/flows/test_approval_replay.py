"""Replaying a signed decision, through the real flow on the real Prefect server.

Anyone who can resume a paused run can read every signature it was given: in the audit
trail, and in the run's own inputs on the Prefect server. A signed decision binds the pause
it answers and the time it was signed, and a run takes a signature once: a copy submitted
again is refused with its reason, recorded, and never counts. Nothing here waits on the
clock but the wait timer, which is longer than max_age, so every outcome is certain.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.input import filter_flow_run_input

from releasegate.approval import ApprovalRequest
from releasegate.errors import Blocked
from releasegate.flows.deploy import deploy
from releasegate.signing.keygen import sign
from tests.flows.conftest import SIGNED, Setup, signed
from tests.support.people import KEYS, Reviewers, Step, proof
from tests.support.sshsig import sign_ed25519

Made = Callable[[ApprovalRequest], tuple[str, datetime | None]]


def from_the_trail(setup: Setup, reviewer: str, status: str) -> Made:
    """The signature (and its issue time) `reviewer`'s decision carries in the audit trail."""

    def copy(asked: ApprovalRequest) -> tuple[str, datetime | None]:
        record = next(
            r
            for r in setup.records("approval")
            if r.status == status and r.approvals[0].name == reviewer
        )
        given = record.approvals[0]
        assert given.signature and given.pause_key and given.issued_at
        return given.signature, given.issued_at

    return copy


def from_the_run_inputs(reviewer: str, *, rewrap: bool = False) -> Made:
    """The signature `reviewer` resumed the run with, read back from the run's inputs on the
    Prefect server (what anyone who can open the run can read); `rewrap`: its armour
    re-wrapped, so the text differs and the signature does not."""

    def copy(asked: ApprovalRequest) -> tuple[str, datetime | None]:
        entries = filter_flow_run_input(
            key_prefix="paused-", limit=1000, flow_run_id=UUID(asked.flow_run_id)
        )
        assert isinstance(entries, list)
        given = next(
            e.decoded_value
            for e in entries
            if e.key.endswith("-response") and e.decoded_value.get("reviewer") == reviewer
        )
        signature = given["signature"]
        if rewrap:
            signature = signature.replace("\n", "\r\n  ")
        issued = datetime.strptime(given["issued_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        return signature, issued

    return copy


def issued_off(reviewer: str, key: Path, shift: timedelta) -> Made:
    """A genuine signature for this very pause, claiming an issue time `shift` away from the
    moment the round opened."""

    def make(asked: ApprovalRequest) -> tuple[str, datetime | None]:
        payload = asked.payload(reviewer, "approve", "", asked.opened_at + shift)
        return sign(payload.message(), key=key), payload.issued_at

    return make


class Kept:
    """A signature made for one round and kept for later: the first call signs for the
    round being answered (and answers that round with something else); later calls give
    the kept signature."""

    def __init__(self, reviewer: str, key: Path) -> None:
        self.reviewer, self.key = reviewer, key
        self.made: tuple[str, datetime | None] | None = None

    def sign_now(self, asked: ApprovalRequest) -> tuple[str, datetime | None]:
        self.made = signed(self.reviewer, self.key)(asked)
        # This round is answered unsigned, as someone else's doing: blanks, since the
        # signed form's schema refuses an empty signature before the run sees it.
        return "  \n", None

    def replay(self, asked: ApprovalRequest) -> tuple[str, datetime | None]:
        assert self.made is not None
        return self.made


def refusals(setup: Setup) -> list[tuple[str, str, Any]]:
    """(reviewer, status, refusal code) of every decision, oldest first."""
    return [
        (r.approvals[0].name if r.approvals else "", r.status, r.details.get("refusal"))
        for r in setup.records("approval")[::-1]
    ]


def test_copied_signatures_never_count_after_expiry_in_a_later_round_or_re_wrapped(
    make_setup, signers: dict[str, Path]
) -> None:
    setup = make_setup(
        app={"name": "replay-expiry"},
        production={"approvals": {**SIGNED, "max_age": "5s"}, "wait_timer": "6s"},
        top={"allowed_signers": str(signers["allowed_signers"])},
    )
    alice, bob = signers["alice"], signers["bob"]
    steps = [
        Step("alice"),  # round 0: genuine
        Step("bob"),  # round 1: genuine. The 6 s wait timer then voids both (max_age 5 s).
        Step("alice", signature=from_the_trail(setup, "alice", "expired")),
        Step("bob", signature=from_the_run_inputs("bob")),
        Step("bob", signature=from_the_run_inputs("bob", rewrap=True)),
        # Genuine and for this pause, but its own signed time is past max_age.
        Step("alice", signature=issued_off("alice", alice, -timedelta(seconds=60))),
        Step("bob", reject=True, signature=signed("bob", bob, "reject")),
    ]
    reviewers = Reviewers("r1", steps).start()
    with pytest.raises(Blocked, match="rejected by bob"):
        setup.call(
            deploy,
            version="r1",
            actor="dave",
            proof=proof("r1", "dave", signers["dave"], app="replay-expiry"),
        )
    reviewers.join()

    assert refusals(setup) == [
        ("alice", "accepted", None),
        ("bob", "accepted", None),
        ("alice", "expired", None),
        ("bob", "expired", None),
        ("alice", "refused", "replayed"),
        ("bob", "refused", "replayed"),
        ("bob", "refused", "replayed"),
        ("alice", "refused", "stale"),
        ("bob", "rejected", None),
    ]
    decisions = setup.records("approval")[::-1]
    assert "already given to this run" in decisions[4].reason
    assert "older than max_age" in decisions[7].reason
    # Each replay is recorded with what was submitted, so the trail shows the copy.
    assert decisions[4].approvals[0].signature == decisions[2].approvals[0].signature
    assert [v.code for v in reviewers.verdicts[2:5]] == ["replayed"] * 3
    assert setup.records("deploy") == []
    code, out = setup.cli("audit", "verify")
    assert code == 0, out


def test_a_signature_answers_only_the_round_it_was_signed_for(
    make_setup, signers: dict[str, Path]
) -> None:
    setup = make_setup(
        app={"name": "replay-rounds"},
        production={"approvals": SIGNED},
        top={"allowed_signers": str(signers["allowed_signers"])},
    )
    alice, carol = signers["alice"], signers["carol"]
    kept = Kept("carol", carol)
    steps = [
        Step("alice"),  # round 0: genuine, counts
        Step("alice", signature=from_the_run_inputs("alice")),  # round 1: alice's, again
        Step("carol", signature=kept.sign_now),  # round 2: carol signs it; unsigned is sent
        Step("carol", signature=kept.replay),  # round 3: carol's round-2 signature
        Step("carol", signature=issued_off("carol", carol, -timedelta(minutes=10))),
        Step("carol", signature=issued_off("carol", carol, timedelta(minutes=10))),
        Step("alice", signature=issued_off("alice", alice, timedelta(0))),  # duplicate
        Step("carol", key=carol),  # genuine: the second approval
    ]
    reviewers = Reviewers("r2", steps).start()
    setup.call(
        deploy,
        version="r2",
        actor="dave",
        proof=proof("r2", "dave", signers["dave"], app="replay-rounds"),
    )
    reviewers.join()

    assert refusals(setup) == [
        ("alice", "accepted", None),
        ("alice", "refused", "replayed"),
        ("carol", "refused", "unsigned"),
        ("carol", "refused", "bad-signature"),
        ("carol", "refused", "before-round"),
        ("carol", "refused", "future"),
        ("alice", "refused", "duplicate"),
        ("carol", "accepted", None),
    ]
    # Every decision names the pause it answered; no two rounds share one.
    pauses = [r.approvals[0].pause_key for r in setup.records("approval")]
    assert all(pauses) and len(set(pauses)) == len(pauses)
    deployed = setup.records("deploy")[0]
    assert deployed.status == "succeeded" and deployed.approvers == ["alice", "carol"]
    assert all(a.issued_at and a.pause_key for a in deployed.approvals)
    code, out = setup.cli("audit", "verify")
    assert code == 0, out


def test_a_decision_that_cannot_be_checked_or_lacks_its_time_is_refused_and_recorded(
    make_setup, signers: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`unverifiable`: alice signs with an SSH certificate, which only ssh-keygen can check,
    and the run's process finds no ssh-keygen on its PATH. `malformed`: a signature with no
    issue time. Neither counts; bob's signed rejection (checked in-process) ends the run."""
    keygen = shutil.which("ssh-keygen")
    assert keygen, "ssh-keygen is installed by the test command"
    ca, user = tmp_path / "ca", tmp_path / "user"
    for key in (ca, user):
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    subprocess.run(
        [keygen, "-q", "-s", str(ca), "-I", "alice", "-n", "alice", f"{user}.pub"], check=True
    )
    allowed = tmp_path / "allowed_signers"
    bob_pub = (KEYS / "bob.pub").read_text().split()
    dave_pub = Path(f"{signers['dave']}.pub").read_text().split()
    allowed.write_text(
        f"alice cert-authority {(tmp_path / 'ca.pub').read_text().strip()}\n"
        f"bob {bob_pub[0]} {bob_pub[1]}\n"
        f'dave namespaces="releasegate-trigger" {dave_pub[0]} {dave_pub[1]}\n'
    )
    setup = make_setup(
        app={"name": "replay-unchecked"},
        production={"approvals": SIGNED},
        top={"allowed_signers": str(allowed)},
    )

    def with_certificate(asked: ApprovalRequest) -> tuple[str, datetime | None]:
        payload = asked.payload("alice", "approve", "", datetime.now(UTC))
        signed = subprocess.run(
            [keygen, "-q", "-Y", "sign", "-n", "releasegate", "-f", f"{user}-cert.pub"],
            input=payload.message(),
            capture_output=True,
            check=True,
        )
        return signed.stdout.decode(), payload.issued_at

    def without_time(asked: ApprovalRequest) -> tuple[str, datetime | None]:
        payload = asked.payload("bob", "approve", "", datetime.now(UTC))
        return sign_ed25519(KEYS / "bob", payload.message()), None

    def rejection(asked: ApprovalRequest) -> tuple[str, datetime | None]:
        payload = asked.payload("bob", "reject", "", datetime.now(UTC))
        return sign_ed25519(KEYS / "bob", payload.message()), payload.issued_at

    steps = [
        Step("alice", signature=with_certificate),
        Step("bob", signature=without_time),
        Step("bob", reject=True, signature=rejection),
    ]
    asked_by_dave = proof("rx", "dave", signers["dave"], app="replay-unchecked")
    reviewers = Reviewers("rx", steps).start()
    monkeypatch.setenv("PATH", "")  # this process's: where the run checks signatures
    with pytest.raises(Blocked, match="rejected by bob"):
        setup.call(deploy, version="rx", actor="dave", proof=asked_by_dave)
    monkeypatch.undo()
    reviewers.join()
    assert refusals(setup) == [
        ("alice", "refused", "unverifiable"),
        ("bob", "refused", "malformed"),
        ("bob", "rejected", None),
    ]
    decisions = setup.records("approval")[::-1]
    assert "ssh-keygen not found" in decisions[0].reason
    assert "issued_at" in decisions[1].reason
