"""Break-glass as data: who may go through a freeze, proven how, for how long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from releasegate import config
from releasegate.errors import ConfigError
from releasegate.policy.break_glass import BreakGlass, Override, holds
from releasegate.policy.gates import Facts, freeze_gate
from tests.policy.test_gates import env

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
FROZEN = [{"from": "2026-11-27T00:00:00Z", "until": "2026-11-28T00:00:00Z", "reason": "launch"}]
RULE = BreakGlass.model_validate({"who": "oncall", "required": 1, "from": "leads", "lasts": "1h"})


def override(**given: Any) -> Override:
    base: dict[str, Any] = {
        "reason": "hotfix",
        "actor": "olga",
        "proof": "signed",
        "issued_at": NOW - timedelta(minutes=5),
        "actor_groups": ("oncall",),
    }
    return Override(**(base | given))


@pytest.mark.parametrize(
    ("rule", "asked", "through", "says"),
    [
        (RULE, override(), True, "break-glass by olga (signed): hotfix"),
        (RULE, override(proof="claimed", issued_at=None), False, "needs a signed request"),
        (RULE, override(proof="claimed", rollback=True), False, "releasegate rollback ENV"),
        (BreakGlass(), override(proof="claimed", rollback=True), True, "olga (claimed)"),
        (BreakGlass(), override(proof="claimed"), False, "--override-freeze REASON --sign"),
        (RULE, override(actor_groups=()), False, "olga may not break the glass here"),
        (
            RULE,
            override(issued_at=NOW - timedelta(minutes=61)),
            False,
            "lapsed at 2026-11-27 11:59",
        ),
    ],
    ids=[
        "signed-member",
        "typed",
        "typed-rollback-named-group",
        "typed-rollback-default",
        "typed-deploy-default",
        "not-in-group",
        "lapsed",
    ],
)
def test_who_may_break_the_glass(
    rule: BreakGlass, asked: Override, through: bool, says: str
) -> None:
    passed, why = holds(rule, asked, NOW)
    assert passed is through and says in why


def test_the_freeze_gate_lets_a_holding_override_through_and_says_so() -> None:
    rules = env(freeze=FROZEN, break_glass={"who": "oncall"})
    facts = Facts(now=NOW, branch="main", digest="sha256:x", override=override())
    result = freeze_gate(rules, facts)
    assert result.passed and result.overridden and "launch" in result.reason
    assert result.message().startswith("freeze: OVERRIDDEN (deployments are frozen: launch")
    refused = freeze_gate(rules, facts.model_copy(update={"override": override(actor_groups=())}))
    assert not refused.passed and not refused.overridden and "may not break" in refused.reason
    # Outside a freeze, an override changes nothing and is not recorded as one.
    quiet = freeze_gate(env(break_glass={"who": "oncall"}), facts)
    assert quiet.passed and not quiet.overridden


def test_the_break_glass_approvals_add_to_the_environments_own() -> None:
    base = env(approvals={"required": 2, "from": "leads"}).approvals
    merged = RULE.approvals(base)
    assert merged is not None and merged.signed
    assert [(r.required, r.group) for r in merged.rules] == [(2, "leads"), (1, "leads")]
    alone = RULE.approvals(None)
    assert alone is not None and alone.signed and alone.prevent_self_review
    assert BreakGlass().approvals(base) == base


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ('{ who = "nobody" }', "break_glass: no group 'nobody'"),
        ("{ required = 1 }", "required approvals need 'from'"),
        ('{ required = 3, from = "leads" }', "can never be given"),
        ('{ required = 1, from = "leads" }', "signed break-glass approvals need allowed_signers"),
    ],
)
def test_a_break_glass_rule_that_cannot_work_fails_at_load(tmp_path, rule: str, says: str) -> None:
    path = tmp_path / "releasegate.toml"
    path.write_text(
        '[app]\nname = "webapp"\n[groups]\nleads = ["ann", "ben", "cy"]\n'
        f'[environments.production]\nurl = "http://127.0.0.1:18081"\nbreak_glass = {rule}\n'
    )
    with pytest.raises(ConfigError, match=says):
        config.load(path)
