"""SHIP_NOTIFY end to end: warehouse ships in parts, voids a label, the hub decodes by fetching."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from crossdock.backbone.store import Command
from crossdock.connectors.shipstation import (
    RELEASE_COMMAND,
    ShipStationConnector,
    shipment_event_id,
)
from crossdock.sandbox.kit import ChaosSpec, RunningServer
from crossdock.sandbox.shipstation import AutoShip, ShipStationSimulator

from .conftest import HOOK_TOKEN, Receiver


async def _release(connector: ShipStationConnector, order_json: dict[str, Any]) -> int:
    command = Command("flow-1:release", "shipstation", RELEASE_COMMAND, {"order": order_json})
    result = await connector.perform(command)
    return int(result["order_id"])


def _lines(receiver: Receiver, status: str) -> list[list[tuple[str, int]]]:
    return [
        [(line["sku"], line["quantity"]) for line in event.data["lines"]]
        for event in receiver.events.values()
        if event.data["status"] == status
    ]


async def test_partial_shipments_arrive_as_shipment_events(
    connector: ShipStationConnector,
    sim: ShipStationSimulator,
    receiver: Receiver,
    raw: aiohttp.ClientSession,
    server: RunningServer,
    order_json: dict[str, Any],
) -> None:
    hook_id = await connector.subscribe(connector.hook_url(receiver.url), "SHIP_NOTIFY")
    order_id = await _release(connector, order_json)

    ship_url = f"{server.base_url}/_sandbox/shipstation/ship"
    part = {"orderId": order_id, "items": [{"lineItemKey": "13459672301", "quantity": 1}]}
    async with raw.post(ship_url, json=part) as response:
        assert response.status == 201, await response.text()
    assert sim.state.orders[order_id]["orderStatus"] == "awaiting_shipment"
    async with raw.post(ship_url, json={"orderId": order_id, "carrierCode": "fedex"}) as response:
        assert response.status == 201
    assert sim.webhooks is not None
    await sim.webhooks.drain(10)

    assert hook_id >= 1
    assert len(receiver.deliveries) == 2
    assert sorted(_lines(receiver, "pre_transit")) == [
        [("MUG-RED", 1)],
        [("MUG-RED", 1), ("BAG-20L", 1)],
    ]
    events = list(receiver.events.values())
    assert {e.data["order"]["id"] for e in events} == {order_json["id"]}
    assert events[1].data["carrier"] == "FedEx"
    assert all(e.data["tracking_number"] for e in events)
    assert all(e.data["location"] == "wh-reno" for e in events)
    assert sim.state.orders[order_id]["orderStatus"] == "shipped"
    assert sim.effects.get("shipment", order_json["id"]) is not None


async def test_a_voided_label_reverses_its_shipment(
    connector: ShipStationConnector,
    sim: ShipStationSimulator,
    receiver: Receiver,
    order_json: dict[str, Any],
) -> None:
    await connector.subscribe(connector.hook_url(receiver.url), "SHIP_NOTIFY")
    order_id = await _release(connector, order_json)
    shipment, _ = sim.ship(order_id, {})
    assert sim.webhooks is not None
    await sim.webhooks.drain(10)

    response = await connector.call(
        "POST", "/shipments/voidlabel", json={"shipmentId": shipment["shipmentId"]}
    )
    assert response.json()["approved"] is True
    await sim.webhooks.drain(10)

    shipped = receiver.events[shipment_event_id(shipment["shipmentId"], voided=False)]
    reversal = receiver.events[shipment_event_id(shipment["shipmentId"], voided=True)]
    assert shipped.data["status"] == "pre_transit"
    assert reversal.data["status"] == "cancelled"
    assert reversal.data["tracking_number"] == shipped.data["tracking_number"]
    assert reversal.subject == shipped.subject
    assert sim.state.orders[order_id]["orderStatus"] == "awaiting_shipment"
    voids = sim.effects.get("void", order_json["id"])
    assert voids is not None
    assert voids.created == 1


async def test_an_unknown_token_gets_401_and_decodes_nothing(
    connector: ShipStationConnector,
    sim: ShipStationSimulator,
    receiver: Receiver,
    raw: aiohttp.ClientSession,
    order_json: dict[str, Any],
) -> None:
    await connector.subscribe(f"{receiver.url}/not-{HOOK_TOKEN}", "SHIP_NOTIFY")
    order_id = await _release(connector, order_json)
    sim.ship(order_id, {})
    assert sim.webhooks is not None
    await sim.webhooks.drain(10)

    assert receiver.events == {}
    assert receiver.deliveries == []
    assert set(receiver.refused) == {401}
    assert {a.status for a in sim.webhooks.attempts} == {401}
    async with raw.post(f"{receiver.url}/guessed-token", data=b"{}") as response:
        assert response.status == 401


async def test_duplicated_notices_decode_to_the_same_events(
    connector: ShipStationConnector,
    sim: ShipStationSimulator,
    receiver: Receiver,
    order_json: dict[str, Any],
) -> None:
    assert sim.webhooks is not None
    sim.webhooks.configure_chaos(ChaosSpec(duplicate_rate=1.0), seed=3)
    await connector.subscribe(connector.hook_url(receiver.url), "SHIP_NOTIFY")
    order_id = await _release(connector, order_json)
    sim.ship(order_id, {})
    await sim.webhooks.drain(10)

    assert len(receiver.deliveries) == 2
    assert len(set(receiver.deliveries)) == 1  # the inbox would keep one
    assert len(receiver.events) == 1


async def test_automatic_progression_ships_part_now_and_the_rest_later(
    make_connector: Any,
    sim: ShipStationSimulator,
    receiver: Receiver,
    order_json: dict[str, Any],
) -> None:
    sim.auto_ship = AutoShip(first_after_s=0.05, rest_after_s=0.05, split=True)
    connector = make_connector()
    await connector.subscribe(connector.hook_url(receiver.url), "SHIP_NOTIFY")
    order_id = await _release(connector, order_json)
    assert sim.webhooks is not None
    for _ in range(200):
        await sim.webhooks.drain(10)
        if sim.state.orders[order_id]["orderStatus"] == "shipped" and not sim.webhooks.pending:
            break
        await asyncio.sleep(0.02)
    await sim.webhooks.drain(10)

    shipped = _lines(receiver, "pre_transit")
    assert len(shipped) == 2
    units = sum(qty for lines in shipped for _, qty in lines)
    assert units == 3  # two mugs and one bag, across a partial and a final shipment
