"""A quantity edit before release, from the flow's decision to the ERP's sales order.

The order flow runs on a real SQLite store; its ERP commands are performed by the real
connector against the ERP's simulator on loopback (NetSuite, Business Central), and their
results are appended as the hub's workers would. The edited sales order must carry the new
quantities and the added line, once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crossdock.backbone.sqlite import SQLiteStore
from crossdock.backbone.store import Command
from crossdock.canonical.commands import result_event
from crossdock.canonical.envelope import Event
from crossdock.canonical.money import Money
from crossdock.canonical.order import Order, OrderLine, OrderTotals, Payment
from crossdock.canonical.refs import CustomerRef
from crossdock.connectorkit import Connector
from crossdock.connectorkit.http import HttpClient
from crossdock.connectors.businesscentral import BusinessCentralConnector
from crossdock.connectors.netsuite import NetSuiteConnector
from crossdock.flows.engine import FlowRunner
from crossdock.flows.order_fulfilment import (
    OrderFulfilment,
    OrderFulfilmentSettings,
    Route,
    StaticAvailability,
    order_key_for,
)
from crossdock.runtime.resilience import ConcurrencySlots
from crossdock.sandbox.businesscentral import BusinessCentralSimulator
from crossdock.sandbox.kit import serve
from crossdock.sandbox.netsuite import NetSuiteSimulator

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
SUBJECT = "gid://shopify/Order/4401"


@dataclass(frozen=True)
class Erp:
    """One ERP: its system name, SKUs (a stocked one and one to add) and its email."""

    name: str
    kept: str
    added: str
    email: str


NETSUITE = Erp("netsuite", "SKU-RED-M", "SKU-BLUE-L", "ada@example.com")
BUSINESS_CENTRAL = Erp("businesscentral", "1896-S", "1936-S", "buyer@adatum.example")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "hub.db")
    await opened.start()
    yield opened
    await opened.close()


def _order(erp: Erp, lines: list[tuple[str, str, int]], minute: int) -> dict[str, Any]:
    built = [
        OrderLine(line_id=lid, sku=sku, title=sku, quantity=qty, unit_price=Money("10.00", "USD"))
        for lid, sku, qty in lines
    ]
    total = sum((ln.unit_price * ln.quantity for ln in built), Money.zero("USD")).quantize()
    order = Order(
        number="#4401",
        channel="shopify:web",
        customer=CustomerRef(kind="consumer", email=erp.email, name="Ada Byron"),
        email=erp.email,
        currency="USD",
        lines=built,
        totals=OrderTotals(total=total),
        status="open",
        financial_status="pending",
        payments=[Payment(method="card")],
        placed_at=T0,
        updated_at=T0 + timedelta(minutes=minute),
    )
    data = order.model_dump(mode="json")
    data["shipping_address"] = {
        "name": "Ada Byron",
        "line1": "1 Loom St",
        "city": "Atlanta",
        "country_code": "US",
    }
    return data


def _event(type_: str, data: dict[str, Any], minute: int) -> Event:
    return Event(
        source="shopify:acme.myshopify.com",
        type=type_,
        subject=SUBJECT,
        time=T0 + timedelta(minutes=minute),
        correlationid="corr-4401",
        data=data,
    )


async def _perform_all(store: SQLiteStore, runner: FlowRunner, connector: Connector) -> list[str]:
    """Run the flow, perform every ERP command it asks for, append the results; repeat."""
    kinds: list[str] = []
    await runner.run_until_idle()
    while claims := await store.claim("erp-worker", destinations=[connector.destination]):
        for claim in claims:
            command: Command = claim.command
            result = await connector.perform(command)
            event = result_event(
                kind=command.kind,
                role="erp",
                destination=command.destination,
                idempotency_key=command.idempotency_key,
                payload=command.payload,
                result=result,
                correlation_id=command.correlation_id,
            )
            await store.complete(claim, result, result_events=[event])
            kinds.append(command.kind)
        await runner.run_until_idle()
    return kinds


@pytest.fixture(params=[NETSUITE, BUSINESS_CENTRAL], ids=lambda erp: erp.name)
async def erp(
    request: pytest.FixtureRequest, http: HttpClient
) -> AsyncIterator[tuple[Erp, Connector, Any]]:
    """The ERP's simulator on loopback and the connector pointed at it."""
    chosen: Erp = request.param
    if chosen is NETSUITE:
        ns = NetSuiteSimulator()
        async with serve(ns.app) as server:
            creds = ns.credentials_for(server.base_url)
            yield (
                chosen,
                NetSuiteConnector(
                    http=http,
                    account_id=creds["account_id"],
                    consumer_key=creds["consumer_key"],
                    consumer_secret=creds["consumer_secret"],
                    token_id=creds["token_id"],
                    token_secret=creds["token_secret"],
                    base_url=creds["rest_url"],
                    rate_budget=ConcurrencySlots("netsuite-edits", limit=15),
                ),
                ns,
            )
        return
    bc = BusinessCentralSimulator()
    async with serve(bc.app) as server:
        creds = bc.credentials_for(server.base_url)
        yield (
            chosen,
            BusinessCentralConnector(
                http=http,
                tenant=creds["tenant"],
                environment=creds["environment"],
                company_id=creds["company_id"],
                client_id=creds["client_id"],
                client_secret=creds["client_secret"],
                token_url=creds["token_url"],
                base_url=server.base_url,
            ),
            bc,
        )


def _erp_lines(erp: Erp, sim: Any, order_id: str) -> list[tuple[str, int]]:
    """SKU and ordered units of each open line of the ERP's sales order."""
    if erp is NETSUITE:
        record = sim.erp.get("salesOrder", sim.erp.resolve("salesOrder", f"eid:{order_id}"))
        return [
            (line["item"]["refName"], int(line["quantity"]))
            for line in record["item"]["items"]
            if not line["isClosed"]
        ]
    [order] = sim.company.orders.values()
    return [
        (line.data["lineObjectNumber"], int(line.data["quantity"]))
        for line in order.children
        if line.data["lineType"] == "Item"
    ]


async def test_an_edit_before_release_reaches_the_erp_sales_order_once(
    store: SQLiteStore, erp: tuple[Erp, Connector, Any]
) -> None:
    chosen, connector, sim = erp
    settings = OrderFulfilmentSettings(
        erp=chosen.name, channels={"shopify": "shopify"}, routing=(Route("shipstation"),)
    )
    stock = StaticAvailability({chosen.kept: 40, chosen.added: 40})
    runner = FlowRunner(store, [OrderFulfilment(settings, stock)])
    key = order_key_for("shopify", SUBJECT)
    placed = _event("order.placed", _order(chosen, [("1", chosen.kept, 1)], 0), 0)
    await store.append_events(placed)
    assert await _perform_all(store, runner, connector) == [
        "customer.upsert",
        "sales_order.create",
    ]
    edit = _order(chosen, [("1", chosen.kept, 3), ("2", chosen.added, 2)], 5)

    await store.append_events(_event("order.updated", edit, 5))
    performed = await _perform_all(store, runner, connector)
    await store.append_events(_event("order.updated", edit, 6))  # the webhook, delivered again
    again = await _perform_all(store, runner, connector)

    assert performed == ["sales_order.update"]
    assert again == []
    assert sorted(_erp_lines(chosen, sim, key)) == sorted([(chosen.kept, 3), (chosen.added, 2)])
    found = await store.get_flow_state("order_fulfilment", key)
    assert found is not None
    assert found.state["state"]["status"] == "payment_held"
    assert found.state["state"]["edits"][-1]["outcome"] == "applied"
