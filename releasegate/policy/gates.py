"""Production gates as data: each gate is a pure function of the environment's rules and
facts gathered beforehand (clock, branch, incident source, upstream deploys).

`evaluate` runs every gate and returns every result; the task layer gathers the facts,
records the results and enforces them. A new gate is one function here plus the fact it
reads (a field of `Facts`, filled in by `releasegate.tasks.gates.gather`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import jmespath
from jmespath.exceptions import JMESPathError, JMESPathTypeError
from pydantic import AwareDatetime, BaseModel, ConfigDict

from releasegate.audit.record import AuditRecord
from releasegate.policy.approvals import ApprovalPolicy
from releasegate.policy.break_glass import NO_RULE, BreakGlass, Override, holds
from releasegate.policy.calendar import Calendar
from releasegate.policy.order import LiveChange
from releasegate.policy.quarantine import Quarantine
from releasegate.policy.rollback import is_deploy_success
from releasegate.redaction import redact_text, redact_url
from releasegate.sources.settings import IncidentCheck
from releasegate.vocabulary import OutdatedPolicy, ProofKind


class GateRules(Protocol):
    """What the gates read of an environment's configuration (`config.Environment`)."""

    @property
    def branches(self) -> Sequence[str]: ...
    @property
    def calendar(self) -> Calendar: ...
    @property
    def incidents(self) -> IncidentCheck | None: ...
    @property
    def requires(self) -> str | None: ...
    @property
    def approvals(self) -> ApprovalPolicy | None: ...
    @property
    def outdated(self) -> OutdatedPolicy: ...
    @property
    def break_glass(self) -> BreakGlass | None: ...


class IncidentReading(BaseModel):
    """What the incident source answered (its JSON, parsed), or why it could not be read."""

    model_config = ConfigDict(frozen=True)

    answer: Any = None
    error: str | None = None


class Facts(BaseModel):
    """Everything the gates judge, gathered before any of them runs."""

    model_config = ConfigDict(frozen=True)

    now: AwareDatetime
    branch: str | None
    digest: str
    """The artifact to be deployed."""
    incidents: IncidentReading | None = None
    """None when the environment reads no incident source."""
    upstream_deploy: AuditRecord | None = None
    """The upstream environment's successful deploy of `digest`, if one was found."""
    version: str = ""
    actor: str = ""
    actor_proof: ProofKind = "claimed"
    """How the run's actor is known (`releasegate.trigger`)."""
    trigger_seq: int | None = None
    """The run's place in the trigger order."""
    live: LiveChange | None = None
    """What the environment runs now, or is being changed to (`policy.order.live_change`)."""
    quarantine: Quarantine | None = None
    """The quarantine keeping `digest` out of the environment, if any."""
    override: Override | None = None
    """The run's request to go through a freeze (break-glass), if it made one."""


class GateResult(BaseModel):
    """One gate's decision. A blocked gate names its rule, why, and until when (if it lifts)."""

    model_config = ConfigDict(frozen=True)

    gate: str
    passed: bool
    rule: str
    reason: str
    until: datetime | None = None
    overridden: bool = False
    """Blocked, and let through by a break-glass override that holds."""

    def message(self) -> str:
        if self.overridden:
            return f"{self.gate}: OVERRIDDEN ({self.reason})"
        if self.passed:
            return f"{self.gate}: passed ({self.reason})"
        until = f" until {self.until:%Y-%m-%d %H:%M %Z}" if self.until else ""
        return f"blocked by {self.gate} gate{until}: {self.reason} [rule: {self.rule}]"


Gate = Callable[[GateRules, Facts], GateResult | None]
"""A gate: its result, or None when the environment does not configure it."""


def branch_gate(env: GateRules, facts: Facts) -> GateResult:
    """Only the listed branches (glob patterns, e.g. "release/*") may deploy; [] allows any."""
    allowed = list(env.branches)
    rule = f"branches = {allowed}"
    if not allowed:
        return GateResult(gate="branch", passed=True, rule=rule, reason="no branch restriction")
    branch = facts.branch
    if branch is not None and any(fnmatchcase(branch, pattern) for pattern in allowed):
        return GateResult(gate="branch", passed=True, rule=rule, reason=f"{branch!r} is allowed")
    shown = "an unknown branch" if branch is None else f"branch {branch!r}"
    return GateResult(gate="branch", passed=False, rule=rule, reason=f"{shown} may not deploy here")


