"""Running releasegate itself: serve the flows (or set a server up for workers), run the
demo, stop what was started."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from releasegate.cli.common import ConfigOption, load, on_prefect, out, outcome

app = typer.Typer()


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Serve the deploy and rollback flows as Prefect deployments (UI quick runs, push events)."""
    with on_prefect(config) as settings:
        from releasegate import prefect_server, serving
        from releasegate.config import config_path

        out.print(f"serving {', '.join(serving.names(settings))} on {prefect_server.ui_url()}")
        serving.run(config_path(config).resolve(), settings)


@app.command()
def setup(
    config: ConfigOption = None,
    pool: Annotated[
        str, typer.Option(help="The process work pool to create or use.")
    ] = "releasegate",
    checkout: Annotated[
        Path | None,
        typer.Option(help="Where workers find flows/ [default: this installation's]"),
    ] = None,
) -> None:
    """Set the Prefect server up for workers (idempotent): the process work pool, every
    environment's lock, the deploy and rollback deployments. Then run
    `prefect worker start --pool POOL` where RELEASEGATE_CONFIG names this configuration."""
    with on_prefect(config) as settings:
        from releasegate import prefect_server, provision
        from releasegate.config import config_path

        for name in provision.run(settings, pool, checkout.resolve() if checkout else None):
            out.print(f"deployment {name} on work pool {pool}")
        out.print(f"environment locks: {', '.join(settings.environments)}")
        out.print(
            f"next: RELEASEGATE_CONFIG={config_path(config).resolve()} "
            f"prefect worker start --pool {pool}   (Prefect: {prefect_server.ui_url()})"
        )


@app.command()
def demo(config: ConfigOption = None) -> None:
    """Run the whole pipeline locally: v1 and v2 to production with two approvers, then a
    rollback to v1. Starts a local Prefect server if none is running."""
    from releasegate import demo as demo_script

    with outcome():
        demo_script.run(config, out)


@app.command()
def down(config: ConfigOption = None) -> None:
    """Stop everything releasegate started here: apps, proxies, the local Prefect server."""
    from releasegate import prefect_server
    from releasegate.targets.local.target import down as stop_local

    with outcome():
        settings = load(config)
        stopped = stop_local(settings.home)
        if server := prefect_server.stop(settings.home):
            stopped.append(server)
        for line in stopped:
            out.print(f"stopped {line}")
        if not stopped:
            out.print("nothing was running")
