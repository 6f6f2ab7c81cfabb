"""Break-glass through the real flows: a deploy through a freeze needs a signed request and
the break-glass approvers; a rollback during a freeze is allowed to who the rule names,
proven by a signed request, after its signed approvals; each override is recorded, shown
in history and notified."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from releasegate.errors import Blocked
from releasegate.flows.deploy import deploy
from releasegate.flows.rollback import rollback
from releasegate.request import signed
from releasegate.signing.trigger import Asked
from tests.flows.conftest import serving
from tests.flows.test_gates_and_approvals import iso
from tests.support.inbox import Inbox
from tests.support.people import KEYS, approve_all, pinned_app, proof


def frozen_now() -> list[dict[str, str]]:
    now = datetime.now(UTC)
    until = now + timedelta(hours=4)
    return [{"from": iso(now - timedelta(hours=1)), "until": iso(until), "reason": "launch week"}]


def test_a_deploy_through_a_freeze_needs_a_signed_override_and_the_break_glass_approvers(
    make_setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = Inbox()
    monkeypatch.setenv("RELEASEGATE_TEST_NOTIFY", f"json://127.0.0.1:{inbox.port}/rg")
    setup = make_setup(
        production={
            "freeze": frozen_now(),
            "break_glass": {"required": 1, "from": "release-managers", "lasts": "30m"},
            "notify": [{"env": "RELEASEGATE_TEST_NOTIFY", "events": ["overridden"]}],
        },
        top={"allowed_signers": str(KEYS / "allowed_signers")},
    )
    try:
        # Typed, not signed: the override proves nothing and the freeze holds.
        code, out = setup.cli("deploy", "v1", "--as", "dave", "--override-freeze", "hotfix")
        flat = " ".join(out.split())
        assert code == 3 and "launch week" in flat and "needs a signed request" in flat
        assert setup.records("gate")[0].details["stage"] == "at run start"

        why = "CVE-2026-1234 hotfix"
        reviewers = approve_all("v1", "alice")
        setup.call(
            deploy,
            version="v1",
            actor="dave",
            override_freeze=why,
            proof=proof("v1", reason=why),
        )
        approval = reviewers.join()[0]
        assert serving(setup.urls["production"]) == "v1"
        assert approval.signed and "release-managers" in approval.missing
        gates = [(g.details["stage"], g.status) for g in setup.records("gate")]
        assert gates == [
            ("before rollout", "overridden"),
            ("before approvals", "overridden"),
            ("at run start", "overridden"),
            ("at run start", "blocked"),  # the typed attempt
        ]
        assert f"break-glass by dave (signed): {why}" in (setup.records("gate")[0].reason or "")
        done = setup.records("deploy")[0]
        assert done.reason == f"freeze override asked: {why}" and done.approvers == ["alice"]
        code, out = setup.cli("history", "production", "--all", "--json")
        assert any(h["status"] == "overridden" for h in json.loads(out))
        notice = inbox.wait_for(lambda m: "freeze overridden" in m["title"])
        assert "dave (signed)" in notice["message"]
    finally:
        inbox.close()


def rollback_request(reason: str, actor: str = "carol") -> Any:
    asked = Asked(request="rollback", environment="production", reason=reason)
    return signed(asked, actor, pinned_app(), KEYS / actor)


def test_a_rollback_during_a_freeze_is_for_who_the_rule_names_proven_and_approved(
    make_setup,
) -> None:
    open_ = make_setup(top={"allowed_signers": str(KEYS / "allowed_signers")})
    open_.call(deploy, version="v1", actor="dave")
    open_.call(deploy, version="v2", actor="dave")
    frozen = make_setup(
        name="frozen.toml",
        urls=open_.urls,
        production={
            "freeze": frozen_now(),
            "break_glass": {"who": "release-managers", "required": 1, "from": "release-managers"},
        },
        top={"allowed_signers": str(KEYS / "allowed_signers")},
    )
    # Claimed (typed) by a member: refused, nothing changes.
    with pytest.raises(Blocked, match="needs a signed request"):
        frozen.call(rollback, environment="production", reason="v2 errors", actor="carol")
    assert serving(open_.urls["production"]) == "v2"
    # Signed by dave, who is not in the group the rule names: refused.
    with pytest.raises(Blocked, match="dave may not break the glass here"):
        frozen.call(
            rollback, environment="production", reason="v2 errors", actor="dave",
            proof=rollback_request("v2 errors", "dave"),
        )  # fmt: skip
    # Signed by carol: one signed approval from another release manager, then the rollback.
    reviewers = approve_all("v1", "bob")
    restored = frozen.call(
        rollback, environment="production", reason="v2 errors", actor="carol",
        proof=rollback_request("v2 errors"),
    )  # fmt: skip
    reviewers.join()
    assert restored == "v1" and serving(open_.urls["production"]) == "v1"
    done = frozen.records("rollback")[0]
    assert done.reason == "break-glass during a freeze: v2 errors" and done.approvers == ["bob"]
    assert done.actor == "carol" and done.actor_proof == "signed"
    gate = frozen.records("gate")[0]
    assert gate.status == "overridden" and gate.details["stage"] == "before rollback"