def freeze_gate(env: GateRules, facts: Facts) -> GateResult:
    """Blocked inside any deny window, or outside every allow window when there are any;
    "until" is when deploying actually reopens (shown in the deciding window's zone)."""
    status = env.calendar.status(facts.now)
    if status.open_now:
        allowed = "; ".join(status.reasons)
        reason = f"allowed by: {allowed}" if allowed else "no active window"
        return GateResult(gate="freeze", passed=True, rule="freeze", reason=reason)
    until = status.until.astimezone(ZoneInfo(status.timezone)) if status.until else None
    later = "" if until else f" (not reopening before {status.horizon_end:%Y-%m-%d})"
    reason = f"deployments are frozen: {'; '.join(status.reasons)}{later}"
    rule = "; ".join(status.rules)
    if facts.override is not None:
        through, why = holds(env.break_glass or NO_RULE, facts.override, facts.now)
        if through:
            return GateResult(gate="freeze", passed=True, overridden=True, rule=rule,
                              reason=f"{reason}; {why}", until=until)  # fmt: skip
        reason = f"{reason}; {why}"
    return GateResult(gate="freeze", passed=False, rule=rule, reason=reason, until=until)


def incident_gate(env: GateRules, facts: Facts) -> GateResult | None:
    """Blocked unless the incident source's answer satisfies the configured JMESPath
    condition (`incidents.holds`; by default: no Statuspage incident of a blocking impact).

    Fails closed: when the source cannot be read, or its answer cannot be judged, production
    is not deployed to (nobody should ship into an incident they cannot see), unless the
    environment says `unreadable = "pass"`.
    """
    check = env.incidents
    if check is None:
        return None
    rule = f"incidents from {redact_url(check.url)} must satisfy {check.condition()}"
    reading = facts.incidents or IncidentReading(error="the incident source was not read")
    verdict: object = None
    if reading.error is None:
        try:
            verdict = jmespath.search(check.condition(), reading.answer)
        except JMESPathError as exc:
            reading = IncidentReading(error=_unjudgeable(exc))
        else:
            if not isinstance(verdict, bool):
                shown = type(verdict).__name__ if verdict is not None else "null"
                reading = IncidentReading(error=f"the condition gave {shown}, not true or false")
    if reading.error is not None:
        if check.unreadable == "pass":
            reason = f"cannot tell whether incidents are open ({reading.error}); "
            reason += 'passing as configured (unreadable = "pass")'
            return GateResult(gate="incident", passed=True, rule=rule, reason=reason)
        reason = f"cannot tell whether incidents are open ({reading.error}); failing closed"
        return GateResult(gate="incident", passed=False, rule=rule, reason=reason)
    if verdict:
        return GateResult(gate="incident", passed=True, rule=rule, reason="the condition holds")
    reason = f"open incident: {_named(check.naming(), reading.answer)}"
    return GateResult(gate="incident", passed=False, rule=rule, reason=reason)


MAX_NAMED, MAX_NAME = 10, 200
"""How much of what blocks a message names: a hostile answer cannot flood the trail."""


def _named(expression: str | None, answer: Any) -> str:
    """What blocks, as the `show` expression names it (or "the condition does not hold")."""
    try:
        named = jmespath.search(expression, answer) if expression else None
    except JMESPathError:
        named = None
    items = named if isinstance(named, list) else [] if named is None else [named]
    # Names are text or numbers; each is masked before it is cut, so a credential a server
    # echoes back is never left as a fragment.
    names = [redact_text(str(i))[:MAX_NAME] for i in items if isinstance(i, str | int | float)]
    if not names:
        return "the condition does not hold"
    more = f" (and {len(names) - MAX_NAMED} more)" if len(names) > MAX_NAMED else ""
    return "; ".join(names[:MAX_NAMED]) + more


def _unjudgeable(exc: JMESPathError) -> str:
    """Why the answer cannot be judged, without quoting it (it may echo a credential)."""
    if isinstance(exc, JMESPathTypeError):
        return (
            f"the answer does not have the expected shape: {exc.function_name}() got "
            f"{exc.actual_type}, expected {', '.join(exc.expected_types)}"
        )
    return f"the answer cannot be judged: {type(exc).__name__}"


