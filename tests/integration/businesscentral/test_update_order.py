"""Business Central: ``sales_order.update`` with canonical changes against the simulator.

The ship-to address becomes the ``shipTo*`` header fields; new line quantities become line
PATCHes under the line's ETag, a POST of a new line and a DELETE of an unshipped line. Only
what differs is written, so a repeat (or the retry after an ambiguous POST) changes nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from crossdock.backbone.store import Command
from crossdock.connectorkit import PermanentFailureError, RetryLaterError
from crossdock.connectors.businesscentral import (
    CREATE_ORDER,
    FULFIL_ORDER,
    UPDATE_ORDER,
    BusinessCentralConnector,
)
from crossdock.sandbox.businesscentral import BusinessCentralSimulator
from crossdock.sandbox.kit import FaultAction, FaultSpec, RunningServer

from .conftest import admin, clear_faults, order_payload, seed_for

MOVED = {
    "first_name": "Ada",
    "last_name": "Byron",
    "line1": "7 Harbour Row",
    "city": "Savannah",
    "region_code": "GA",
    "postal_code": "31401",
    "country_code": "US",
}


def _command(kind: str, payload: dict[str, Any], key: str = "flow:edit") -> Command:
    return Command(key, "businesscentral", kind, payload)


async def _order(connector: BusinessCentralConnector, order_id: str) -> str:
    """Two desks (1896-S) and a conference table (1920-S)."""
    created = await connector.perform(_command(CREATE_ORDER, order_payload(order_id)))
    return str(created["bc_order_id"])


def _update(order_id: str, changes: dict[str, Any]) -> Command:
    return _command(UPDATE_ORDER, {"order_id": order_id, "changes": changes})


def _lines(sim: BusinessCentralSimulator, bc_id: str) -> list[tuple[str, int, int]]:
    """SKU, quantity and shipped quantity of each line (whole units in these tests)."""
    return [
        (c.data["lineObjectNumber"], int(c.data["quantity"]), int(c.data["shippedQuantity"]))
        for c in sim.company.order(bc_id).children
    ]


def _writes(sim: BusinessCentralSimulator) -> list[tuple[str, int | None]]:
    return [
        (r.method, r.status)
        for r in sim.requests.recent()
        if r.method in {"PATCH", "POST", "DELETE"} and "/token" not in r.path
    ]


async def test_a_canonical_address_becomes_every_ship_to_field_once(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    bc_id = await _order(connector, "ORD-8001")
    edit = _update("ORD-8001", {"shipping_address": MOVED})

    result = await connector.perform(edit)
    writes = len(_writes(sim))
    again = await connector.perform(edit, attempt=2)

    order = sim.company.order(bc_id).data
    assert {k: order[k] for k in order if k.startswith("shipTo")} == {
        "shipToName": "Ada Byron",
        "shipToContact": "Ada Byron",
        "shipToAddressLine1": "7 Harbour Row",
        "shipToAddressLine2": "",
        "shipToCity": "Savannah",
        "shipToState": "GA",
        "shipToPostCode": "31401",
        "shipToCountry": "US",
    }
    assert result["updated"] == again["updated"] == ["shipping_address"]
    assert len(_writes(sim)) == writes  # the repeat found every field set: nothing written


async def test_header_fields_by_business_central_names_still_go_as_given(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    bc_id = await _order(connector, "ORD-8002")

    await connector.perform(_update("ORD-8002", {"requestedDeliveryDate": "2026-12-09"}))

    assert sim.company.order(bc_id).data["requestedDeliveryDate"] == "2026-12-09"


async def test_line_quantities_are_patched_deleted_and_added_and_a_repeat_writes_nothing(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    bc_id = await _order(connector, "ORD-8003")
    before = len(_writes(sim))
    edit = _update(
        "ORD-8003",
        {
            "lines": [
                {"line_id": "1", "sku": "1896-S", "quantity": 3},
                {"line_id": "2", "sku": "1920-S", "quantity": 0},
                {
                    "line_id": "3",
                    "sku": "1936-S",
                    "quantity": 4,
                    "unit_price": {"amount": "190.00", "currency": "USD"},
                    "title": "BERLIN Guest Chair",
                },
            ]
        },
    )

    result = await connector.perform(edit)
    after = len(_writes(sim))
    await connector.perform(edit, attempt=2)

    assert _lines(sim, bc_id) == [("1896-S", 3, 0), ("1936-S", 4, 0)]
    assert [method for method, _ in _writes(sim)[before:after]] == ["PATCH", "DELETE", "POST"]
    assert len(_writes(sim)) == after
    order = sim.company.order(bc_id)
    chair = order.children[1].data
    assert (chair["unitPrice"], chair["description"]) == (Decimal("190.00"), "BERLIN Guest Chair")
    assert order.data["totalAmountIncludingTax"] == 3 * Decimal("1000.80") + 4 * Decimal("190")
    assert result["updated"] == ["lines"]


@pytest.mark.parametrize("conflict_status", [409, 412])
async def test_a_stale_line_etag_is_settled_by_rereading_the_line(
    make_connector: Any,
    sim: BusinessCentralSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
    conflict_status: int,
) -> None:
    connector: BusinessCentralConnector = make_connector()
    await admin(raw, server, "businesscentral/settings", {"conflict_status": conflict_status})
    bc_id = await _order(connector, "ORD-8004")
    desk, table = sim.company.order(bc_id).children
    for line in (desk, table):  # another user touches each line just before our write
        await admin(
            raw,
            server,
            "businesscentral/interfere",
            {"order_id": bc_id, "line_id": line.id, "changes": {"description": "theirs"}},
        )
        lines = [{"sku": "1896-S", "quantity": 5}] if line is desk else []
        lines = lines or [{"sku": "1920-S", "quantity": 0}]
        await connector.perform(_update("ORD-8004", {"lines": lines}))

    assert _lines(sim, bc_id) == [("1896-S", 5, 0)]
    assert sim.company.order(bc_id).children[0].data["description"] == "theirs"  # kept
    assert connector.conflicts_settled == 2
    assert [s for _, s in _writes(sim)][-4:] == [conflict_status, 200, conflict_status, 204]


async def test_zero_on_a_partly_shipped_line_lowers_it_to_what_shipped(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    bc_id = await _order(connector, "ORD-8005")
    fulfil = {"order_id": "ORD-8005", "lines": [{"sku": "1896-S", "quantity_shipped": "1"}]}
    await connector.perform(_command(FULFIL_ORDER, fulfil))

    await connector.perform(_update("ORD-8005", {"lines": [{"sku": "1896-S", "quantity": 0}]}))

    assert _lines(sim, bc_id)[0] == ("1896-S", 1, 1)


async def test_a_quantity_below_what_shipped_is_refused_by_business_central(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    bc_id = await _order(connector, "ORD-8006")
    fulfil = {"order_id": "ORD-8006", "lines": [{"sku": "1896-S", "quantity_shipped": "2"}]}
    await connector.perform(_command(FULFIL_ORDER, fulfil))

    with pytest.raises(PermanentFailureError, match="less than the quantity shipped"):
        await connector.perform(_update("ORD-8006", {"lines": [{"sku": "1896-S", "quantity": 1}]}))

    assert _lines(sim, bc_id)[0] == ("1896-S", 2, 2)


async def test_a_line_without_a_sku_is_refused_by_name(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    bc_id = await _order(connector, "ORD-8007")

    with pytest.raises(PermanentFailureError, match="lines without a sku"):
        await connector.perform(_update("ORD-8007", {"lines": [{"line_id": "1", "quantity": 4}]}))

    assert _lines(sim, bc_id) == [("1896-S", 2, 0), ("1920-S", 1, 0)]


async def test_an_ambiguous_post_of_a_new_line_is_retried_and_adds_one_line(
    connector: BusinessCentralConnector,
    sim: BusinessCentralSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
) -> None:
    bc_id = await _order(connector, "ORD-8008")
    # The lookup passes; the POST takes effect and its answer is lost (504).
    spec = FaultSpec(error_rate=0.5, error_status=504, fault_phase="after")
    pattern = [FaultAction.PASS, FaultAction.ERROR]
    faults = spec.model_copy(update={"seed": seed_for(pattern, spec)})
    edit = _update("ORD-8008", {"lines": [{"sku": "1936-S", "quantity": 2}]})
    await admin(raw, server, "faults", faults.model_dump(mode="json", exclude_none=True))

    with pytest.raises(RetryLaterError):
        await connector.perform(edit)
    await clear_faults(raw, server)
    calls = [(r.method, r.fault) for r in sim.requests.recent()][-2:]
    assert calls == [("GET", "pass"), ("POST", "error")]
    await connector.perform(edit, attempt=2)

    assert _lines(sim, bc_id) == [("1896-S", 2, 0), ("1920-S", 1, 0), ("1936-S", 2, 0)]
    effects = sim.effects.get("salesOrderLine", "ORD-8008:1936-S")
    assert effects is not None
    assert (effects.attempts, effects.created) == (1, 1)


async def test_a_sku_on_two_lines_has_its_new_units_spread_over_them(
    connector: BusinessCentralConnector, sim: BusinessCentralSimulator
) -> None:
    payload = order_payload(
        "ORD-8009",
        lines=[{"sku": "1936-S", "quantity": "2"}, {"sku": "1936-S", "quantity": "1"}],
    )
    created = await connector.perform(_command(CREATE_ORDER, payload))
    bc_id = str(created["bc_order_id"])

    await connector.perform(_update("ORD-8009", {"lines": [{"sku": "1936-S", "quantity": 6}]}))
    assert _lines(sim, bc_id) == [("1936-S", 2, 0), ("1936-S", 4, 0)]

    await connector.perform(_update("ORD-8009", {"lines": [{"sku": "1936-S", "quantity": 1}]}))
    assert _lines(sim, bc_id) == [("1936-S", 1, 0)]  # the last line emptied and deleted
