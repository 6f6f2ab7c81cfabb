"""Terminal views: the tables `releasegate` and the demo print. Nothing under flows/ or
tasks/ imports this module (the Prefect layer publishes artifacts, not tables)."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from releasegate.approval import ApprovalRequest
from releasegate.audit.copy import Copied
from releasegate.audit.record import AuditRecord
from releasegate.policy.figures import Report
from releasegate.policy.quarantine import Quarantine


def quarantine_table(rows: list[Quarantine]) -> Table:
    """Quarantined versions as a table for the terminal."""
    table = Table("since (UTC)", "env", "version", "digest", "rolled back by", "run")
    for column in table.columns:
        column.no_wrap = True
    table.add_column("reason", overflow="fold")
    for q in rows:
        table.add_row(
            f"{q.since:%Y-%m-%d %H:%M}",
            q.environment,
            q.version,
            q.artifact[:19],
            q.by,
            q.rollback_run or "",
            escape(q.reason),
        )
    return table


def history_table(rows: list[AuditRecord]) -> Table:
    """Records as a table for the terminal."""
    table = Table("when (UTC)", "env", "kind", "version", "status", "actor", "approvers")
    for column in table.columns:
        column.no_wrap = True
    table.add_column("reason", overflow="fold")
    for r in rows:
        style = {
            "succeeded": "green",
            "failed": "red",
            "started": "yellow",
            "interrupted": "magenta",
        }.get(r.status, "")
        table.add_row(
            f"{r.finished_at or r.started_at:%m-%d %H:%M:%S}",
            r.environment,
            r.kind,
            r.version or "",
            f"[{style}]{r.status}[/]" if style else r.status,
            r.who(),
            ", ".join(r.approvers),
            r.reason or "",
        )
    return table


def status_table(report: dict[str, dict[str, Any]]) -> Table:
    """`environment_status` as a table for the terminal: what the target serves, and where
    the audit trail disagrees with it or a change has no outcome yet."""
    table = Table("environment", "url", "version", "digest", "live", "last change")
    table.add_column("trail", overflow="fold")
    for name, row in report.items():
        notes = []
        if not row["agrees"]:
            notes.append(
                f"[red]DISAGREES[/]: the trail's last good change is "
                f"{row['recorded_version'] or 'none'} ({(row['recorded_digest'] or '-')[:19]})"
            )
        if row["unfinished"]:
            notes.append(f"[yellow]unfinished[/]: {escape(row['unfinished'])}")
        if drift := row.get("drift"):
            notes.append(
                f"[red]drift[/] recorded: serves {drift['live']['version'] or 'nothing'}, "
                f"should be {drift['expected']['version'] or 'nothing'}, first seen "
                f"{drift['first_seen'][:19].replace('T', ' ')} UTC"
            )
        train = row.get("release_train")
        table.add_row(
            f"{name}\n(train: {escape(train)})" if train else name,
            row["url"],
            row["version"] or "-",
            (row["digest"] or "-")[:19],
            "yes" if row["live"] else "no",
            row["last_change"] or "-",
            "; ".join(notes) or "agrees",
        )
    return table


def awaiting_lines(ui: str | None, report: dict[str, dict[str, Any]]) -> list[str]:
    """Where the Prefect UI is, and a direct link to each run waiting for approval."""
    if ui is None:
        return ["Prefect UI: no Prefect server is up (`releasegate demo` or a deploy starts one)"]
    lines = [f"Prefect UI: {ui}"]
    for name, row in report.items():
        for run in row["awaiting_approval"] or []:
            needs = ", ".join(f"{n} more from {g}" for g, n in run["still_needed"].items())
            lines.append(f"{name} {run['version']} waits for approval ({needs}): {run['url']}")
    return lines


def pending_table(requests: list[ApprovalRequest]) -> Table:
    """Runs waiting for a decision, and what each still needs."""
    table = Table("run", "environment", "version", "digest", "triggered by", "still needed")
    for r in requests:
        needs = ", ".join(f"{n} from {g}" for g, n in r.missing.items())
        who = f"{r.actor} ({r.actor_proof})"
        table.add_row(r.flow_run_id, r.environment, r.version, r.digest[:19], who, needs)
    return table


def copy_table(done: list[Copied]) -> Table:
    """What `releasegate audit copy` did, per environment."""
    table = Table("environment", "records", "copied", "already there", "head", "source tail")
    for c in done:
        tail = "[red]BROKEN[/red]" if c.broken else "unwitnessed" if c.unwitnessed else "witnessed"
        head = "-" if c.head is None else f"#{c.head}"
        table.add_row(c.environment, str(c.records), str(c.copied), str(c.present), head, tail)
    return table


def report_tables(report: Report) -> list[Table]:
    """`releasegate report`: one table of figures per environment."""
    tables = []
    for figures in report.environments:
        table = Table(
            "figure",
            "value",
            title=f"{figures.environment}: {figures.since:%Y-%m-%d %H:%M} to "
            f"{figures.until:%Y-%m-%d %H:%M} UTC",
            title_justify="left",
        )
        for label, text in figures.say():
            style = "yellow" if text.startswith(("no data", "unknown")) else ""
            table.add_row(label, f"[{style}]{escape(text)}[/]" if style else escape(text))
        tables.append(table)
    return tables
