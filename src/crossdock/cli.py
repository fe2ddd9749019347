"""The `crossdock` command line: one typer app; each command group lives in `crossdock._cli`."""

from __future__ import annotations

import typer

from crossdock.__about__ import __version__

app = typer.Typer(
    name="crossdock",
    help="Crossdock: the retail integration hub.",
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"crossdock {__version__}")
        raise typer.Exit


@app.callback()
def main(
    version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        callback=_print_version,
        is_eager=True,
    ),
) -> None:
    """Crossdock: the retail integration hub."""


def _register() -> None:
    # One place lists every command group; each module under crossdock._cli owns its commands.
    from crossdock._cli import bus, config, db, demo, order, sandbox, schema, serve

    for name, group in (
        ("config", config.app),
        ("schema", schema.app),
        ("db", db.app),
        ("sandbox", sandbox.app),
        ("serve", serve.app),
        ("demo", demo.app),
        ("order", order.app),
        ("bus", bus.app),
    ):
        app.add_typer(group, name=name)


_register()
