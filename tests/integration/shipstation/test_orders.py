"""Releasing, holding and cancelling orders against the simulator on a loopback port."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from crossdock.backbone.store import Command
from crossdock.connectorkit import PermanentFailureError
from crossdock.connectors.shipstation import (
    CANCEL_COMMAND,
    HOLD_COMMAND,
    RELEASE_COMMAND,
    UNHOLD_COMMAND,
    ShipStationConnector,
)
from crossdock.sandbox.kit import RunningServer
from crossdock.sandbox.shipstation import ShipStationSimulator

ORDER_KEY = "0193f1c2-7a51-7c3e-9d2b-5e8f4a1b2c3d"


def _command(kind: str, payload: dict[str, Any], key: str = "flow-1:step-1") -> Command:
    return Command(idempotency_key=key, destination="shipstation", kind=kind, payload=payload)


async def _effects(raw: aiohttp.ClientSession, server: RunningServer, kind: str) -> dict[str, Any]:
    url = f"{server.base_url}/_sandbox/effects?kind={kind}&key={ORDER_KEY}"
    async with raw.get(url) as response:
        body: dict[str, Any] = await response.json()
    return dict(body["effects"][kind].get(ORDER_KEY, {}))


async def test_releasing_twice_makes_one_order(
    connector: ShipStationConnector,
    server: RunningServer,
    raw: aiohttp.ClientSession,
    order_json: dict[str, Any],
) -> None:
    first = await connector.perform(_command(RELEASE_COMMAND, {"order": order_json}))
    again = await connector.perform(_command(RELEASE_COMMAND, {"order": order_json}), attempt=2)

    assert first["order_id"] == again["order_id"]
    assert first["order_key"] == ORDER_KEY
    assert again["order_status"] == "awaiting_shipment"
    effects = await _effects(raw, server, "order")
    assert (effects["attempts"], effects["created"]) == (2, 1)
    found = await connector.find_order(ORDER_KEY, "#1042")
    assert found is not None
    assert found["orderId"] == first["order_id"]
    assert [i["sku"] for i in found["items"]] == ["MUG-RED", "BAG-20L"]
    assert found["shipTo"]["name"] == "Zoë Ørsted"


async def test_a_refused_order_is_permanent_with_shipstations_body(
    connector: ShipStationConnector,
) -> None:
    with pytest.raises(PermanentFailureError) as refused:
        await connector.upsert_order({"orderNumber": "#1", "orderKey": "k-1"})

    assert refused.value.classification is not None
    assert refused.value.classification.status == 400
    assert "The orderDate field is required." in str(refused.value)


async def test_hold_restore_and_cancel(
    connector: ShipStationConnector, sim: ShipStationSimulator, order_json: dict[str, Any]
) -> None:
    released = await connector.perform(_command(RELEASE_COMMAND, {"order": order_json}))
    by_key = {"order_key": ORDER_KEY, "order_number": "#1042"}

    held = await connector.perform(_command(HOLD_COMMAND, by_key | {"hold_until": "2026-12-01"}))
    assert held == {
        "order_id": released["order_id"],
        "order_status": "on_hold",
        "hold_until": "2026-12-01",
    }
    assert sim.state.orders[released["order_id"]]["holdUntilDate"] == "2026-12-01"

    restored = await connector.perform(_command(UNHOLD_COMMAND, {"order_id": held["order_id"]}))
    again = await connector.perform(_command(UNHOLD_COMMAND, {"order_id": held["order_id"]}))
    assert restored["order_status"] == again["order_status"] == "awaiting_shipment"
    assert again.get("already") is True

    cancelled = await connector.perform(_command(CANCEL_COMMAND, by_key))
    twice = await connector.perform(_command(CANCEL_COMMAND, {"order": order_json}))
    assert cancelled["order_status"] == twice["order_status"] == "cancelled"
    assert len(sim.state.orders) == 1


async def test_a_shipped_order_can_no_longer_be_cancelled(
    connector: ShipStationConnector, sim: ShipStationSimulator, order_json: dict[str, Any]
) -> None:
    released = await connector.perform(_command(RELEASE_COMMAND, {"order": order_json}))
    sim.ship(released["order_id"], {}, notify=False)

    with pytest.raises(PermanentFailureError, match="can no longer be cancelled"):
        await connector.perform(_command(CANCEL_COMMAND, {"order": order_json}))
    assert sim.state.orders[released["order_id"]]["orderStatus"] == "shipped"


async def test_bulk_create_reports_each_order(
    server: RunningServer, sim: ShipStationSimulator, raw: aiohttp.ClientSession
) -> None:
    creds = sim.credentials_for(server.base_url)
    good = {
        "orderNumber": "B-1",
        "orderKey": "bulk-1",
        "orderDate": "2026-11-20T00:15:00.0000000",
        "orderStatus": "awaiting_shipment",
        "billTo": {"name": "A"},
        "shipTo": {"name": "A"},
    }
    auth = aiohttp.encode_basic_auth(creds["api_key"], creds["api_secret"])
    async with raw.post(
        f"{server.base_url}/orders/createorders",
        json=[good, {"orderNumber": "B-2"}, good],
        headers={"Authorization": auth},
    ) as response:
        body = await response.json()

    assert response.status == 200
    assert body["hasErrors"] is True
    assert [r["success"] for r in body["results"]] == [True, False, True]
    assert body["results"][0]["orderId"] == body["results"][2]["orderId"]
