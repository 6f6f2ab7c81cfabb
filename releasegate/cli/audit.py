"""`releasegate audit`: verify the hash chains and signatures, export records."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.markup import escape

from releasegate.cli.common import ConfigOption, err, load, out, outcome

app = typer.Typer(help="The audit trail: verify the hash chains, export records.")


@app.command("verify")
def audit_verify(
    environment: Annotated[str | None, typer.Argument(help="Only this environment.")] = None,
    config: ConfigOption = None,
) -> None:
    """Re-check every hash chain and every approval signature; exit 1 naming each bad record."""
    from releasegate.audit.proofs import verify_signatures
    from releasegate.audit.store import AuditUnavailable
    from releasegate.errors import Failed
    from releasegate.wiring import open_store, signature_verifier

    with outcome():
        settings = load(config)
        store = open_store(settings)
        names = [environment] if environment else store.environments()
        verifier = signature_verifier(settings)
        problems = []
        for name in names:
            problems += store.verify(name)
            if verifier is not None:
                try:
                    problems += verify_signatures(store.chain(name), verifier)
                except AuditUnavailable as exc:
                    problems.append(f"{name}: approval signatures not checked: {exc}")
        for problem in problems:
            err.print(f"[red]BROKEN[/red] {escape(problem)}", highlight=False)
        if problems:
            raise typer.Exit(Failed.exit_code)
        out.print(f"audit trail intact: {', '.join(names) or 'no records'}")


@app.command("export")
def audit_export(
    environment: Annotated[str | None, typer.Argument(help="Only this environment.")] = None,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="One JSON record per line.")] = True,
    config: ConfigOption = None,
) -> None:
    """Stream every record, oldest first per environment, for a SIEM."""
    from releasegate.wiring import open_store

    with outcome():
        store = open_store(load(config))
        for name in [environment] if environment else store.environments():
            for rec in store.chain(name):
                sys.stdout.write(json.dumps(rec.model_dump(mode="json")) + "\n")
