"""Break-glass: going through a freeze on purpose. Pure: the rule, the override a run asks
for, and whether it holds now.

- A forward deploy asks with `--override-freeze REASON`; the reason is part of the request
  the actor signs (`releasegate deploy --sign`), so only a signed request can override, and
  the break-glass approvals (`required` signed approvals from `from`) are added to the
  environment's own.
- A rollback during a freeze is an override by itself (on-call must be able to act); when
  the environment names `who`, only a signed request by one of them may, and `required`
  signed approvals are asked for first.
- An override holds for `lasts` after the request was signed: a run that waits longer is
  blocked like any other. Each one is recorded (gate status `overridden`, and the change's
  reason), shown in `history`, and notified.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from releasegate.duration import Duration
from releasegate.policy.approvals import ApprovalPolicy, ApprovalRule
from releasegate.vocabulary import ProofKind


class BreakGlass(BaseModel):
    """An environment's break-glass rule (`break_glass = { who = "oncall", required = 1,
    from = "release-managers", lasts = "1h" }`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    who: str | None = None
    """The group whose members may break the glass; None: anyone whose request is signed
    (forward deploys) or anyone at all (rollbacks)."""
    required: int = Field(default=0, ge=0)
    """Signed approvals needed for an override, from `group`."""
    group: str | None = Field(default=None, alias="from")
    lasts: Duration = timedelta(hours=1)

    def approvals(self, base: ApprovalPolicy | None) -> ApprovalPolicy | None:
        """The approvals an override needs: the environment's own plus the break-glass rule
        (signed, self-review prevented), or the environment's own when it asks for none."""
        if not self.required or self.group is None:
            return base
        rule = ApprovalRule(required=self.required, group=self.group)
        if base is None:
            return ApprovalPolicy(rules=(rule,), signed=True, prevent_self_review=True)
        return base.model_copy(update={"rules": (*base.rules, rule), "signed": True})


NO_RULE = BreakGlass()


class Override(BaseModel):
    """A run's request to go through a freeze, as the run established it."""

    model_config = ConfigDict(frozen=True)

    reason: str
    actor: str
    proof: ProofKind
    issued_at: datetime | None = None
    """When the request was signed (None when it was not)."""
    actor_groups: tuple[str, ...] = ()
    """The groups the actor belongs to."""
    rollback: bool = False


def holds(rule: BreakGlass, override: Override, now: datetime) -> tuple[bool, str]:
    """Whether `override` lets the run through a freeze now, and why (or why not)."""
    who = f"{override.actor} ({override.proof})"
    if override.proof != "signed" and (not override.rollback or rule.who is not None):
        how = (
            "releasegate rollback ENV --reason ... --sign"
            if override.rollback
            else ("releasegate deploy VERSION --override-freeze REASON --sign")
        )
        return False, f"break-glass by {who} needs a signed request: `{how}`"
    if rule.who is not None and rule.who not in override.actor_groups:
        return False, f"{override.actor} may not break the glass here (not in {rule.who!r})"
    if override.issued_at is not None and now > override.issued_at + rule.lasts:
        ended = override.issued_at + rule.lasts
        return False, f"the break-glass override by {who} lapsed at {ended:%Y-%m-%d %H:%M} UTC"
    return True, f"break-glass by {who}: {override.reason}"
