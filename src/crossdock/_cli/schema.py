"""`crossdock schema ...`: the canonical model's JSON Schemas and the event catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crossdock.canonical import events, schemas
from crossdock.canonical.registry import all_versions

app = typer.Typer(help="Canonical schema versions and the event catalogue.", no_args_is_help=True)


@app.command("export")
def export_command(
    directory: Annotated[
        Path, typer.Argument(help="Directory to write the JSON Schema files into.")
    ],
) -> None:
    """Write one JSON Schema per entity version (order.v1.json, ...) and index.json into DIRECTORY.

    Refresh the published copy after a compatible change: crossdock schema export docs/schemas
    """
    written = schemas.export(directory)
    for path in written:
        typer.echo(f"wrote {path}")
    typer.echo(f"{len(written) - 1} schema versions exported to {directory}")


@app.command("check")
def check_command(
    published: Annotated[Path, typer.Argument(help="Directory of a published export.")],
) -> None:
    """Exit 1 when the model breaks a published version (field removed, narrowed or required)."""
    try:
        old = schemas.load_export(published)
    except (OSError, ValueError, KeyError) as exc:
        typer.echo(f"{published}: cannot read the published export: {exc}", err=True)
        raise typer.Exit(2) from None
    current = {name: schemas.entity_schema(name, model) for name, model in all_versions().items()}
    breaks = schemas.compare_exports(old, current)
    for item in breaks:
        typer.echo(str(item), err=True)
    if breaks:
        typer.echo("incompatible changes need a new schema version (e.g. order.v2)", err=True)
        raise typer.Exit(1)
    typer.echo(f"{len(old)} published schema versions are still compatible")


@app.command("events")
def events_command(
    file: Annotated[Path, typer.Argument(help="Markdown file to write, e.g. docs/events.md.")],
) -> None:
    """Write the event catalogue as Markdown into FILE."""
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(events.render_markdown(), encoding="utf-8")
    typer.echo(f"wrote {file} ({len(events.CATALOGUE)} event types)")
