"""`releasegate report`: the dashboard's figures, computed by streaming the audit trail.

Each environment's chain is read once, oldest first (and the quarantine chain for its
quarantines), through the store's streaming read (`AuditStore.chain`), and fed record by
record to the pure observer and tally (`policy/observations.py`, `policy/figures.py`): the
records are never held, so the memory a report needs does not grow with the trail. The
terminal table is in `views`, the HTML page in `report_page`; the markdown here is what
each production change publishes as a Prefect artifact.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from releasegate.audit.store import AuditStore
from releasegate.policy.figures import EnvironmentFigures, Report, Tally
from releasegate.policy.observations import Observer, quarantines
from releasegate.policy.quarantine import QUARANTINE


def environment_figures(
    store: AuditStore, environment: str, *, since: datetime, until: datetime
) -> EnvironmentFigures:
    """One environment's figures over [since, until]."""
    observer, tally = Observer(), Tally(environment, since, until)
    for record in store.chain(environment):
        tally.add(observer.feed(record))
    # Quarantines are kept in a chain of their own, every environment's (policy.quarantine).
    tally.add(quarantines(store.chain(QUARANTINE), environment))
    return tally.figures(trail_start=observer.first, unrestored_since=observer.failing_since)


def build(
    store: AuditStore, environments: Iterable[str], *, since: datetime, now: datetime
) -> Report:
    """The figures of each of `environments` from `since` to `now`."""
    return Report(
        generated_at=now,
        since=since,
        environments=[
            environment_figures(store, env, since=since, until=now) for env in environments
        ],
    )


def markdown(report: Report) -> str:
    """The report as markdown: one table per environment (the Prefect artifact)."""
    lines = [
        f"# Deployment figures since {report.since:%Y-%m-%d %H:%M} UTC",
        "",
        f"Computed from the audit trail at {report.generated_at:%Y-%m-%d %H:%M:%S} UTC "
        "(`releasegate report`).",
    ]
    for figures in report.environments:
        lines += ["", f"## {figures.environment}", "", "| figure | value |", "|---|---|"]
        lines += [f"| {label} | {_cell(text)} |" for label, text in figures.say()]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")
