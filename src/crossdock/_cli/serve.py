"""`crossdock serve --config FILE`: run the API and the workers until SIGTERM or SIGINT."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crossdock.api import IngressSettings
from crossdock.api.ingress import DEFAULT_MAX_BODY_BYTES
from crossdock.backbone import StoreError
from crossdock.governance import GovernanceError, load_governance
from crossdock.hub import Hub, HubConfigError, run_hub
from crossdock.hub.server import run_event_loop
from crossdock.observability import configure_logging

app = typer.Typer(help="Run the hub: the HTTP API (webhook ingress) and the workers.")


@app.callback(invoke_without_command=True)
def serve_command(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The governance file, e.g. crossdock.toml.")
    ],
    host: Annotated[
        str | None, typer.Option("--host", help="Listen address (default: \\[hub] api_host).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=0, max=65535, help="Port (default: \\[hub] api_port)."),
    ] = None,
    max_body_bytes: Annotated[
        int, typer.Option("--max-body-bytes", min=1, help="Largest webhook body accepted.")
    ] = DEFAULT_MAX_BODY_BYTES,
    log_level: Annotated[str, typer.Option("--log-level", help="Lowest log level.")] = "info",
) -> None:
    """Serve POST /hooks/{system}, /healthz, /readyz, /metrics and /v1/orders/{id}."""
    configure_logging(level=log_level)
    try:
        governance = load_governance(config)
    except GovernanceError as exc:
        for line in exc.errors:
            typer.echo(line, err=True)
        raise typer.Exit(1) from None
    hub = Hub(
        governance, host=host, port=port, ingress=IngressSettings(max_body_bytes=max_body_bytes)
    )
    try:
        run_event_loop(run_hub(hub))
    except (HubConfigError, StoreError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
