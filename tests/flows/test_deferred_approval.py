"""A deferred approval ("approve now, deploy after 22:00") through the real flow: the run
does not roll out before the signed time, and does after it, re-checking gates and approval
age then. The time is the test's: a few seconds ahead."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from releasegate import processes, review
from releasegate.audit.record import AuditRecord
from releasegate.demo import in_background
from releasegate.errors import Blocked
from releasegate.flows.deploy import deploy
from releasegate.signing.keygen import sign
from tests.flows.conftest import serving
from tests.support.people import KEYS, Reviewers, Step, proof

SIGNED = {"required": 1, "from": "release-managers", "timeout": "60s", "signed": True}
SIGNERS = {"allowed_signers": str(KEYS / "allowed_signers")}


def test_a_deferred_approval_deploys_at_its_time_not_before(make_setup) -> None:
    setup = make_setup(production={"approvals": SIGNED}, top=SIGNERS)
    prod = setup.urls["production"]
    run = in_background(setup.call, flow=deploy, version="v1", actor="dave", proof=proof("v1"))
    asked = review.next_request("v1", "production", set(), timeout=60, app=setup.app)
    assert asked is not None
    not_before = (datetime.now(UTC) + timedelta(seconds=8)).replace(microsecond=0)
    _, verdict = review.decide(
        asked.flow_run_id, "alice", key=KEYS / "alice", not_before=not_before
    )
    assert verdict.counts, verdict.reason
    # Approved, and nothing changes until the signed time (watched until a second before
    # it: an approval taking effect at once would have started the rollout long before).
    while datetime.now(UTC) < not_before - timedelta(seconds=1):
        assert not setup.records("deploy"), "rolled out before its time"
        assert not processes.http_ok(f"{prod}/health", timeout=0.3)
        time.sleep(0.2)
    run.result(timeout=90)  # raises what the run raised
    assert serving(prod) == "v1"
    started = next(r for r in setup.records("deploy") if r.status == "started")
    assert started.started_at >= not_before
    approval: AuditRecord = setup.records("approval")[0]
    assert approval.approvals[0].not_before == not_before
    gates = [r for r in setup.records("gate") if r.details["stage"] == "before rollout"]
    assert gates and gates[0].started_at >= not_before  # judged at that moment
    code, out = setup.cli("audit", "verify")  # the signed not-before line re-verifies
    assert code == 0, out


def test_a_deferral_the_signature_does_not_cover_is_refused(make_setup) -> None:
    """The time is inside the signed message: a signature over the undeferred decision,
    submitted with a later not_before (or the reverse), proves nothing."""
    setup = make_setup(production={"approvals": SIGNED}, top=SIGNERS)
    later = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)

    now = datetime.now(UTC).replace(microsecond=0)

    def undeferred_signature(asked: Any) -> str:
        return sign(asked.payload("alice", "approve", "", now).message(), key=KEYS / "alice")

    run = in_background(setup.call, flow=deploy, version="v1", actor="dave", proof=proof("v1"))
    asked = review.next_request("v1", "production", set(), timeout=60, app=setup.app)
    assert asked is not None
    _, verdict = review.decide(
        asked.flow_run_id,
        "alice",
        signature=undeferred_signature(asked),
        issued_at=now,
        not_before=later,
    )
    assert not verdict.counts and verdict.code == "bad-signature", verdict
    Reviewers("v1", [Step("bob", reject=True)]).start().join()
    assert isinstance(run.exception(timeout=60), Blocked)
