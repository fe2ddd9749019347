"""Business Central: ``sales_order.close``, and canonical order lines that name no item.

Custom lines, sold gift cards and shipping charges become G/L Account lines with their
descriptions and amounts kept exactly; closing deletes an unshipped sales order under its
ETag (a stale one settled by re-reading), cancels the unshipped remainder of a partly shipped
one (each line's quantity lowered to what it shipped, under the line's ETag), and is done
when the order is gone or has nothing left to ship.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from crossdock.backbone.store import Command
from crossdock.canonical.ids import new_id
from crossdock.connectorkit import PermanentFailureError
from crossdock.connectors.businesscentral import (
    CLOSE_ORDER,
    CLOSED,
    CREATE_ORDER,
    DEFAULT_CUSTOM_ACCOUNT,
    DEFAULT_GIFT_CARD_ACCOUNT,
    DEFAULT_SHIPPING_ACCOUNT,
    DELETED,
    FULFIL_ORDER,
    BusinessCentralConnector,
)
from crossdock.sandbox.businesscentral import BusinessCentralSimulator
from crossdock.sandbox.kit import FaultAction, FaultSpec, RunningServer

from .conftest import ConnectorFactory, admin, clear_faults, order_payload, seed_for

EMAIL = "buyer@adatum.example"  # the simulator's customer C00010
ENGRAVING = "Engraving: «For Ada» ✓"


def _usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


def _canonical(order_id: str) -> dict[str, Any]:
    """A desk, a custom line with no SKU, a sold gift card and shipping."""
    return {
        "order_id": order_id,
        "order": {
            "id": order_id,
            "number": "#2001",
            "channel": "shopify:web",
            "customer": {"kind": "business", "email": EMAIL},
            "email": EMAIL,
            "currency": "USD",
            "placed_at": "2026-11-27T10:00:00+00:00",
            "lines": [
                {
                    "line_id": "11",
                    "sku": "1896-S",
                    "title": "ATHENS Desk",
                    "quantity": 2,
                    "unit_price": _usd("1000.80"),
                },
                {
                    "line_id": "12",
                    "sku": None,
                    "title": ENGRAVING,
                    "quantity": 3,
                    "unit_price": _usd("7.35"),
                },
                {
                    "line_id": "13",
                    "sku": "",
                    "title": "Gift card $50",
                    "quantity": 1,
                    "unit_price": _usd("50.00"),
                    "gift_card": True,
                    "requires_shipping": False,
                },
            ],
            "shipping_lines": [{"title": "UPS Ground", "price": _usd("9.90")}],
        },
    }


def _command(kind: str, payload: dict[str, Any], key: str | None = None) -> Command:
    return Command(key or f"test:{new_id()}", "businesscentral", kind, payload)


async def test_custom_gift_card_and_shipping_lines_make_one_order_with_exact_amounts(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    order_id = new_id()
    create = _command(CREATE_ORDER, _canonical(order_id), key="flow:so")
    created = await connector.perform(create)
    again = await connector.perform(create, attempt=2)
    assert again["bc_order_id"] == created["bc_order_id"]
    assert len(sim.company.orders) == 1
    order = sim.company.order(str(created["bc_order_id"]))
    lines = [
        (
            line.data["lineType"],
            line.data["lineObjectNumber"],
            line.data["description"],
            line.data["quantity"],
            line.data["unitPrice"],
            line.data["amountExcludingTax"],
        )
        for line in order.children
    ]
    assert lines == [
        ("Item", "1896-S", "ATHENS Desk", 2, Decimal("1000.80"), Decimal("2001.60")),
        ("Account", DEFAULT_CUSTOM_ACCOUNT, ENGRAVING, 3, Decimal("7.35"), Decimal("22.05")),
        ("Account", DEFAULT_GIFT_CARD_ACCOUNT, "Gift card $50", 1, Decimal("50"), Decimal("50")),
        ("Account", DEFAULT_SHIPPING_ACCOUNT, "UPS Ground", 1, Decimal("9.90"), Decimal("9.90")),
    ]
    assert order.data["totalAmountExcludingTax"] == Decimal("2083.55")
    account_ids = {line.data["accountId"] for line in order.children[1:]}
    assert account_ids == {
        sim.company.accounts[n].id
        for n in (DEFAULT_CUSTOM_ACCOUNT, DEFAULT_GIFT_CARD_ACCOUNT, DEFAULT_SHIPPING_ACCOUNT)
    }

    await connector.perform(_command(FULFIL_ORDER, {"order_id": order_id}))
    (invoice,) = sim.company.invoices.values()
    assert invoice.data["totalAmountIncludingTax"] == Decimal("2083.55")


async def test_a_line_without_sku_is_refused_when_no_custom_account_is_set(
    make_connector: ConnectorFactory, sim: BusinessCentralSimulator
) -> None:
    connector = make_connector(custom_account=None)
    with pytest.raises(PermanentFailureError, match="no SKU"):
        await connector.perform(_command(CREATE_ORDER, _canonical(new_id())))
    assert sim.company.orders == {}


async def test_an_account_the_company_lacks_is_a_permanent_failure(
    make_connector: ConnectorFactory, sim: BusinessCentralSimulator
) -> None:
    connector = make_connector(gift_card_account="9999")
    with pytest.raises(PermanentFailureError, match="G/L Account"):
        await connector.perform(_command(CREATE_ORDER, _canonical(new_id())))
    assert sim.company.orders == {}


async def _order(connector: BusinessCentralConnector, order_id: str) -> str:
    result = await connector.perform(_command(CREATE_ORDER, order_payload(order_id)))
    return str(result["bc_order_id"])


def _close(order_id: str) -> Command:
    return _command(CLOSE_ORDER, {"order_id": order_id, "reason": "customer"})


def _deletes(sim: BusinessCentralSimulator) -> list[int | None]:
    return [r.status for r in sim.requests.recent() if r.method == "DELETE"]


async def test_close_deletes_an_unshipped_order_once_and_is_done_when_gone(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    bc_id = await _order(connector, "ORD-7001")
    closed = await connector.perform(_close("ORD-7001"))
    assert closed["erp_id"] == bc_id
    assert closed["status"] == DELETED
    assert sim.company.orders == {}
    again = await connector.perform(_close("ORD-7001"), attempt=2)
    assert again["status"] == DELETED
    assert again["erp_id"] is None
    assert _deletes(sim) == [204]


async def test_closing_an_order_never_created_is_done(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    result = await connector.perform(_close("ORD-7002"))
    assert (result["erp_id"], result["status"]) == (None, DELETED)
    assert _deletes(sim) == []


def _lines(sim: BusinessCentralSimulator, bc_id: str) -> list[tuple[Any, ...]]:
    return [
        (c.data["lineObjectNumber"], c.data["quantity"], c.data["shippedQuantity"])
        for c in sim.company.order(bc_id).children
    ]


def _patches(sim: BusinessCentralSimulator) -> list[int | None]:
    return [r.status for r in sim.requests.recent() if r.method == "PATCH"]


async def test_close_of_a_partly_shipped_order_cancels_the_remainder_once(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    bc_id = await _order(connector, "ORD-7003")
    fulfil = {"order_id": "ORD-7003", "lines": [{"sku": "1896-S", "quantity_shipped": "1"}]}
    await connector.perform(_command(FULFIL_ORDER, fulfil))
    desks = sim.company.item_by_number("1896-S").data["inventory"]
    patches_before = len(_patches(sim))

    closed = await connector.perform(_close("ORD-7003"))

    assert (closed["erp_id"], closed["status"], closed["closed_lines"]) == (bc_id, CLOSED, 2)
    assert _lines(sim, bc_id) == [("1896-S", 1, 1), ("1920-S", 0, 0)]
    order = sim.company.order(bc_id)
    assert order.data["fullyShipped"] is True
    assert order.data["totalAmountIncludingTax"] == Decimal("1000.80")  # the shipped desk
    assert [c.data["shipQuantity"] for c in order.children] == [0, 0]
    assert sim.company.item_by_number("1896-S").data["inventory"] == desks
    assert _patches(sim)[patches_before:] == [200, 200]
    assert _deletes(sim) == []

    again = await connector.perform(_close("ORD-7003"), attempt=2)
    assert (again["status"], again["closed_lines"]) == (CLOSED, 0)
    assert len(_patches(sim)) == patches_before + 2  # nothing left to close: no write
    status = await connector.sales_order_status("ORD-7003")
    assert status["fully_shipped"] is True
    assert [(x["sku"], x["quantity"], x["shipped"]) for x in status["lines"]] == [
        ("1896-S", "1", "1"),
        ("1920-S", "0", "0"),
    ]


async def test_close_of_an_order_shipped_in_full_is_done(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    await _order(connector, "ORD-7004")
    await connector.perform(_command(FULFIL_ORDER, {"order_id": "ORD-7004"}))
    assert sim.company.orders == {}  # Business Central deletes it once posted in full
    (shipment,) = sim.company.shipments.values()

    closed = await connector.perform(_close("ORD-7004"))

    assert (closed["status"], closed["closed_lines"]) == (CLOSED, 0)
    assert closed["erp_id"] == shipment.data["orderId"]
    assert closed["number"] == shipment.data["orderNumber"]
    assert _deletes(sim) == []
    assert _patches(sim) == []  # shipping everything needed no PATCH, and closing none


@pytest.mark.parametrize("conflict_status", [409, 412])
async def test_a_stale_line_etag_on_partial_close_is_settled_by_rereading(
    connector: BusinessCentralConnector,
    sim: BusinessCentralSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
    conflict_status: int,
) -> None:
    await admin(raw, server, "businesscentral/settings", {"conflict_status": conflict_status})
    bc_id = await _order(connector, "ORD-7007")
    fulfil = {"order_id": "ORD-7007", "lines": [{"sku": "1896-S", "quantity_shipped": "1"}]}
    await connector.perform(_command(FULFIL_ORDER, fulfil))
    table = sim.company.order(bc_id).children[1]
    # Another user edits the table's line after our read and before our PATCH of it.
    await admin(
        raw,
        server,
        "businesscentral/interfere",
        {"order_id": bc_id, "line_id": table.id, "changes": {"description": "Oak table"}},
    )
    patches_before = len(_patches(sim))

    closed = await connector.perform(_close("ORD-7007"))

    assert (closed["status"], closed["closed_lines"]) == (CLOSED, 2)
    assert _lines(sim, bc_id) == [("1896-S", 1, 1), ("1920-S", 0, 0)]
    assert table.data["description"] == "Oak table"  # their change kept, ours applied on it
    assert connector.conflicts_settled == 1
    assert _patches(sim)[patches_before:] == [200, conflict_status, 200]


@pytest.mark.parametrize("conflict_status", [409, 412])
async def test_a_stale_etag_on_close_is_settled_by_rereading(
    connector: BusinessCentralConnector,
    sim: BusinessCentralSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
    conflict_status: int,
) -> None:
    await admin(raw, server, "businesscentral/settings", {"conflict_status": conflict_status})
    bc_id = await _order(connector, "ORD-7005")
    # Another user changes the order after our read and before our DELETE.
    await admin(
        raw,
        server,
        "businesscentral/interfere",
        {"order_id": bc_id, "changes": {"phoneNumber": "+1 404 555 0100"}},
    )
    closed = await connector.perform(_close("ORD-7005"))
    assert closed["status"] == DELETED
    assert sim.company.orders == {}
    assert connector.conflicts_settled == 1
    assert _deletes(sim) == [conflict_status, 204]


async def test_an_ambiguous_delete_is_settled_by_lookup(
    connector: BusinessCentralConnector,
    sim: BusinessCentralSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
) -> None:
    await _order(connector, "ORD-7006")
    # The lookup passes, the DELETE takes effect and its answer is lost (504), the settling
    # lookups (the order, then its posted shipments) pass.
    spec = FaultSpec(error_rate=0.5, error_status=504, fault_phase="after")
    pattern = [FaultAction.PASS, FaultAction.ERROR, FaultAction.PASS, FaultAction.PASS]
    faults = spec.model_copy(update={"seed": seed_for(pattern, spec)})
    await admin(raw, server, "faults", faults.model_dump(mode="json", exclude_none=True))
    closed = await connector.perform(_close("ORD-7006"))
    await clear_faults(raw, server)
    assert closed["status"] == DELETED
    assert sim.company.orders == {}
    calls = [(r.method, r.fault) for r in sim.requests.recent()][-4:]
    assert calls == [("GET", "pass"), ("DELETE", "error"), ("GET", "pass"), ("GET", "pass")]
