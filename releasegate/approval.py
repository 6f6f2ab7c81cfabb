"""An approval request: what a paused run asks reviewers to approve, and how to answer.

Shared by the flow (which publishes it beside the pause) and by `releasegate approve`
(which reads it back to know exactly what it is approving).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from releasegate.audit.record import Status
from releasegate.signing.payload import DecisionPayload, sign_command
from releasegate.vocabulary import Decision, ProofKind

REQUEST_PREFIX = "releasegate-request-"
VERDICT_PREFIX = "releasegate-verdict-"
PAUSE_PREFIX = "approval-"


class ApprovalRequest(BaseModel):
    """The facts a decision is bound to, and where the approval stands."""

    model_config = ConfigDict(frozen=True)

    flow_run_id: str
    pause_key: str
    """Which pause of the run this is: each decision answers exactly one."""
    environment: str
    app: str
    version: str
    digest: str
    actor: str
    actor_proof: ProofKind = "claimed"
    signed: bool
    missing: dict[str, int]
    """Per group, how many more distinct approvals are needed."""
    approved_by: list[str] = []
    smoke: list[str] = []
    """One line per upstream smoke check, for the reviewer's eyes."""
    deadline: str = ""
    eligible: list[str] = []
    """Who may still give a decision that counts (signed mode shows each one's command)."""
    serving: str = ""
    """What the environment runs now (or is being changed to), and in which trigger order."""
    newer: list[str] = []
    """Runs triggered after this one that have not finished: they may overtake it."""

    def payload(self, reviewer: str, decision: Decision, comment: str = "") -> DecisionPayload:
        """The exact facts a signed decision binds (raises ValueError on unusable text)."""
        return DecisionPayload(
            decision=decision,
            reviewer=reviewer,
            flow_run_id=self.flow_run_id,
            environment=self.environment,
            app=self.app,
            version=self.version,
            digest=self.digest,
            comment=comment,
        )

    def describe(self) -> str:
        """Markdown shown beside the Resume form in the Prefect UI."""
        needs = ", ".join(f"{n} more from {group}" for group, n in self.missing.items())
        smoke = "\n".join(f"  - {line}" for line in self.smoke) or "  - (no upstream checks)"
        lines = [
            f"## Approve {self.app} {self.version} for **{self.environment}**?",
            "",
            f"- **Environment:** {self.environment}",
            f"- **Version:** {self.version}",
            f"- **Artifact digest:** `{self.digest}`",
            f"- **Triggered by:** {self.actor} ({_PROOFS[self.actor_proof]}; "
            "cannot approve this run)",
            f"- **Runs now:** {self.serving or 'nothing yet'}",
            f"- **Newer runs in flight:** {'; '.join(self.newer) or 'none'} (if one goes live "
            "first, this run ends: it never replaces a newer version)",
            f"- **Still needed:** {needs}",
            f"- **Approved so far:** {', '.join(self.approved_by) or 'nobody'}",
            f"- **Decide before:** {self.deadline}",
            "- **Staging smoke results:**",
            smoke,
            "",
            f"From a terminal: `releasegate approve {self.flow_run_id} --as YOUR_NAME"
            + (" --key ~/.ssh/id_ed25519`" if self.signed else "`")
            + " (add `--reject` to reject).",
        ]
        if self.signed:
            lines += ["", *self._signing_help()]
        return "\n".join(lines)

    def _signing_help(self) -> list[str]:
        out = [
            "### Signed approval",
            "Paste the signature into the form's *signature* field. It covers exactly this "
            "message (for a rejection, `decision: reject`; a comment must be signed too):",
        ]
        for reviewer in self.eligible:
            payload = self.payload(reviewer, "approve")
            out += [
                "",
                f"**{reviewer}**:",
                "```",
                payload.message().decode().rstrip("\n"),
                "```",
                f"`{sign_command(payload, '~/.ssh/id_ed25519')}`",
            ]
        return out


_PROOFS = {
    "signed": "signed: proven by their SSH key",
    "webhook": "webhook: proven by a verified push delivery",
    "claimed": "claimed: typed, not proven",
}


class Verdict(BaseModel):
    """What the run decided about one submitted decision, published beside the pause it
    answered so `releasegate approve` can tell the reviewer (the audit record is the
    record of truth)."""

    model_config = ConfigDict(frozen=True)

    submitted: dict[str, str]
    """The decision exactly as submitted (reviewer, decision, comment, signature)."""
    status: Status
    counts: bool
    code: str | None = None
    reason: str = ""


def request_key(pause_key: str) -> str:
    """The flow-run input key under which a pause's request is published."""
    return f"{REQUEST_PREFIX}{pause_key}"


def verdict_key(pause_key: str) -> str:
    """The flow-run input key under which the verdict on a pause's answer is published."""
    return f"{VERDICT_PREFIX}{pause_key}"
