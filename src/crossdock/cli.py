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
    # One line per command group; each module owns its commands.
    from crossdock._cli import config, schema

    app.add_typer(config.app, name="config")
    app.add_typer(schema.app, name="schema")
    from crossdock._cli import sandbox

    app.add_typer(sandbox.app, name="sandbox")
    from crossdock._cli import db

    app.add_typer(db.app, name="db")
    from crossdock._cli import serve

    app.add_typer(serve.app, name="serve")
    from crossdock._cli import demo

    app.add_typer(demo.app, name="demo")
    from crossdock._cli import order

    app.add_typer(order.app, name="order")


_register()