def requires_gate(env: GateRules, facts: Facts) -> GateResult | None:
    """The exact artifact must have been deployed and verified upstream first."""
    if env.requires is None:
        return None
    upstream, digest = env.requires, facts.digest
    found = facts.upstream_deploy
    passed = found is not None and is_deploy_of(found, digest)
    reason = (
        f"{digest[:19]} passed {upstream}"
        if passed
        else f"{digest[:19]} has not been deployed successfully to {upstream}"
    )
    return GateResult(
        gate="requires", passed=passed, rule=f"requires = {upstream!r}", reason=reason
    )


def actor_gate(env: GateRules, facts: Facts) -> GateResult | None:
    """Self-review prevention with signed approvals means knowing who triggered the run: a
    claimed (typed) actor is blocked unless `approvals.claimed_actor = "allow"`."""
    policy = env.approvals
    if policy is None or not (policy.prevent_self_review and policy.signed):
        return None
    rule = f'approvals.claimed_actor = "{policy.claimed_actor}"'
    who = f"{facts.actor!r} ({facts.actor_proof})"
    if facts.actor_proof != "claimed":
        return GateResult(gate="actor", passed=True, rule=rule, reason=f"{who} is proven")
    if policy.claimed_actor == "allow":
        reason = f"{who} is only claimed; allowed by the rule"
        return GateResult(gate="actor", passed=True, rule=rule, reason=reason)
    reason = (
        f"{who} is only claimed, and self-review prevention needs to know who triggered "
        f"the run: sign the request with your SSH key: `releasegate deploy {facts.version} "
        f"--sign --as {facts.actor} --key ~/.ssh/id_ed25519` (the key listed for "
        f"{facts.actor} in allowed_signers, namespaces including releasegate-trigger)"
    )
    return GateResult(gate="actor", passed=False, rule=rule, reason=reason)


def outdated_gate(env: GateRules, facts: Facts) -> GateResult:
    """A run never replaces a version triggered after its own (live, or being deployed):
    only an explicit rollback goes back. `outdated = "allow"` lets it through."""
    rule = f'outdated = "{env.outdated}"'
    live, ours = facts.live, facts.trigger_seq
    if live is None:
        return GateResult(gate="outdated", passed=True, rule=rule, reason="nothing runs here yet")
    newer = live.trigger_seq is not None and ours is not None and live.trigger_seq > ours
    if not newer:
        reason = f"{facts.version} (trigger #{ours}) is not older than {live.describe()}"
        return GateResult(gate="outdated", passed=True, rule=rule, reason=reason)
    older = f"{facts.version} (trigger #{ours}) is older than {live.describe()}"
    if env.outdated == "allow":
        return GateResult(gate="outdated", passed=True, rule=rule, reason=f"{older}; allowed")
    reason = f"{older}: a run never replaces a newer version; only an explicit rollback goes back"
    return GateResult(gate="outdated", passed=False, rule=rule, reason=reason)


def quarantine_gate(env: GateRules, facts: Facts) -> GateResult:
    """A version rolled back from the environment is not deployed there again until a
    person releases it (`releasegate quarantine release`)."""
    found = facts.quarantine
    if found is None:
        reason = f"{facts.version} is not quarantined here"
        return GateResult(gate="quarantine", passed=True, rule="quarantine", reason=reason)
    reason = (
        f"quarantined: {found.describe()}; to deploy it again: `releasegate quarantine "
        f"release {found.environment} {found.version} --reason ...`"
    )
    return GateResult(gate="quarantine", passed=False, rule="quarantine", reason=reason)


GATES: tuple[Gate, ...] = (
    actor_gate,
    branch_gate,
    freeze_gate,
    incident_gate,
    requires_gate,
    outdated_gate,
    quarantine_gate,
)


def evaluate(env: GateRules, facts: Facts, gates: Sequence[Gate] = GATES) -> list[GateResult]:
    """Every configured gate's result, in order; the run may proceed when all passed."""
    return [result for gate in gates if (result := gate(env, facts)) is not None]


def is_deploy_of(record: AuditRecord, digest: str) -> bool:
    """A successful deploy of exactly this artifact."""
    return is_deploy_success(record) and record.artifact == digest


def upstream_deploy(upstream_newest: Iterable[AuditRecord], digest: str) -> AuditRecord | None:
    """The fact for `requires_gate`: the newest successful deploy of `digest` upstream.
    Stops reading at the first match."""
    return next((r for r in upstream_newest if is_deploy_of(r, digest)), None)
