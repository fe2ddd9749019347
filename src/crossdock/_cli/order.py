"""`crossdock order show ID`: an order's timeline across systems, from the hub's store."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from crossdock.api.timeline import order_timeline
from crossdock.backbone import URL_VARIABLE, StoreError, store_from_url
from crossdock.governance import GovernanceError, SystemKind, load_governance

app = typer.Typer(help="Look at orders as the hub knows them.")

DEMO_STORE = Path(".crossdock/demo/crossdock.db")


def _sqlite_path(url: str) -> Path | None:
    if url.startswith(("postgresql://", "postgres://")):
        return None
    if url.startswith("sqlite://"):
        return Path(url.removeprefix("sqlite://").removeprefix("/"))
    return Path(url)


def _resolve(config: Path | None, database_url: str | None) -> tuple[str, list[str]]:
    """The store to read and the system names to look ids up under."""
    systems = [str(kind) for kind in SystemKind]
    if database_url:
        return database_url, systems
    if config is not None:
        try:
            governance = load_governance(config)
        except GovernanceError as exc:
            raise typer.BadParameter("\n".join(exc.errors)) from None
        return governance.hub.database_url, list(governance.systems)
    return os.environ.get(URL_VARIABLE) or str(DEMO_STORE), systems


async def _timeline(url: str, order_id: str, systems: Sequence[str]) -> dict[str, Any] | None:
    # A SQLite store is read without its hub lock, so that a running hub (the demo) can be
    # looked at while it runs.
    sqlite = _sqlite_path(url) is not None
    store = store_from_url(url, read_only=True) if sqlite else store_from_url(url)
    await store.start()
    try:
        return await order_timeline(store, order_id, systems)
    finally:
        await store.close()


def _short(value: Any, width: int = 60) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _render(timeline: dict[str, Any], console: Console) -> None:
    console.print(Text.assemble(("Order ", "bold"), (str(timeline["id"]), "bold cyan")))
    console.print(
        f"State: {timeline['state']}  (the latest event; the order flow is not built yet)"
    )
    console.print(f"Subjects: {', '.join(timeline['subjects']) or '-'}")
    console.print(f"Correlation ids: {', '.join(timeline['correlation_ids']) or '-'}")
    if timeline["links"]:
        links = Table(title="Ids in each system")
        links.add_column("system")
        links.add_column("id")
        links.add_column("canonical id")
        for link in timeline["links"]:
            links.add_row(link["system"], link["id"], link["canonical_id"])
        console.print(links)
    else:
        console.print("Ids in each system: none linked yet")
    events = Table(title=f"Events ({len(timeline['events'])})")
    for column in ("#", "time", "type", "source", "subject", "correlation id"):
        events.add_column(column, overflow="fold")
    for event in timeline["events"]:
        events.add_row(
            str(event["position"]),
            str(event["time"]),
            str(event["type"]),
            _short(event["source"], 40),
            _short(event.get("subject"), 40),
            str(event["correlationid"]),
        )
    console.print(events)


@app.command()
def show(
    order_id: Annotated[
        str, typer.Argument(help="Any id of the order: Shopify id, gid, canonical id, ...")
    ],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Read the store this file names.")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="The store's URL or SQLite file (wins over --config)."),
    ] = None,
) -> None:
    """Print an order's state, events, correlation ids and each system's ids.

    Without --config or --database-url it reads CROSSDOCK_DATABASE_URL, else the demo's store
    (.crossdock/demo/crossdock.db).
    """
    url, systems = _resolve(config, database_url)
    path = _sqlite_path(url)
    if path is not None and not path.is_file():
        typer.echo(f"error: no store at {path} (run the demo, or pass --database-url)", err=True)
        raise typer.Exit(1)
    try:
        timeline = asyncio.run(_timeline(url, order_id, systems))
    except (StoreError, OSError) as exc:
        typer.echo(f"error: cannot read the store: {exc}", err=True)
        raise typer.Exit(1) from None
    if timeline is None:
        typer.echo(f"error: no event is known about order {order_id!r}", err=True)
        raise typer.Exit(1)
    _render(timeline, Console())
