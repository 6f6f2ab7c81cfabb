"""A release train's run: promote the newest version that passed upstream, not quarantined,
through the rest of the pipeline (gates → approvals → wait timer → rollout → verify), with
the digest upstream verified: nothing is rebuilt. Nothing new: Completed, saying why."""

from __future__ import annotations

from dataclasses import replace

from prefect import flow
from prefect.states import Completed, State

from releasegate import config as configuration
from releasegate.audit.record import release_of
from releasegate.errors import UsageError
from releasegate.flows.deploy import promote as through
from releasegate.signing.trigger import Asked
from releasegate.sources.base import SmokeReport
from releasegate.tasks.audit import publish_summary
from releasegate.tasks.context import RunContext
from releasegate.tasks.promotion import pick
from releasegate.tasks.trigger import establish
from releasegate.trigger import Trigger
from releasegate.vocabulary import EnvironmentName, Name


@flow(name="promote", flow_run_name="promote {environment}")
def promote(environment: EnvironmentName, actor: Name | None = None) -> str | State:
    """Promote into `environment` the newest version that passed the environment it
    requires; what a release train (`schedule` in the configuration) runs, and what a
    quick run of this deployment does by hand. Returns the version promoted.

    The promoted version keeps the place in the trigger order, the actor and the proof of
    the run that built it (that request asked for every environment; the train only chose
    when): self-review prevention still stops its author from approving it.

    Args:
        environment: The environment to promote into (one with `requires`).
        actor: Who starts this run (a schedule: the serving process's RELEASEGATE_ACTOR);
            recorded as a claim on the run's trigger record.
    """
    settings = configuration.load()
    env = settings.environments.get(environment)
    if env is None or env.requires is None:
        promotable = ", ".join(n for n, e in settings.environments.items() if e.requires)
        raise UsageError(f"cannot promote into {environment!r} (promotable: {promotable})")
    asked = Asked(request="promote", environment=environment)
    ctx = establish(RunContext.open(settings), asked, actor, None)
    choice = pick(ctx, environment)
    if choice.origin is None:
        return Completed(message=choice.reason)
    origin = choice.origin
    built = Trigger(
        actor=origin.actor, proof=origin.actor_proof or "claimed", seq=origin.trigger_seq
    )
    run = replace(ctx.triggered(built), branch=origin.branch, commit=origin.commit)
    release = release_of(origin)
    smoke = origin.details.get("smoke")
    upstream = SmokeReport.model_validate(smoke) if smoke is not None else None
    done: list[str] = []
    try:
        for name in settings.stretch(environment):
            upstream = through(run, name, release, upstream)
            done.append(name)
    finally:
        publish_summary(
            settings.app.name,
            f"promote {release.app} {release.version}",
            [
                f"digest `{release.digest}` (verified in {env.requires}; not rebuilt)",
                f"started by {ctx.who}; built for "
                f"{built.who()} from {origin.branch}@{origin.commit or '?'}",
                *(f"skipped {line}" for line in choice.skipped),
                f"live in: {', '.join(done) or 'nowhere'}",
            ],
        )
    return release.version
