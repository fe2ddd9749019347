"""Business Central: the invoice step, and returns as sales credit memos, over loopback HTTP.

``shipAndInvoice`` posts an invoice with each shipment: ``invoice.create`` finds it and posts
nothing. ``return.authorize`` makes a draft credit memo (found again by its
externalDocumentNumber, so a retry or a lost answer creates nothing twice); ``return.credit``
posts it once, and the returned units go back to inventory.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from crossdock.backbone.store import Command
from crossdock.canonical.ids import new_id
from crossdock.connectorkit import PermanentFailureError, RetryLaterError
from crossdock.connectors.businesscentral import (
    AUTHORIZE_RETURN,
    CREATE_ORDER,
    CREDIT_RETURN,
    DRAFT,
    FULFIL_ORDER,
    INVOICE_CREATE,
    BusinessCentralConnector,
    external_document_number,
)
from crossdock.sandbox.businesscentral import BusinessCentralSimulator, Entity
from crossdock.sandbox.kit import FaultAction, FaultSpec, RunningServer

from .conftest import admin, clear_faults, order_payload, seed_for

INSTANCE = {"flow": "order_fulfilment", "key": "k"}


def _command(kind: str, payload: dict[str, Any], key: str | None = None) -> Command:
    return Command(key or f"test:{new_id()}", "businesscentral", kind, payload)


async def _order(connector: BusinessCentralConnector, order_id: str, *ship: str) -> None:
    """Create the order (2 desks, 1 table) and post one fulfilment per cumulative desk count
    in ``ship`` (``"all"``: everything outstanding)."""
    await connector.perform(_command(CREATE_ORDER, order_payload(order_id)))
    for target in ship:
        payload: dict[str, Any] = {"order_id": order_id}
        if target != "all":
            payload["lines"] = [{"sku": "1896-S", "quantity_shipped": target}]
        await connector.perform(_command(FULFIL_ORDER, payload))


def _invoice(order_id: str) -> Command:
    payload = {"order_id": order_id, "invoice_id": f"inv-{order_id}", "instance": INSTANCE}
    return _command(INVOICE_CREATE, payload, key=f"flow:{order_id}:invoice")


def _return(return_id: str, order_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schema_version": "return.v1",
        "id": return_id,
        "order": {"id": order_id},
        "number": "RMA-1",
        "lines": lines,
        "status": "approved",
        "requested_at": "2026-11-27T10:00:00+00:00",
    }


def _desks(quantity: int) -> list[dict[str, Any]]:
    return [{"line_id": "1", "sku": "1896-S", "quantity": quantity, "reason": "damaged"}]


def _authorize(return_id: str, order_id: str, lines: list[dict[str, Any]]) -> Command:
    payload = {"return": _return(return_id, order_id, lines), "instance": INSTANCE}
    return _command(AUTHORIZE_RETURN, payload, key=f"flow:{return_id}:authorize")


def _credit(return_id: str) -> Command:
    payload = {"return_id": return_id, "credit_id": f"{return_id}:credit", "instance": INSTANCE}
    return _command(CREDIT_RETURN, payload, key=f"flow:{return_id}:credit")


def _stock(sim: BusinessCentralSimulator, sku: str = "1896-S") -> Decimal:
    inventory: Decimal = sim.company.item_by_number(sku).data["inventory"]
    return inventory


def _posts(sim: BusinessCentralSimulator) -> int:
    return sum(1 for r in sim.requests.recent() if r.method in {"POST", "PATCH", "DELETE"})


def _memo(sim: BusinessCentralSimulator) -> Entity:
    (memo,) = sim.company.credit_memos.values()
    return memo


# ---- invoice.create -----------------------------------------------------------------------


async def test_the_invoice_step_finds_the_posted_invoice_and_creates_nothing(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    await _order(connector, "ORD-8001", "all")
    (invoice,) = sim.company.invoices.values()
    writes = _posts(sim)

    first = await connector.perform(_invoice("ORD-8001"))
    again = await connector.perform(_invoice("ORD-8001"), attempt=2)

    assert first == again
    assert (first["id"], first["number"]) == (invoice.id, invoice.data["number"])
    assert first["invoice_id"] == "inv-ORD-8001"
    assert first["order_number"] == invoice.data["orderNumber"]
    assert Decimal(first["total"]) == invoice.data["totalAmountIncludingTax"]
    assert [i["id"] for i in first["invoices"]] == [invoice.id]
    assert "bc_order_id" not in first  # the flow reads the invoice's id, not the order's
    assert _posts(sim) == writes  # looked up, never posted
    assert len(sim.company.invoices) == 1
    effects = sim.effects.get("salesInvoice", "ORD-8001")
    assert effects is not None
    assert (effects.attempts, effects.created) == (1, 1)


async def test_each_shipment_has_its_invoice_and_the_step_lists_them_all(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    await _order(connector, "ORD-8002", "1", "all")
    invoices = sorted(sim.company.invoices.values(), key=lambda i: str(i.data["number"]))
    assert len(invoices) == 2

    result = await connector.perform(_invoice("ORD-8002"))

    assert (result["id"], result["number"]) == (invoices[0].id, invoices[0].data["number"])
    assert [i["number"] for i in result["invoices"]] == [i.data["number"] for i in invoices]
    assert Decimal(result["total"]) == sum(i.data["totalAmountIncludingTax"] for i in invoices)
    lines = [(c.data["lineObjectNumber"], c.data["quantity"]) for c in invoices[0].children]
    assert lines == [("1896-S", 1)]


async def test_the_invoice_step_waits_while_nothing_is_invoiced(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    with pytest.raises(RetryLaterError, match="nothing of order ORD-8003 is invoiced"):
        await connector.perform(_invoice("ORD-8003"))
    await _order(connector, "ORD-8003")
    with pytest.raises(RetryLaterError, match=r"nothing of sales order S-ORD\d+ is invoiced"):
        await connector.perform(_invoice("ORD-8003"))
    assert sim.company.invoices == {}


async def test_a_shipped_line_not_invoiced_yet_makes_the_step_wait(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    await _order(connector, "ORD-8004")
    order = await connector.find_sales_order("ORD-8004")
    assert order is not None
    path = f"{connector.company_path}/salesOrders({order['id']})"
    desk, table = order["salesOrderLines"]
    # Someone in Business Central ships a desk without invoicing it.
    await connector.patch_entity(
        f"{path}/salesOrderLines({desk['id']})",
        {"shipQuantity": 1, "invoiceQuantity": 0},
        current=desk,
    )
    await connector.patch_entity(
        f"{path}/salesOrderLines({table['id']})", {"shipQuantity": 0}, current=table
    )
    await connector.call("POST", f"{path}/Microsoft.NAV.shipAndInvoice")
    assert (len(sim.company.shipments), len(sim.company.invoices)) == (1, 0)

    with pytest.raises(RetryLaterError, match=r"not invoiced yet \(1896-S x1\)"):
        await connector.perform(_invoice("ORD-8004"))

    # The next fulfilment invoices what it ships and the desk shipped before.
    await connector.perform(_command(FULFIL_ORDER, {"order_id": "ORD-8004"}))
    result = await connector.perform(_invoice("ORD-8004"))
    (invoice,) = sim.company.invoices.values()
    assert result["id"] == invoice.id
    assert [(c.data["lineObjectNumber"], c.data["quantity"]) for c in invoice.children] == [
        ("1896-S", 2),
        ("1920-S", 1),
    ]


# ---- return.authorize and return.credit ---------------------------------------------------


async def test_a_return_is_authorized_as_a_draft_then_credited_once(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    await _order(connector, "ORD-8101", "all")  # posted in full: BC deleted the order
    (invoice,) = sim.company.invoices.values()
    return_id = new_id()
    stock = _stock(sim)

    authorized = await connector.perform(_authorize(return_id, "ORD-8101", _desks(1)))

    memo = _memo(sim)
    assert (authorized["id"], authorized["number"]) == (memo.id, memo.data["number"])
    assert (authorized["status"], authorized["created"]) == (DRAFT, True)
    assert memo.data["externalDocumentNumber"] == external_document_number(return_id)
    assert (memo.data["customerNumber"], memo.data["invoiceId"]) == ("C00010", invoice.id)
    assert authorized["invoice_number"] == invoice.data["number"]
    lines = [
        (c.data["lineType"], c.data["lineObjectNumber"], c.data["quantity"], c.data["unitPrice"])
        for c in memo.children
    ]
    assert lines == [("Item", "1896-S", 1, Decimal("1000.80"))]
    assert _stock(sim) == stock  # authorized only: nothing back in stock yet

    again = await connector.perform(_authorize(return_id, "ORD-8101", _desks(1)), attempt=2)
    assert (again["id"], again["created"]) == (memo.id, False)

    credited = await connector.perform(_credit(return_id))
    assert (credited["id"], credited["status"], credited["posted"]) == (memo.id, "Open", True)
    assert credited["number"] == memo.data["number"] != authorized["number"]  # posted series
    assert credited["credit_id"] == f"{return_id}:credit"
    assert Decimal(credited["total"]) == Decimal("1000.80")
    assert _stock(sim) == stock + 1

    repeat = await connector.perform(_credit(return_id), attempt=2)
    repeat_new_key = await connector.perform(_credit(return_id))
    for result in (repeat, repeat_new_key):
        assert (result["id"], result["status"], result["posted"]) == (memo.id, "Open", False)
    assert _stock(sim) == stock + 1
    assert len(sim.company.credit_memos) == 1
    key = external_document_number(return_id)
    created = sim.effects.get("salesCreditMemo", key)
    posted = sim.effects.get("postCreditMemo", key)
    assert created is not None
    assert posted is not None
    assert (created.attempts, created.created, created.last_state) == (1, 1, "Open")
    assert (posted.attempts, posted.created) == (1, 1)


async def test_a_return_of_a_partly_shipped_order_takes_the_open_orders_price(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    await _order(connector, "ORD-8102", "1")
    (invoice,) = sim.company.invoices.values()
    return_id = new_id()
    payload = {"return": _return(return_id, "ORD-8102", _desks(1)), "order_id": "ORD-8102"}

    authorized = await connector.perform(_command(AUTHORIZE_RETURN, payload))

    memo = _memo(sim)
    assert authorized["created"] is True
    assert memo.data["invoiceId"] == invoice.id
    assert [(c.data["quantity"], c.data["unitPrice"]) for c in memo.children] == [
        (1, Decimal("1000.80"))
    ]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (_desks(2), r"2 of '1896-S' come back but 1 were invoiced"),
        (
            [{"line_id": "9", "sku": "1936-S", "quantity": 1}],
            r"the sales order has no item '1936-S'",
        ),
        ([{"line_id": "7", "quantity": 1}], r"return line 0 \(order line 7\) has no SKU"),
        ([], r"return is not a valid return.v1"),
    ],
    ids=["more-than-invoiced", "unknown-sku", "no-sku", "no-lines"],
)
async def test_a_return_the_order_cannot_take_is_permanent(
    connector: BusinessCentralConnector,
    sim: BusinessCentralSimulator,
    lines: list[dict[str, Any]],
    message: str,
) -> None:
    await _order(connector, "ORD-8103", "1")
    with pytest.raises(PermanentFailureError, match=message):
        await connector.perform(_authorize(new_id(), "ORD-8103", lines))
    assert sim.company.credit_memos == {}


async def test_a_return_of_an_order_not_there_yet_is_retried_later(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    with pytest.raises(RetryLaterError, match="no sales order or invoice of order ORD-8104"):
        await connector.perform(_authorize(new_id(), "ORD-8104", _desks(1)))
    with pytest.raises(RetryLaterError, match="no credit memo for return"):
        await connector.perform(_credit(new_id()))
    assert sim.company.credit_memos == {}


async def _faults(
    raw: aiohttp.ClientSession, server: RunningServer, pattern: list[FaultAction]
) -> None:
    """Answers lost (504 after the effect) exactly where ``pattern`` says ERROR."""
    spec = FaultSpec(error_rate=0.5, error_status=504, fault_phase="after")
    faults = spec.model_copy(update={"seed": seed_for(pattern, spec)})
    await admin(raw, server, "faults", faults.model_dump(mode="json", exclude_none=True))


async def test_an_ambiguous_authorize_is_settled_by_lookup_never_by_posting_again(
    connector: BusinessCentralConnector,
    sim: BusinessCentralSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
) -> None:
    await _order(connector, "ORD-8105", "1")
    return_id = new_id()
    # Lookups of the memo, the order and its invoices pass; the POST creates the memo and its
    # answer is lost; the settling lookup passes.
    pass_, error = FaultAction.PASS, FaultAction.ERROR
    await _faults(raw, server, [pass_, pass_, pass_, error, pass_])

    result = await connector.perform(_authorize(return_id, "ORD-8105", _desks(1)))
    await clear_faults(raw, server)

    calls = [(r.method, r.fault) for r in sim.requests.recent()][-5:]
    assert calls == [("GET", "pass")] * 3 + [("POST", "error"), ("GET", "pass")]
    memo = _memo(sim)
    assert (result["id"], result["status"], result["created"]) == (memo.id, DRAFT, False)
    effects = sim.effects.get("salesCreditMemo", external_document_number(return_id))
    assert effects is not None
    assert (effects.attempts, effects.created) == (1, 1)


async def test_an_ambiguous_credit_is_settled_by_reading_the_status(
    connector: BusinessCentralConnector,
    sim: BusinessCentralSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
) -> None:
    await _order(connector, "ORD-8106", "all")
    return_id = new_id()
    await connector.perform(_authorize(return_id, "ORD-8106", _desks(2)))
    stock = _stock(sim)
    # The lookup passes; the post takes effect and its answer is lost; the settling lookup
    # passes.
    await _faults(raw, server, [FaultAction.PASS, FaultAction.ERROR, FaultAction.PASS])

    result = await connector.perform(_credit(return_id))
    await clear_faults(raw, server)

    calls = [(r.method, r.fault) for r in sim.requests.recent()][-3:]
    assert calls == [("GET", "pass"), ("POST", "error"), ("GET", "pass")]
    assert (result["status"], result["posted"]) == ("Open", False)
    assert _stock(sim) == stock + 2
    posted = sim.effects.get("postCreditMemo", external_document_number(return_id))
    assert posted is not None
    assert (posted.attempts, posted.created) == (1, 1)
