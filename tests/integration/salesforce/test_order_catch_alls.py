"""Order lines without a SKU and sold gift cards become items of the catch-all products."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crossdock.backbone.sqlite import SQLiteStore
from crossdock.backbone.store import ClaimedCommand, Command
from crossdock.canonical.money import Money
from crossdock.canonical.order import Order, OrderLine, OrderTotals
from crossdock.connectorkit import PermanentFailureError
from crossdock.connectors.salesforce import (
    DEFAULT_CUSTOM_PRODUCT,
    DEFAULT_GIFT_CARD_PRODUCT,
    ORDER_CREATE,
    CatchAllProductError,
    SalesforceConnector,
    UnknownSkuError,
)
from crossdock.runtime.workers import HandlerResult, WorkerConfig, WorkerPool
from crossdock.sandbox.salesforce import SalesforceSimulator

from .conftest import ConnectorFactory

KEY = "ERP_Id__c"


def _line(
    line_id: str, sku: str | None, title: str, qty: int, price: str, *, gift_card: bool = False
) -> OrderLine:
    return OrderLine(
        line_id=line_id,
        sku=sku,
        title=title,
        quantity=qty,
        unit_price=Money(Decimal(price), "EUR"),
        gift_card=gift_card,
        requires_shipping=not gift_card,
    )


def _command(*lines: OrderLine, key: str = "7701") -> Command:
    total = sum((line.unit_price.amount * line.quantity for line in lines), Decimal("0"))
    order = Order(
        number="#2001",
        channel="shopify:online",
        currency="EUR",
        lines=list(lines),
        totals=OrderTotals(total=Money(total, "EUR")),
        status="open",
        placed_at=datetime(2026, 11, 24, 14, 5, tzinfo=UTC),
    )
    return Command(
        idempotency_key=f"crm-order-{key}",
        destination="salesforce",
        kind=ORDER_CREATE,
        payload={
            "order": order.model_dump(mode="json"),
            "order_key": key,
            "account": {"field": KEY, "value": "cust-31"},
        },
        partition_key=f"order:{key}",
    )


def _product_id(sim: SalesforceSimulator, code: str) -> str:
    found = [p["Id"] for p in sim.org.records["Product2"].values() if p["ProductCode"] == code]
    assert len(found) == 1, (code, found)
    return str(found[0])


def _items(sim: SalesforceSimulator, order_id: str) -> dict[str, dict[str, Any]]:
    return {
        i["Shopify_Line_Item_Id__c"]: i
        for i in sim.org.records["OrderItem"].values()
        if i["OrderId"] == order_id
    }


@pytest.fixture
async def account(connector: SalesforceConnector) -> str:
    result = await connector.upsert("Account", KEY, "cust-31", {"Name": "Ines Albrecht"})
    assert result.id is not None
    return result.id


async def test_custom_lines_and_gift_cards_go_to_the_catch_alls_at_their_own_price(
    connector: SalesforceConnector, sim: SalesforceSimulator, account: str
) -> None:
    command = _command(
        _line("1", "CD-MUG-01", "Crossdock Mug", 2, "12.50"),
        _line("2", None, "Engraving: 'Für Oma'", 1, "7.90"),
        _line("3", None, "Gift Card €50", 2, "50.00", gift_card=True),
    )

    result = await connector.perform(command)

    order = sim.org.records["Order"][result["order_id"]]
    assert (order["StatusCode"], order["AccountId"]) == ("Activated", account)
    assert order["TotalAmount"] == Decimal("132.90")  # 2 x 12.50 + 7.90 + 2 x 50.00
    items = _items(sim, order["Id"])
    assert set(items) == {"7701:1", "7701:2", "7701:3"}
    custom, gift = items["7701:2"], items["7701:3"]
    assert custom["Product2Id"] == _product_id(sim, DEFAULT_CUSTOM_PRODUCT)
    assert (custom["Description"], custom["UnitPrice"], custom["Quantity"]) == (
        "Engraving: 'Für Oma'",
        Decimal("7.90"),
        Decimal(1),
    )
    assert gift["Product2Id"] == _product_id(sim, DEFAULT_GIFT_CARD_PRODUCT)
    assert (gift["Description"], gift["UnitPrice"], gift["Quantity"]) == (
        "Gift Card €50",
        Decimal("50.00"),
        Decimal(2),
    )
    mug = sim.org.records["PricebookEntry"][items["7701:1"]["PricebookEntryId"]]
    assert sim.org.records["Product2"][mug["Product2Id"]]["SKU__c"] == "CD-MUG-01"


async def test_an_order_of_catch_all_lines_only_is_created_once(
    connector: SalesforceConnector, sim: SalesforceSimulator, account: str
) -> None:
    command = _command(_line("9", None, "Custom frame 40x60", 1, "89.00"))

    first = await connector.perform(command)
    again = await connector.perform(command, attempt=2)

    assert again["order_id"] == first["order_id"]
    assert again["created"] is False
    assert len(sim.org.records["Order"]) == 1
    assert len(_items(sim, first["order_id"])) == 1


async def test_a_gift_card_with_a_sku_goes_to_the_gift_card_product(
    connector: SalesforceConnector, sim: SalesforceSimulator, account: str
) -> None:
    # No Product2 has this SKU: the line is a liability, not a product.
    command = _command(_line("4", "GIFT-25", "Gift Card €25", 1, "25.00", gift_card=True))

    result = await connector.perform(command)

    (item,) = _items(sim, result["order_id"]).values()
    assert item["Product2Id"] == _product_id(sim, DEFAULT_GIFT_CARD_PRODUCT)


async def test_an_unknown_real_sku_is_still_refused_next_to_a_custom_line(
    connector: SalesforceConnector, sim: SalesforceSimulator, account: str
) -> None:
    command = _command(
        _line("1", "NOPE-404", "Ghost", 1, "9.99"), _line("2", None, "Engraving", 1, "5.00")
    )

    with pytest.raises(UnknownSkuError) as unknown:
        await connector.perform(command)

    assert unknown.value.skus == ["NOPE-404"]
    assert sim.org.records["Order"] == {}


@pytest.mark.parametrize(
    ("setting", "line"),
    [
        ("custom_product", _line("2", None, "Engraving", 1, "5.00")),
        ("gift_card_product", _line("3", None, "Gift Card €10", 1, "10.00", gift_card=True)),
    ],
)
async def test_a_missing_catch_all_is_a_permanent_error_naming_its_setting(
    make_connector: ConnectorFactory,
    sim: SalesforceSimulator,
    account: str,
    setting: str,
    line: OrderLine,
) -> None:
    connector = make_connector(**{setting: "NO-SUCH-PRODUCT"})

    with pytest.raises(CatchAllProductError) as missing:
        await connector.perform(_command(_line("1", "CD-CAP-01", "Cap", 1, "18.90"), line))

    assert (missing.value.setting, missing.value.product_code) == (setting, "NO-SUCH-PRODUCT")
    assert setting in str(missing.value)
    assert "NO-SUCH-PRODUCT" in str(missing.value)
    assert sim.org.records["Order"] == {}


async def test_without_a_custom_product_a_line_without_sku_is_refused(
    make_connector: ConnectorFactory, sim: SalesforceSimulator, account: str
) -> None:
    connector = make_connector(custom_product=None)

    with pytest.raises(PermanentFailureError, match="line 2 has no SKU and no custom_product"):
        await connector.perform(_command(_line("2", None, "Engraving", 1, "5.00")))

    assert sim.org.records["Order"] == {}


async def test_a_missing_catch_all_is_dead_lettered_with_its_setting(
    make_connector: ConnectorFactory, tmp_path: Path, account: str
) -> None:
    connector = make_connector(custom_product="GONE-CUSTOM")
    store = SQLiteStore(tmp_path / "hub.db", synchronous="NORMAL")
    await store.start()
    try:
        await store.enqueue(_command(_line("2", None, "Engraving", 1, "5.00")))

        async def perform(claim: ClaimedCommand) -> HandlerResult:
            return HandlerResult(await connector.perform(claim.command, attempt=claim.attempt))

        config = WorkerConfig(
            concurrency=1,
            idle_min_seconds=0.01,
            idle_max_seconds=0.05,
            depth_every=None,
            stop_when_empty=True,
        )
        await asyncio.wait_for(WorkerPool(store, {"salesforce": perform}, config).run(), 30)

        (dead,) = await store.list_dead_letters(destination="salesforce")
        assert "custom_product" in dead.reason
        assert "GONE-CUSTOM" in dead.reason
    finally:
        await store.close()
