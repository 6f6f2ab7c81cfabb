"""`releasegate audit`: verify the hash chains and signatures, export records."""

from __future__ import annotations

import itertools
import json
import sys
from typing import Annotated

import typer
from rich.markup import escape

from releasegate.cli.common import ConfigOption, err, load, out, outcome

app = typer.Typer(help="The audit trail: verify the hash chains, export records.")

# How `audit verify` labels each finding (see `audit.store.Finding`).
LABELS = {"broken": "[red]BROKEN[/red]", "unwitnessed": "[yellow]UNWITNESSED[/yellow]"}


@app.command("verify")
def audit_verify(
    environment: Annotated[str | None, typer.Argument(help="Only this environment.")] = None,
    config: ConfigOption = None,
) -> None:
    """Re-check every hash chain and every approval signature, and each chain's head against
    the witness; exit 1 naming each bad record. Streams: constant memory at any size."""
    from releasegate.audit.proofs import signature_check
    from releasegate.errors import Failed
    from releasegate.wiring import open_store, signature_verifier

    with outcome():
        settings = load(config)
        store = open_store(settings)
        names = [environment] if environment else store.environments()
        verifier = signature_verifier(settings)
        check = signature_check(verifier) if verifier is not None else None
        findings = [] if environment else list(store.foreign())
        seen: set[str] = set()
        for finding in itertools.chain(findings, *(store.verify(n, check) for n in names)):
            label = LABELS.get(finding.severity, "NOTICE")
            err.print(f"{label} {escape(str(finding))}", highlight=False)
            seen.add(finding.severity)
        if "broken" in seen:
            raise typer.Exit(Failed.exit_code)
        listed = ", ".join(names) or "no records"
        if "unwitnessed" in seen:
            out.print(f"hash chains and signatures intact, tail unwitnessed: {listed}")
        else:
            out.print(f"audit trail intact: {listed}")


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
