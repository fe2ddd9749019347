"""`crossdock bus tail`: follow the canonical events a hub publishes to NATS JetStream."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from crossdock.bus import DEFAULT_PREFIX, BusUnavailable

app = typer.Typer(help="Follow the canonical events the hub publishes on its bus.")


async def tail_events(url: str, consumer: str, filter_subject: str, count: int, wait: float) -> int:
    """Print events of `filter_subject` as JSON lines for `consumer`; return how many."""
    from crossdock.bus.nats import JetStreamBus

    bus = await JetStreamBus.connect(url)
    shown = 0
    try:
        while count <= 0 or shown < count:
            batch = await bus.pull(
                consumer, filter_subject=filter_subject, batch=100, wait_seconds=wait
            )
            if not batch and count > 0:
                break  # a bounded tail ends when the bus goes quiet
            for message in batch:
                event = message.event
                line = {
                    "seq": message.sequence,
                    "type": event.type,
                    "subject": event.subject,
                    "source": event.source,
                    "time": event.time.isoformat(),
                    "id": event.id,
                    "correlationid": event.correlationid,
                }
                typer.echo(json.dumps(line, ensure_ascii=False))
                await message.ack()
                shown += 1
                if 0 < count <= shown:
                    break
    finally:
        await bus.close()
    return shown


@app.command("tail")
def tail(
    url: Annotated[str, typer.Option(help="The NATS server (the bus_url of the hub table).")] = (
        "nats://127.0.0.1:4222"
    ),
    events: Annotated[
        str, typer.Option("--filter", help="Event types to follow: order.> or shipment.*")
    ] = ">",
    consumer: Annotated[
        str, typer.Option(help="A durable consumer name: a second tail resumes where it left.")
    ] = "crossdock-tail",
    count: Annotated[int, typer.Option(help="Stop after this many events (0: follow).")] = 0,
    wait: Annotated[float, typer.Option(help="Seconds to wait for each batch.")] = 2.0,
) -> None:
    """Print each published event as one JSON line, acknowledging it for CONSUMER."""
    try:
        asyncio.run(tail_events(url, consumer, f"{DEFAULT_PREFIX}.{events}", count, wait))
    except BusUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
