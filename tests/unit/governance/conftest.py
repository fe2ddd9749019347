"""Helpers for governance tests: a small valid governance file, edited table by table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from crossdock.canonical import registry

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "crossdock.toml"


def base_tables() -> dict[str, str]:
    """A small, valid governance file as ``{table header: body}``; every entity owned by the ERP."""
    tables = {
        "hub": 'name = "test-hub"',
        "systems.shop": "\n".join(
            [
                'kind = "shopify"',
                'base_url = "https://shop.example.com"',
                'credentials.access_token = "env:SHOP_ACCESS_TOKEN"',
                'rate_budgets.rest = { kind = "leaky_bucket", capacity = 40, leak_per_second = 2 }',
            ]
        ),
        "systems.erp": 'kind = "netsuite"\nbase_url = "https://1234567.suitetalk.api.netsuite.com"',
        "systems.alt_erp": (
            'kind = "businesscentral"\nactive = false\nbase_url = "https://bc.example.com"'
        ),
        "systems.wms": 'kind = "shipstation"\nbase_url = "https://ssapi.shipstation.com"',
        "domains.stock": (
            'pattern = "event"\nlatency_target = "60s"\nentities = ["inventory_level"]'
        ),
        "flows.order_fulfilment": "\n".join(
            [
                'erp = "erp"',
                'channels = ["shop"]',
                'routing = [{ warehouse = "wms" }]',
            ]
        ),
    }
    for entity in registry.ENTITY_NAMES:
        tables[f"ownership.{entity}"] = 'default_owner = "erp"'
    return tables


def render(tables: dict[str, str | None]) -> str:
    """Render tables as TOML; a None body leaves the table out."""
    return "\n\n".join(f"[{header}]\n{body}" for header, body in tables.items() if body is not None)


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write the base file with some tables replaced (None removes one) and return its path."""

    def write(changes: dict[str, str | None] | None = None, *, text: str | None = None) -> Path:
        tables: dict[str, str | None] = dict(base_tables())
        tables.update(changes or {})
        path = tmp_path / "crossdock.toml"
        path.write_text(render(tables) if text is None else text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def example_path() -> Path:
    """The reference retailer's governance file shipped in examples/."""
    return EXAMPLE
