"""Orders with their items, status updates, cases, and dead-lettering an unknown SKU."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from crossdock.backbone.sqlite import SQLiteStore
from crossdock.backbone.store import ClaimedCommand, Command, CommandStatus
from crossdock.canonical.money import Money
from crossdock.canonical.order import Order, OrderLine, OrderTotals
from crossdock.connectorkit import PermanentFailureError, RetryLaterError
from crossdock.connectors.salesforce import (
    CASE_OPEN,
    ORDER_CREATE,
    ORDER_UPDATE_STATUS,
    SalesforceConnector,
    UnknownSkuError,
)
from crossdock.runtime.workers import HandlerResult, WorkerConfig, WorkerPool
from crossdock.sandbox.kit import RunningServer
from crossdock.sandbox.salesforce import SalesforceSimulator

from .conftest import effects

KEY = "Shopify_Customer_Id__c"


def _order(*lines: tuple[str, str, int, str]) -> dict[str, Any]:
    items = [
        OrderLine(
            line_id=line_id,
            sku=sku,
            title=sku,
            quantity=qty,
            unit_price=Money(Decimal(price), "EUR"),
        )
        for line_id, sku, qty, price in lines
    ]
    total = sum((i.unit_price.amount * i.quantity for i in items), Decimal("0"))
    order = Order(
        number="#1042",
        channel="shopify:b2b",
        currency="EUR",
        purchase_order="PO-88",
        lines=items,
        totals=OrderTotals(total=Money(total, "EUR")),
        status="open",
        placed_at=datetime(2026, 11, 20, 9, 15, tzinfo=UTC),
    )
    return order.model_dump(mode="json")


def _command(order: dict[str, Any], key: str = "5501", **kw: Any) -> Command:
    return Command(
        idempotency_key=f"order-{key}",
        destination="salesforce",
        kind=ORDER_CREATE,
        payload={"order": order, "order_key": key, "account": {"field": KEY, "value": "6120"}},
        partition_key=f"order:{key}",
        **kw,
    )


@pytest.fixture
async def account(connector: SalesforceConnector) -> str:
    result = await connector.upsert("Account", KEY, "6120", {"Name": "Café Größenwahn GmbH"})
    assert result.id is not None
    return result.id


async def test_an_order_is_created_with_its_items_and_activated(
    connector: SalesforceConnector, sim: SalesforceSimulator, account: str
) -> None:
    order = _order(("11", "CD-MUG-01", 24, "12.50"), ("12", "CD-CAP-01", 3, "18.90"))

    result = await connector.perform(_command(order))

    record = sim.org.records["Order"][result["order_id"]]
    assert (record["Status"], record["StatusCode"], record["AccountId"]) == (
        "Activated",
        "Activated",
        account,
    )
    assert record["TotalAmount"] == Decimal("356.70")
    items = [i for i in sim.org.records["OrderItem"].values() if i["OrderId"] == record["Id"]]
    assert sorted(i["Shopify_Line_Item_Id__c"] for i in items) == ["5501:11", "5501:12"]
    assert result["created"] is True
    assert len(result["item_ids"]) == 2


async def test_running_it_again_changes_nothing(
    connector: SalesforceConnector,
    sim: SalesforceSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
    account: str,
) -> None:
    command = _command(_order(("11", "CD-MUG-01", 2, "12.50")))
    first = await connector.perform(command)

    again = await connector.perform(command, attempt=2)

    assert again["order_id"] == first["order_id"]
    assert again["created"] is False
    assert len(sim.org.records["Order"]) == 1
    ledger = (await effects(raw, server))["Order.Shopify_Order_Id__c"]["5501"]
    assert ledger["created"] == 1


async def test_a_lost_answer_is_settled_by_external_id_not_resent(
    connector: SalesforceConnector,
    sim: SalesforceSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
    account: str,
) -> None:
    command = _command(_order(("11", "CD-MUG-01", 2, "12.50")))
    # Every call takes effect, then its answer is lost: the first attempt dies somewhere.
    async with raw.post(
        f"{server.base_url}/_sandbox/faults",
        json={"error_rate": 1.0, "error_status": 503, "fault_phase": "after"},
    ) as response:
        assert response.status == 200
    with pytest.raises(RetryLaterError):
        await connector.perform(command)
    async with raw.delete(f"{server.base_url}/_sandbox/faults") as response:
        assert response.status == 200

    result = await connector.perform(command, attempt=2)

    assert len(sim.org.records["Order"]) == 1
    assert sim.org.records["Order"][result["order_id"]]["StatusCode"] == "Activated"
    ledger = (await effects(raw, server))["Order.Shopify_Order_Id__c"]["5501"]
    assert ledger["created"] == 1


async def test_an_unknown_sku_writes_nothing_and_names_the_sku(
    connector: SalesforceConnector, sim: SalesforceSimulator, account: str
) -> None:
    order = _order(("11", "CD-MUG-01", 1, "12.50"), ("12", "NOPE-404", 1, "9.99"))

    with pytest.raises(UnknownSkuError) as unknown:
        await connector.perform(_command(order))

    assert unknown.value.skus == ["NOPE-404"]
    assert "NOPE-404" in str(unknown.value)
    assert sim.org.records["Order"] == {}


async def test_an_unknown_sku_is_dead_lettered_by_the_worker(
    connector: SalesforceConnector, tmp_path: Path, account: str
) -> None:
    store = SQLiteStore(tmp_path / "hub.db", synchronous="NORMAL")
    await store.start()
    try:
        await store.enqueue(_command(_order(("11", "GHOST-SKU", 1, "1.00"))))

        async def perform(claim: ClaimedCommand) -> HandlerResult:
            result = await connector.perform(claim.command, attempt=claim.attempt)
            return HandlerResult(result=result)

        config = WorkerConfig(
            concurrency=1,
            idle_min_seconds=0.01,
            idle_max_seconds=0.05,
            depth_every=None,
            stop_when_empty=True,
        )
        await asyncio.wait_for(WorkerPool(store, {"salesforce": perform}, config).run(), 30)

        dead = await store.list_dead_letters(destination="salesforce")
        assert len(dead) == 1
        assert "GHOST-SKU" in dead[0].reason
        record = await store.find_command("order-5501")
        assert record is not None
        assert record.status is CommandStatus.DEAD
    finally:
        await store.close()


async def test_status_and_shipment_details_are_updated(
    connector: SalesforceConnector, sim: SalesforceSimulator, account: str
) -> None:
    created = await connector.perform(_command(_order(("11", "CD-TEE-M", 1, "24.00"))))
    update = Command(
        idempotency_key="ship-5501",
        destination="salesforce",
        kind=ORDER_UPDATE_STATUS,
        payload={
            "order_key": "5501",
            "status": "Shipped",
            "shipment": {
                "tracking_number": "1Z999AA10123456784",
                "carrier": "UPS",
                "shipped_at": "2026-11-21T10:00:00.000+0000",
            },
        },
    )

    await connector.perform(update)

    record = sim.org.records["Order"][created["order_id"]]
    assert (record["Status"], record["Tracking_Number__c"], record["Carrier__c"]) == (
        "Shipped",
        "1Z999AA10123456784",
        "UPS",
    )


async def test_updating_an_order_salesforce_does_not_have_is_permanent(
    connector: SalesforceConnector,
) -> None:
    update = Command(
        idempotency_key="u",
        destination="salesforce",
        kind=ORDER_UPDATE_STATUS,
        payload={"order_key": "nope", "status": "Shipped"},
    )

    with pytest.raises(PermanentFailureError, match="not found"):
        await connector.perform(update)


async def test_a_case_is_opened_once_per_exception(
    connector: SalesforceConnector, sim: SalesforceSimulator, account: str
) -> None:
    command = Command(
        idempotency_key="case-x1",
        destination="salesforce",
        kind=CASE_OPEN,
        payload={
            "exception_id": "exc-0193",
            "subject": "Order #1042 could not be sent to the ERP",
            "description": "NetSuite refused the customer's credit limit",
            "account": {"field": KEY, "value": "6120"},
        },
    )

    first = await connector.perform(command)
    again = await connector.perform(command, attempt=2)

    assert first["case_id"] == again["case_id"]
    assert first["created"] is True
    case = sim.org.records["Case"][first["case_id"]]
    assert (case["Origin"], case["Status"], case["AccountId"]) == ("Integration", "New", account)


async def test_the_org_validation_rule_refuses_a_case_without_subject(
    connector: SalesforceConnector,
) -> None:
    with pytest.raises(PermanentFailureError) as refused:
        await connector.upsert("Case", "Hub_Exception_Id__c", "e-1", {"Origin": "Integration"})

    assert refused.value.classification is not None
    assert refused.value.classification.codes == ("FIELD_CUSTOM_VALIDATION_EXCEPTION",)
