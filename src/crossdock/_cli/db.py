"""`crossdock db ...`: bring the backbone database's schema up to date."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from crossdock.backbone import URL_VARIABLE, StoreError, store_from_url
from crossdock.backbone._sql import latest_version

app = typer.Typer(help="The backbone database (SQLite or PostgreSQL).", no_args_is_help=True)


@app.callback()
def main() -> None:
    """The backbone database (SQLite or PostgreSQL)."""


async def _upgrade(url: str | None) -> tuple[str, int]:
    store = store_from_url(url)
    await store.start()  # start() applies every pending migration
    try:
        return store.dialect, await store.schema_version()
    finally:
        await store.close()


@app.command("upgrade")
def upgrade_command(
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help=(
                f"Database URL (postgresql://... or sqlite:///file.db); default ${URL_VARIABLE}, "
                "else sqlite:///crossdock.db."
            ),
        ),
    ] = None,
) -> None:
    """Apply every pending schema migration (safe to run again)."""
    try:
        dialect, version = asyncio.run(_upgrade(url))
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{dialect} schema at version {version} (latest {latest_version(dialect)})")
