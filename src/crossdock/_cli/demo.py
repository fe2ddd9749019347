"""`crossdock demo`: the simulators, the hub and storefront traffic, with a live view."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console
from rich.live import Live
from rich.text import Text

from crossdock.backbone import StoreError
from crossdock.hub import HubConfigError
from crossdock.hub.demo import (
    Demo,
    DemoError,
    DemoOptions,
    DemoResult,
    DemoSnapshot,
    live_view,
    not_built_note,
    plain_line,
    summary_view,
)
from crossdock.observability import configure_logging

app = typer.Typer(help="Run the demo: every simulator, the hub and storefront traffic.")

_PLAIN_EVERY_S = 2.0


class _Plain:
    """Prints a progress line every couple of seconds (and the last one)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._last = 0.0

    def __call__(self, snap: DemoSnapshot) -> None:
        now = time.monotonic()
        if now - self._last >= _PLAIN_EVERY_S or snap.phase in {"done", "stopped"}:
            self._last = now
            self.console.print(plain_line(snap), highlight=False, soft_wrap=True)


async def _run(options: DemoOptions, live: Live | None, console: Console) -> DemoResult:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def show(snap: DemoSnapshot) -> None:
        assert live is not None
        live.update(live_view(snap))

    demo = Demo(options, on_update=show if live is not None else _Plain(console))
    try:
        return await demo.run(stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _log_stream(data_dir: Path) -> TextIO:
    data_dir.mkdir(parents=True, exist_ok=True)
    return (data_dir / "demo.log").open("a", encoding="utf-8")


@app.callback(invoke_without_command=True)
def demo_command(
    orders: Annotated[
        int | None,
        typer.Option("--orders", min=1, help="Place this many orders, drain, summarise, exit."),
    ] = None,
    rate: Annotated[float, typer.Option("--rate", min=0.01, help="Orders per second.")] = 5.0,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="API port on 127.0.0.1 (0: any free).")
    ] = 8640,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Store, manifest and log (the store is remade).")
    ] = Path(".crossdock/demo"),
    seed: Annotated[int | None, typer.Option("--seed", help="Seed every simulator.")] = None,
    no_live: Annotated[
        bool, typer.Option("--no-live", help="Plain progress lines instead of the live view.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="The demo governance file (default: examples/demo.toml)."),
    ] = None,
    drain_timeout: Annotated[
        float, typer.Option("--drain-timeout", min=1, help="Seconds a bounded demo waits to drain.")
    ] = 60.0,
) -> None:
    """Start every simulator and the hub (SQLite), subscribe webhooks, place orders live.

    Without --orders it runs until Ctrl-C or SIGTERM; with --orders N it stops placing orders
    after N, waits until every delivery is decoded, the order flow is idle and no command waits
    (bounded), stops the hub, prints a summary and exits (1 if not drained).
    """
    console = Console()
    options = DemoOptions(
        orders=orders,
        rate=rate,
        port=port,
        data_dir=data_dir,
        seed=seed,
        config=config,
        drain_timeout_s=drain_timeout,
        export_secrets=True,
    )
    log = _log_stream(data_dir)
    configure_logging(level="info", json=True, stream=log)
    use_live = not no_live and console.is_terminal
    if not use_live:
        console.print(not_built_note(), soft_wrap=True)
    try:
        if use_live:
            starting = Text("Starting the simulators and the hub...")
            with Live(starting, console=console, refresh_per_second=2, screen=False) as live:
                result = asyncio.run(_run(options, live, console))
        else:
            result = asyncio.run(_run(options, None, console))
    except (DemoError, HubConfigError, StoreError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        configure_logging(level="warning")  # the log file closes; later lines go to stderr
        log.close()
    sample = result.order_ids[0] if result.order_ids else None
    console.print(
        summary_view(
            result.snapshot,
            drained=result.drained,
            sample_order=sample,
            interrupted=result.interrupted,
        )
    )
    console.print(f"Log: {data_dir / 'demo.log'}", highlight=False)
    if orders is not None and not result.drained and not result.interrupted:
        raise typer.Exit(1)
