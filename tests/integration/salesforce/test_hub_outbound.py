"""The hub builds the Salesforce connector with its catch-all product settings.

The connector is built the way the hub builds it (`crossdock.hub.outbound`), from a governance
table whose credentials are ``env:`` references, and sends to the simulator on loopback.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from crossdock.backbone.store import Command
from crossdock.canonical import registry
from crossdock.canonical.money import Money
from crossdock.canonical.order import Order, OrderLine, OrderTotals
from crossdock.connectorkit.connector import Connector
from crossdock.connectorkit.http import HttpClient
from crossdock.connectors.salesforce import ORDER_CREATE, CatchAllProductError
from crossdock.governance import parse_governance
from crossdock.hub.outbound import build_outbound
from crossdock.sandbox.kit import RunningServer
from crossdock.sandbox.salesforce import SalesforceSimulator

KEY = "ERP_Id__c"


def _build(
    server: RunningServer, creds: dict[str, Any], http: HttpClient, settings: dict[str, str]
) -> Connector:
    lines = [
        "[hub]",
        'name = "salesforce-outbound-test"',
        "",
        "[systems.crm]",
        'kind = "salesforce"',
        f'base_url = "{server.base_url}"',
        f'settings.login_url = "{creds["token_url"]}"',
        *(f'settings.{name} = "{value}"' for name, value in settings.items()),
        'credentials.client_id = "env:SF_TEST_CLIENT_ID"',
        'credentials.client_secret = "env:SF_TEST_CLIENT_SECRET"',
    ]
    for entity in registry.ENTITY_NAMES:
        lines += ["", f"[ownership.{entity}]", 'default_owner = "crm"']
    environ = {
        "SF_TEST_CLIENT_ID": creds["client_id"],
        "SF_TEST_CLIENT_SECRET": creds["client_secret"],
    }
    governance = parse_governance("\n".join(lines) + "\n")
    return build_outbound(governance, http, {}, environ=environ, required=["crm"])["crm"]


def _custom_line_order() -> Command:
    line = OrderLine(
        line_id="1",
        sku=None,
        title="Gift wrapping",
        quantity=1,
        unit_price=Money(Decimal("4.50"), "EUR"),
    )
    order = Order(
        number="#4400",
        channel="shopify:online",
        currency="EUR",
        lines=[line],
        totals=OrderTotals(total=Money(Decimal("4.50"), "EUR")),
        status="open",
        placed_at=datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
    )
    return Command(
        idempotency_key="crm-order-4400",
        destination="crm",
        kind=ORDER_CREATE,
        payload={
            "order": order.model_dump(mode="json"),
            "order_key": "4400",
            "account": {"field": KEY, "value": "cust-4400"},
        },
    )


async def test_the_default_catch_alls_carry_a_line_without_sku(
    server: RunningServer, creds: dict[str, Any], http: HttpClient, sim: SalesforceSimulator
) -> None:
    connector = _build(server, creds, http, {})
    await connector.perform(
        Command(
            idempotency_key="acc",
            destination="crm",
            kind="customer.upsert",
            payload={
                "customer": {"kind": "business", "account": {"name": "Mila Novak"}},
                "key": {"field": KEY, "value": "cust-4400"},
            },
        )
    )

    result = await connector.perform(_custom_line_order())

    (item,) = sim.org.records["OrderItem"].values()
    product = sim.org.records["Product2"][item["Product2Id"]]
    assert product["ProductCode"] == "CROSSDOCK-CUSTOM"
    assert item["OrderId"] == result["order_id"]


async def test_the_settings_name_the_catch_alls(
    server: RunningServer, creds: dict[str, Any], http: HttpClient
) -> None:
    connector = _build(
        server,
        creds,
        http,
        {"custom_product": "SHOP-CUSTOM", "gift_card_product": "SHOP-GIFT"},
    )

    with pytest.raises(CatchAllProductError) as missing:
        await connector.perform(_custom_line_order())

    assert (missing.value.setting, missing.value.product_code) == ("custom_product", "SHOP-CUSTOM")
    assert getattr(connector, "gift_card_product", None) == "SHOP-GIFT"
