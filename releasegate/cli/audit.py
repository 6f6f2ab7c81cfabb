"""`releasegate audit`: verify the hash chains and signatures, copy and export records."""

from __future__ import annotations

import itertools
import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from releasegate.cli.common import ConfigOption, JsonOption, err, load, out, outcome

if TYPE_CHECKING:  # the audit modules are imported when a command runs, not for --help
    from releasegate.audit.copy import Copied

app = typer.Typer(help="The audit trail: verify the hash chains, copy and export records.")

# How `audit verify` labels each finding (see `audit.store.Finding`).
LABELS = {"broken": "[red]BROKEN[/red]", "unwitnessed": "[yellow]UNWITNESSED[/yellow]"}


@app.command("verify")
def audit_verify(
    environment: Annotated[str | None, typer.Argument(help="Only this environment.")] = None,
    config: ConfigOption = None,
) -> None:
    """Re-check every hash chain, every stored signature (approvals, signed requests) and
    each chain's head against the witness; exit 1 naming each bad record. Streams:
    constant memory at any size."""
    from releasegate.audit.proofs import signature_check
    from releasegate.errors import Failed
    from releasegate.wiring import open_store, signature_verifier

    with outcome():
        settings = load(config)
        store = open_store(settings)
        # Configured environments too: one whose records were all deleted is no longer in
        # the store, but its witness still knows its head.
        names = (
            [environment]
            if environment
            else sorted({*settings.environments, *store.environments()})
        )
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


@app.command("copy")
def audit_copy(
    source: Annotated[str, typer.Argument(help="A folder or s3://bucket/prefix.")],
    destination: Annotated[str, typer.Argument(help="A folder or s3://bucket/prefix.")],
    environment: Annotated[
        str | None, typer.Option("--environment", "-e", help="Only this environment.")
    ] = None,
    json_: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Copy the trail from SOURCE to DESTINATION (file to S3 or back), verifying each record
    before it is written; exit 1 naming the first broken record. A destination holding
    another history is refused (exit 3); run it again to resume an interrupted copy."""
    from releasegate.audit.copy import copy_trail
    from releasegate.audit.proofs import signature_check
    from releasegate.errors import Failed, UsageError
    from releasegate.views import copy_table
    from releasegate.vocabulary import audit_location
    from releasegate.wiring import open_store, signature_verifier

    with outcome():
        settings = load(config)
        for what, spec in (("SOURCE", source), ("DESTINATION", destination)):
            try:
                audit_location(spec)
            except ValueError as exc:
                raise UsageError(f"{what}: {exc}") from None
        src, dst = open_store(settings, source), open_store(settings, destination)
        if src.url == dst.url:
            raise UsageError(f"SOURCE and DESTINATION are the same store: {src.url}")
        names = [environment] if environment else src.environments()
        if not names:
            raise UsageError(f"{src.url} holds no audit records")
        verifier = signature_verifier(settings)
        with err.status(f"Copying {src.url} to {dst.url}…"):
            done = copy_trail(
                src,
                dst,
                names,
                check=signature_check(verifier) if verifier is not None else None,
                notice=lambda f: err.print(f"NOTICE {escape(str(f))}", highlight=False),
            )
        for line in (u for c in done for u in c.unwitnessed):
            err.print(f"{LABELS['unwitnessed']} {escape(line)}", highlight=False)
        if json_:
            summary = {"source": src.url, "destination": dst.url}
            print(json.dumps({**summary, "environments": [_copied(c) for c in done]}, indent=2))
        else:
            out.print(copy_table(done))
        if stopped := next((c for c in done if c.broken), None):
            kept = "nothing" if stopped.head is None else f"#0..#{stopped.head}"
            raise Failed(
                f"{stopped.broken}: copy stopped; {kept} of {stopped.environment} in {dst.url}"
            )


def _copied(c: Copied) -> dict[str, Any]:
    return {
        "environment": c.environment,
        "records": c.records,
        "copied": c.copied,
        "present": c.present,
        "head": c.head,
        "source_tail": "broken" if c.broken else "unwitnessed" if c.unwitnessed else "witnessed",
        "unwitnessed": c.unwitnessed,
        "broken": c.broken or None,
    }


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
