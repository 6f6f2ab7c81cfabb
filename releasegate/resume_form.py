"""What the Resume form of a paused run says beside its fields (the Prefect UI renders it
as markdown), and how to fix each refused decision.

Laid out for a laptop screen: why the last decision was refused (if it was) comes first,
then the facts a reviewer decides on (environment, version, digest, what runs now, the
upstream evidence, who triggered it and how that is known), then one signing recipe for
every reviewer (`signing.payload.sign_recipe`), never one per person.
"""

from __future__ import annotations

from releasegate.approval import ApprovalRequest, Attempt
from releasegate.signing.payload import sign_recipe

PROOFS = {
    "signed": "signed: proven by their SSH key",
    "webhook": "webhook: proven by a verified push delivery",
    "claimed": "claimed: typed, not proven",
}

_RECIPE_FIX = (
    "sign again with the recipe below, with your name, decision and comment exactly as in the form"
)
FIXES = {
    "unsigned": "this run takes signed decisions only: sign with the recipe below and paste "
    "the whole signature into *Signature*",
    "malformed": "paste the whole signature, from `-----BEGIN SSH SIGNATURE-----` to "
    "`-----END SSH SIGNATURE-----`, and the time the recipe printed into *Issued At*, "
    "under a name and comment the input rules allow",
    "bad-signature": f"the signature covers another decision or comment: {_RECIPE_FIX}",
    "wrong-namespace": "sign with `-n releasegate`, as the recipe does (a signature made "
    "for git or for a deploy request approves nothing)",
    "unknown-key": "sign with the key allowed_signers lists for you (`KEY=` in the recipe), "
    "or ask the platform team to add yours",
    "wrong-signer": "that key is someone else's in allowed_signers: sign with your own key, "
    "under your own name",
    "not-allowed": "your allowed_signers entry does not allow approving "
    '(`namespaces="releasegate"`, validity dates): ask the platform team',
    "no-allowed-signers": "the serving host cannot read its allowed_signers: tell the "
    "platform team",
    "unverifiable": "the run could not check the signature: submit again, and tell the "
    "platform team if it happens again",
    "replayed": "a signature answers one pause once: sign this request anew with the "
    "recipe below (it signs the current time and this pause)",
    "before-round": "sign this round's request with the recipe below: a signature made "
    "before the round began answers an earlier one",
    "future": "check your computer's clock (UTC) and sign again: the recipe fills in the "
    "time it signs at",
    "stale": "sign again with the recipe below and submit it right away",
    "not-a-member": "only the members of the approvers' groups can decide",
    "self-review": "whoever triggered a run cannot review it",
    "duplicate": "each reviewer decides once per run",
    "deferred-past-max-age": "give an earlier *Not before*, within the approvals' max_age of "
    "now (an approval older than that never counts), or approve later instead",
}


def fix(attempt: Attempt, eligible: list[str]) -> str:
    """How to get past a refusal, in words for the person who was refused."""
    how = FIXES.get(attempt.code or "", "see the run's log and `releasegate history`")
    if attempt.code in ("not-a-member", "self-review", "duplicate") and eligible:
        how += f": ask {', '.join(eligible)}"
    return how


def refusal(attempt: Attempt, eligible: list[str]) -> str:
    """One line: who was refused, what was wrong, how to fix it (log line and form)."""
    return (
        f"{attempt.reviewer}'s {attempt.decision} at {attempt.at:%H:%M:%S} UTC did not count: "
        f"{attempt.reason} ({attempt.code}). To fix: {fix(attempt, eligible)}."
    )


def describe(request: ApprovalRequest) -> str:
    """The markdown shown beside the Resume form."""
    lines: list[str] = []
    if request.refused is not None:
        lines += [f"> **Refused:** {refusal(request.refused, request.eligible)}", ""]
    needs = ", ".join(f"{n} more from {group}" for group, n in request.missing.items())
    lines += [
        f"### {request.app} {request.version} → {request.environment}",
        "",
        f"- **Digest:** {_wrapped(request.digest)}",
        f"- **Runs now:** {request.serving or 'nothing yet'}",
        f"- **Upstream checks:** {' · '.join(request.smoke) or 'none'}",
        f"- **Triggered by:** {request.actor} ({PROOFS[request.actor_proof]}), who cannot "
        "approve it",
        f"- **Needs:** {needs} (so far: {', '.join(request.approved_by) or 'nobody'}), "
        f"before {request.deadline}",
    ]
    if request.newer:
        lines.append(
            f"- **Newer runs in flight:** {'; '.join(request.newer)} (if one goes live first, "
            "this run ends: it never replaces a newer version)"
        )
    cli = f"`releasegate approve {request.flow_run_id} --as YOUR_NAME`"
    if not request.signed:
        # Signed mode says the same in the recipe's WHEN line (the form is a laptop
        # screen high: tests/browser/test_approval_ui.py).
        later = (
            "To approve now for a rollout later, give *Not before* (UTC, e.g. "
            "`2026-11-27T21:00:00Z`), or add `--not-before 22:00 --tz Europe/Berlin` to the "
            "command: no rollout before then, gates judged then."
        )
        return "\n".join([*lines, "", f"Fill in the form, or from a terminal: {cli}.", later])
    # The recipe takes its own name, decision, comment, deferral and issue time: only the
    # pause shows.
    recipe = sign_recipe(request.payload("your-name", "approve", "", request.opened_at))
    return "\n".join(
        [
            *lines,
            "",
            "**To sign**, run this, then paste the time it prints first into *Issued At* and "
            f"the rest into *Signature*. Or, in one step: {cli}.",
            "```sh",
            recipe,
            "```",
        ]
    )


def _wrapped(digest: str) -> str:
    """The digest in groups of 16 that a narrow dialog can wrap between, so none is cut
    off; the first 12 hex digits (what `status` shows) come first."""
    algorithm, _, hexes = digest.partition(":")
    groups = [hexes[i : i + 16] for i in range(0, len(hexes), 16)]
    return f"`{algorithm}:{groups[0]}` " + " ".join(f"`{g}`" for g in groups[1:])
