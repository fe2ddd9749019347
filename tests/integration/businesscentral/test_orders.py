"""Sales orders and customers against the simulator: idempotent creation, settling ambiguity
and stale ETags, and fulfilment through shipAndInvoice."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from crossdock.backbone.store import Command
from crossdock.canonical.ids import new_id
from crossdock.connectorkit import PermanentFailureError, RetryLaterError
from crossdock.connectors.businesscentral import (
    CREATE_ORDER,
    FULFIL_ORDER,
    UPDATE_ORDER,
    UPSERT_CUSTOMER,
    BusinessCentralConnector,
    external_document_number,
)
from crossdock.sandbox.businesscentral import BusinessCentralSimulator
from crossdock.sandbox.kit import RunningServer

from .conftest import admin, clear_faults, order_payload


def _create(order_id: str, **extra: Any) -> Command:
    return Command(
        f"flow:{order_id}:erp", "businesscentral", CREATE_ORDER, order_payload(order_id, **extra)
    )


async def test_creating_the_same_order_twice_makes_one_sales_order(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    order_id = new_id()
    command = _create(order_id)

    first = await connector.perform(command)
    second = await connector.perform(command, attempt=2)

    key = external_document_number(order_id)
    assert len(key) == 32  # a UUID is 36 characters; BC's externalDocumentNumber holds 35
    assert first["created"] is True
    assert second["created"] is False
    assert first["bc_order_id"] == second["bc_order_id"]
    assert [o.data["externalDocumentNumber"] for o in sim.company.orders.values()] == [key]
    effects = sim.effects.get("salesOrder", key)
    assert effects is not None
    assert (effects.attempts, effects.created) == (1, 1)


async def test_the_created_order_carries_lines_prices_and_ship_to(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    result = await connector.perform(_create("ORD-1001"))

    order = sim.company.order(result["bc_order_id"])
    assert order.data["shipToName"] == "Adatum Receiving"
    lines = {line.data["lineObjectNumber"]: line.data for line in order.children}
    assert lines["1896-S"]["unitPrice"] == Decimal("1000.80")
    assert lines["1920-S"]["unitPrice"] == Decimal("649.4")  # the item's price when none given
    assert order.data["totalAmountIncludingTax"] == Decimal("2651.00")
    status = await connector.sales_order_status("ORD-1001")
    assert status["status"] == "Open"
    assert [line["shipped"] for line in status["lines"]] == ["0", "0"]


# Under a fault seed the kit's decisions are fixed per request: with these seeds the two
# lookups (open orders, then posted shipments) pass, the POST takes effect and loses its
# answer, and the settling lookup passes.
@pytest.mark.parametrize(
    ("faults", "lost_as"),
    [
        ({"hang_rate": 0.5, "fault_phase": "after", "seed": 5}, "hang"),
        ({"error_rate": 0.5, "error_status": 504, "fault_phase": "after", "seed": 17}, "error"),
    ],
    ids=["timeout", "504"],
)
async def test_an_ambiguous_create_is_settled_by_lookup_never_by_posting_again(
    connector: BusinessCentralConnector,
    sim: BusinessCentralSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
    faults: dict[str, Any],
    lost_as: str,
) -> None:
    connector.default_timeout = 0.5  # type: ignore[misc]
    await connector.companies()  # the token is fetched before the faults start
    await admin(raw, server, "faults", faults)

    result = await connector.perform(_create("ORD-2002"))

    calls = [(r.method, r.fault) for r in sim.requests.recent()][-4:]
    assert calls == [("GET", "pass"), ("GET", "pass"), ("POST", lost_as), ("GET", "pass")]
    assert result["created"] is False  # found by the settling lookup
    assert len(sim.company.orders) == 1
    effects = sim.effects.get("salesOrder", "ORD-2002")
    assert effects is not None
    assert (effects.attempts, effects.created) == (1, 1)


async def test_a_lookup_that_times_out_posts_nothing_and_the_retry_settles(
    connector: BusinessCentralConnector,
    sim: BusinessCentralSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
) -> None:
    connector.default_timeout = 0.5  # type: ignore[misc]
    await connector.companies()
    await admin(raw, server, "faults", {"hang_rate": 1.0, "fault_phase": "after"})

    with pytest.raises(RetryLaterError):
        await connector.perform(_create("ORD-2003"))
    await clear_faults(raw, server)
    result = await connector.perform(_create("ORD-2003"), attempt=2)

    assert result["created"] is True
    assert len(sim.company.orders) == 1
    assert [r.method for r in sim.requests.recent() if r.fault == "hang"] == ["GET"]


@pytest.mark.parametrize("conflict_status", [409, 412])
async def test_a_stale_etag_is_settled_by_rereading_and_reapplying(
    make_connector: Any,
    sim: BusinessCentralSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
    conflict_status: int,
) -> None:
    connector: BusinessCentralConnector = make_connector()
    await admin(raw, server, "businesscentral/settings", {"conflict_status": conflict_status})
    created = await connector.perform(_create("ORD-3003"))
    bc_id = created["bc_order_id"]
    # Another user changes the order after our read and before our PATCH.
    await admin(
        raw,
        server,
        "businesscentral/interfere",
        {"order_id": bc_id, "changes": {"phoneNumber": "+1 404 555 0100"}},
    )
    update = Command(
        "flow:ORD-3003:delivery-date",
        "businesscentral",
        UPDATE_ORDER,
        {"order_id": "ORD-3003", "changes": {"requestedDeliveryDate": "2026-12-04"}},
    )

    await connector.perform(update)

    order = sim.company.order(bc_id).data
    assert order["requestedDeliveryDate"] == "2026-12-04"  # our change, re-applied
    assert order["phoneNumber"] == "+1 404 555 0100"  # theirs, kept: nothing was overwritten
    assert connector.conflicts_settled == 1
    patches = [r for r in sim.requests.recent() if r.method == "PATCH"]
    assert [r.status for r in patches] == [conflict_status, 200]


async def test_a_change_function_is_reevaluated_on_the_fresh_version(
    connector: BusinessCentralConnector,
    sim: BusinessCentralSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
) -> None:
    created = await connector.perform(_create("ORD-3004"))
    path = f"{connector.company_path}/salesOrders({created['bc_order_id']})"
    await admin(
        raw,
        server,
        "businesscentral/interfere",
        {"order_id": created["bc_order_id"], "changes": {"email": "other@adatum.example"}},
    )

    seen: list[str] = []

    def note(entity: dict[str, Any]) -> dict[str, Any]:
        seen.append(entity["email"])
        return {"phoneNumber": f"call {entity['email']}"}

    updated = await connector.patch_entity(path, note)

    assert seen == ["buyer@adatum.example", "other@adatum.example"]
    assert updated["phoneNumber"] == "call other@adatum.example"


async def test_the_wildcard_etag_is_never_sent(
    connector: BusinessCentralConnector,
    sim: BusinessCentralSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
) -> None:
    created = await connector.perform(_create("ORD-3005"))
    await admin(
        raw,
        server,
        "businesscentral/interfere",
        {"order_id": created["bc_order_id"], "changes": {"email": "x@adatum.example"}, "times": 5},
    )
    path = f"{connector.company_path}/salesOrders({created['bc_order_id']})"

    with pytest.raises(RetryLaterError, match="changed under us 3 times"):
        await connector.patch_entity(path, {"requestedDeliveryDate": "2026-12-09"})
    assert sim.company.order(created["bc_order_id"]).data["requestedDeliveryDate"] == "0001-01-01"


@pytest.mark.parametrize(
    ("delete_fully_invoiced", "status"), [(True, "Posted"), (False, "Released")]
)
async def test_ship_and_invoice_moves_inventory_and_status_once(
    connector: BusinessCentralConnector,
    sim: BusinessCentralSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
    delete_fully_invoiced: bool,
    status: str,
) -> None:
    settings = {"delete_fully_invoiced": delete_fully_invoiced}
    await admin(raw, server, "businesscentral/settings", settings)
    await connector.perform(_create("ORD-4004"))
    fulfil = Command(
        "flow:ORD-4004:fulfil", "businesscentral", FULFIL_ORDER, {"order_id": "ORD-4004"}
    )

    first = await connector.perform(fulfil)
    again = await connector.perform(fulfil, attempt=2)
    replayed_create = await connector.perform(_create("ORD-4004"), attempt=2)

    assert first["posted"] is True
    assert again["posted"] is False
    assert first["status"] == status
    assert again["status"] == status
    assert first["fully_shipped"] is True
    assert [line["shipped"] for line in first["lines"]] == ["2", "1"]
    assert len(sim.company.orders) == (0 if delete_fully_invoiced else 1)
    assert replayed_create["created"] is False  # even once BC has deleted the posted order
    assert (await connector.sales_order_status("ORD-4004"))["status"] == status
    assert sim.company.item_by_number("1896-S").data["inventory"] == 38
    assert sim.company.item_by_number("1920-S").data["inventory"] == 9
    assert len(sim.company.shipments) == 1
    assert len(sim.company.invoices) == 1
    effects = sim.effects.get("shipAndInvoice", "ORD-4004")
    assert effects is not None
    assert (effects.attempts, effects.created, effects.duplicates_refused) == (1, 1, 0)
    orders = sim.effects.get("salesOrder", "ORD-4004")
    assert orders is not None
    assert (orders.attempts, orders.created) == (1, 1)


async def test_partial_fulfilments_post_only_what_is_new(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    await connector.perform(_create("ORD-4005"))

    def fulfil(step: str, shipped: str) -> Command:
        return Command(
            f"flow:ORD-4005:{step}",
            "businesscentral",
            FULFIL_ORDER,
            {"order_id": "ORD-4005", "lines": [{"sku": "1896-S", "quantity_shipped": shipped}]},
        )

    first = await connector.perform(fulfil("ship-1", "1"))
    replay = await connector.perform(fulfil("ship-1", "1"), attempt=2)
    second = await connector.perform(fulfil("ship-2", "2"))

    assert (first["posted"], replay["posted"], second["posted"]) == (True, False, True)
    assert second["lines"][0]["shipped"] == "2"
    assert second["lines"][1]["shipped"] == "0"
    assert second["fully_shipped"] is False
    assert sim.company.item_by_number("1896-S").data["inventory"] == 38
    assert sim.company.item_by_number("1920-S").data["inventory"] == 10
    assert len(sim.company.shipments) == 2


async def test_short_inventory_is_a_permanent_dialog_error(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    await connector.perform(_create("ORD-4006", lines=[{"sku": "1920-S", "quantity": "11"}]))
    fulfil = Command(
        "flow:ORD-4006:fulfil", "businesscentral", FULFIL_ORDER, {"order_id": "ORD-4006"}
    )

    with pytest.raises(PermanentFailureError, match="Application_DialogException"):
        await connector.perform(fulfil)
    assert sim.company.item_by_number("1920-S").data["inventory"] == 10


async def test_a_customer_is_created_then_updated_by_number(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    payload = {
        "number": "C00099",
        "display_name": "Fabrikam",
        "email": "ap@fabrikam.example",
        "address": {"line1": "5 Harbour St", "city": "Seattle", "country_code": "US"},
    }
    created = await connector.perform(Command("c:1", "businesscentral", UPSERT_CUSTOMER, payload))
    updated = await connector.perform(
        Command(
            "c:2", "businesscentral", UPSERT_CUSTOMER, {**payload, "display_name": "Fabrikam Inc."}
        )
    )

    assert created["created"] is True
    assert updated["created"] is False
    assert created["bc_customer_id"] == updated["bc_customer_id"]
    customer = sim.company.customer_by(number="C00099").data
    assert (customer["displayName"], customer["city"]) == ("Fabrikam Inc.", "Seattle")
    effects = sim.effects.get("customer", "C00099")
    assert effects is not None
    assert effects.created == 1


async def test_a_customer_found_by_email_is_patched_not_duplicated(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    payload = {"display_name": "Adatum Corp.", "email": "buyer@adatum.example"}

    result = await connector.perform(Command("c:3", "businesscentral", UPSERT_CUSTOMER, payload))

    assert result == {
        "bc_customer_id": result["bc_customer_id"],
        "number": "C00010",
        "created": False,
    }
    assert len(sim.company.customers) == 1
    assert sim.company.customer_by(number="C00010").data["displayName"] == "Adatum Corp."


async def test_an_unknown_customer_on_an_order_is_permanent(
    connector: BusinessCentralConnector,
) -> None:
    with pytest.raises(PermanentFailureError, match="Internal_RecordNotFound"):
        await connector.perform(_create("ORD-5005", customer_number="C99999"))


async def test_a_ship_and_invoice_whose_answer_was_lost_is_not_posted_twice(
    connector: BusinessCentralConnector,
    sim: BusinessCentralSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
) -> None:
    connector.default_timeout = 0.5  # type: ignore[misc]
    await connector.perform(_create("ORD-4007"))
    fulfil = Command(
        "flow:ORD-4007:fulfil", "businesscentral", FULFIL_ORDER, {"order_id": "ORD-4007"}
    )
    # Seed 7: the order lookup passes, then the action posts and its answer is lost.
    await admin(raw, server, "faults", {"hang_rate": 0.5, "fault_phase": "after", "seed": 7})

    with pytest.raises(RetryLaterError, match="safe to resend"):
        await connector.perform(fulfil)
    await clear_faults(raw, server)
    retried = await connector.perform(fulfil, attempt=2)

    assert [(r.method, r.fault) for r in sim.requests.recent()][-4:] == [
        ("GET", "pass"),
        ("POST", "hang"),
        ("GET", "pass"),  # the retry: the order is gone (posted in full)...
        ("GET", "pass"),  # ...and its posted shipment says it was shipped
    ]
    assert retried["posted"] is False
    assert retried["status"] == "Posted"
    assert len(sim.company.shipments) == 1
    effects = sim.effects.get("shipAndInvoice", "ORD-4007")
    assert effects is not None
    assert (effects.attempts, effects.created) == (1, 1)
