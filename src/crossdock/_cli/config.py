"""`crossdock config ...`: check a governance file and show what it declares."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from crossdock.canonical import registry
from crossdock.governance import (
    EntityOwnershipConfig,
    Governance,
    GovernanceError,
    format_duration,
    governance_warnings,
    load_governance,
)

app = typer.Typer(help="The governance file (crossdock.toml).", no_args_is_help=True)


@app.callback()
def main() -> None:
    """The governance file (crossdock.toml)."""


@app.command("check")
def check_command(
    file: Annotated[
        Path, typer.Argument(help="The governance file to check, e.g. crossdock.toml.")
    ],
) -> None:
    """Validate FILE; show its systems, ownership and domains, or its errors (exit 1)."""
    try:
        governance = load_governance(file)
    except GovernanceError as exc:
        # Plain lines on stderr: one problem per line, never wrapped, never styled.
        for line in exc.errors:
            typer.echo(line, err=True)
        count = len(exc.errors)
        typer.echo(f"{file}: invalid ({count} problem{'s' if count != 1 else ''})", err=True)
        raise typer.Exit(1) from None
    console = Console(highlight=False)
    console.print(_systems_table(governance))
    console.print(_ownership_table(governance))
    console.print(_domains_table(governance))
    flows = ", ".join(governance.enabled_flows()) or "none"
    console.print(f"Flows that run: {escape(flows)}")
    for line in governance_warnings(governance):
        typer.echo(f"warning: {line}", err=True)
    typer.echo(f"{file}: valid")


def _systems_table(governance: Governance) -> Table:
    table = Table(title="Systems", title_justify="left")
    for column in ("system", "kind", "active", "base URL", "rate budgets", "credentials"):
        table.add_column(column, overflow="fold")
    for name, system in governance.systems.items():
        budgets = ", ".join(f"{key} ({budget.kind})" for key, budget in system.rate_budgets.items())
        credentials = ", ".join(ref.variable for ref in system.credentials.values())
        table.add_row(
            escape(name),
            system.kind,
            "yes" if system.active else "no",
            escape(system.base_url),
            escape(budgets or "-"),
            escape(credentials or "-"),
        )
    return table


def _ownership_table(governance: Governance) -> Table:
    table = Table(title="Ownership", title_justify="left")
    for column in ("entity", "attribute", "owner", "conflict rule"):
        table.add_column(column)
    policy = governance.ownership_policy()
    for entity in registry.ENTITY_NAMES:
        config = governance.ownership.get(entity)
        for attribute, rule in policy.entities[entity].items():
            owner = rule.owner or "(no owner)"
            if config is not None and rule.owner is not None and _by_default(config, attribute):
                owner = f"{owner} (default)"
            table.add_row(entity, escape(attribute), escape(owner), rule.rule.value)
        table.add_section()
    return table


def _by_default(config: EntityOwnershipConfig, attribute: str) -> bool:
    return not any(attribute in owned for owned in config.owners.values())


def _domains_table(governance: Governance) -> Table:
    table = Table(title="Domains", title_justify="left")
    for column in ("domain", "pattern", "latency target", "objective", "error budget", "entities"):
        table.add_column(column)
    for name, domain in governance.domains.items():
        table.add_row(
            escape(name),
            domain.pattern.value,
            format_duration(domain.latency_target),
            f"{domain.objective_percent:g} %",
            f"{domain.error_budget_percent:g} %",
            escape(", ".join(domain.entities)),
        )
    return table
