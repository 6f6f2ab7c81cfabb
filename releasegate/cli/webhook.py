"""`releasegate webhook serve`: the GitHub push receiver (see `releasegate.receiver`)."""

from __future__ import annotations

from typing import Annotated

import typer

from releasegate.cli.common import ConfigOption, on_prefect, out, outcome
from releasegate.errors import ConfigError

app = typer.Typer(help="The GitHub webhook receiver.", no_args_is_help=True)

MIN_SECRET = 16


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on (put TLS in front).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8484,
) -> None:
    """Receive GitHub push deliveries at POST /webhooks/github and start the deploy of each
    push to a configured branch, its pusher proven by the delivery's signature. The secret
    comes from RELEASEGATE_WEBHOOK_SECRET; without one the receiver does not start."""
    with outcome():
        secret = _secret()  # before anything connects to (or starts) a Prefect server
    with on_prefect(config) as settings:
        import uvicorn

        from releasegate.receiver.app import MAX_HEADERS, PATH, create_app
        from releasegate.receiver.mounts import beside
        from releasegate.receiver.runs import Starter

        starter = Starter(settings.app.name, secret)
        receiver = create_app(settings.webhook, secret, starter, routes=beside(settings))
        out.print(f"receiving GitHub pushes at http://{host}:{port}{PATH}")
        uvicorn.run(
            receiver,
            host=host,
            port=port,
            log_level="info",
            proxy_headers=False,  # addresses in the log are the TLS proxy's, as they are
            h11_max_incomplete_event_size=MAX_HEADERS,
            limit_concurrency=64,
            timeout_keep_alive=5,
        )


def _secret() -> str:
    from releasegate.secret import WEBHOOK_SECRET, webhook_secret

    secret = webhook_secret()
    if secret is None:
        raise ConfigError(
            f"{WEBHOOK_SECRET} is not set: the receiver cannot verify deliveries (set it to "
            "the webhook's secret, e.g. `openssl rand -hex 32`, here and where the flows run)"
        )
    value = secret.reveal()
    if len(value) < MIN_SECRET:
        raise ConfigError(
            f"{WEBHOOK_SECRET} is {len(value)} characters long: use at least {MIN_SECRET} "
            "random characters (`openssl rand -hex 32`)"
        )
    return value
