"""A run that asks to go through a freeze: the override as the run established it (who,
proven how, since when), for the freeze gate to judge (`policy.break_glass`)."""

from __future__ import annotations

from dataclasses import replace

from releasegate.policy.break_glass import Override
from releasegate.tasks.context import RunContext
from releasegate.trigger import TriggerProof


def asking_to_override(
    ctx: RunContext, reason: str, proof: TriggerProof | None, *, rollback: bool = False
) -> RunContext:
    """`ctx` for a run asking to override a freeze with `reason`. The proof kind is the one
    the run established (`tasks.trigger.establish`); the signing time counts only when the
    signature held."""
    trigger = ctx.trigger
    assert trigger is not None, "the trigger is established before anything else"
    signed = proof is not None and trigger.proof == "signed"
    override = Override(
        reason=reason,
        actor=trigger.actor,
        proof=trigger.proof,
        issued_at=proof.issued_at if signed and proof is not None else None,
        actor_groups=tuple(
            g for g, members in ctx.config.groups.items() if trigger.actor in members
        ),
        rollback=rollback,
    )
    return replace(ctx, override=override)
