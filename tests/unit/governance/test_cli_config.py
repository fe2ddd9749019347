"""`crossdock config check FILE`: tables for a valid file; one line per error and exit 1 if not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossdock.cli import app

WIDE = {"COLUMNS": "200"}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_the_example_prints_ownership_and_domain_tables_and_exits_0(
    runner: CliRunner, example_path: Path
) -> None:
    result = runner.invoke(app, ["config", "check", str(example_path)], env=WIDE)

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Ownership" in out
    assert "Domains" in out
    for header in ("entity", "attribute", "owner", "conflict rule", "latency target"):
        assert header in out
    rows = [line for line in out.splitlines() if "inventory_availability" in line]
    assert len(rows) == 1
    assert "event" in rows[0]
    assert "1m" in rows[0]
    assert "99.5 %" in rows[0]
    order_rows = [
        line for line in out.splitlines() if " order " in line and "fulfillment_status" in line
    ]
    assert len(order_rows) == 1
    assert "netsuite" in order_rows[0]
    assert "latest_wins" in order_rows[0]
    assert f"{example_path}: valid" in out


def test_unset_credentials_are_warned_about_without_values(
    runner: CliRunner, example_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOPIFY_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("SHOPIFY_WEBHOOK_SECRET", "whsec_do_not_print")

    result = runner.invoke(app, ["config", "check", str(example_path)], env=WIDE)

    assert result.exit_code == 0
    assert "warning: " in result.stderr
    assert "SHOPIFY_ACCESS_TOKEN is not set" in result.stderr
    assert "SHOPIFY_WEBHOOK_SECRET is not set" not in result.stderr
    assert "whsec_do_not_print" not in result.output


def test_an_invalid_file_prints_each_error_on_one_line_and_exits_1(
    runner: CliRunner, write: Callable[..., Path]
) -> None:
    secret = "shpat_inline_value"
    shop = f'kind = "shopify"\nbase_url = "https://shop.example.com"\ntoken = "{secret}"'
    path = write({"systems.shop": shop, "ownership.ordr": 'default_owner = "erp"'})

    result = runner.invoke(app, ["config", "check", str(path)], env=WIDE)

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[:-1] == [
        f"{path}: systems.shop.token: secret written inline; reference an environment variable "
        'instead, e.g. "env:SHOP_TOKEN"',
        f"{path}: ownership.ordr: unknown entity 'ordr' (entities: customer, product, price, "
        "inventory_level, order, shipment, invoice, return)",
    ]
    assert lines[-1] == f"{path}: invalid (2 problems)"
    assert secret not in result.output
    assert "Ownership" not in result.stdout


def test_a_toml_syntax_error_exits_1_with_one_line(
    runner: CliRunner, write: Callable[..., Path]
) -> None:
    path = write(text="[systems.shop\nkind = 1\n")

    result = runner.invoke(app, ["config", "check", str(path)])

    assert result.exit_code == 1
    first, summary = result.stderr.splitlines()
    assert first.startswith(f"{path}: line 1, column ")
    assert "invalid TOML" in first
    assert summary == f"{path}: invalid (1 problem)"


def test_a_missing_file_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"

    result = runner.invoke(app, ["config", "check", str(path)])

    assert result.exit_code == 1
    assert f"{path}: (file): cannot read the file" in result.stderr
