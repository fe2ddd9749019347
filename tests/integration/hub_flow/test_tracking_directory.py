"""EasyPost trackers find their order through the flow's tracking links in a real store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from crossdock.backbone.sqlite import SQLiteStore
from crossdock.backbone.store import InboxStatus
from crossdock.canonical.ids import new_id
from crossdock.connectorkit.http import HttpClient, InProcessTransport, make_headers
from crossdock.connectorkit.http import HttpResponse as _Response
from crossdock.connectors.easypost import EasyPostConnector
from crossdock.flows.order_fulfilment.decide import tracking_link
from crossdock.hub.decoder import DecodeWorker
from crossdock.hub.directories import (
    StoreShipmentDirectory,
    TrackerNotLinkedError,
    carrier_spellings,
)
from crossdock.hub.inbound import ConnectorInbound
from crossdock.runtime.clock import ManualClock

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "payloads" / "easypost"
UPS_CODE = "1Z999AA10123456784"  # the tracker of ups_tracker_updated_delivered.json


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "hub.db", synchronous="NORMAL")
    await s.start()
    yield s
    await s.close()


async def _unused(_: Any) -> _Response:  # pragma: no cover - decoding never calls out
    return _Response(500, make_headers(), b"")


def _connector(directory: StoreShipmentDirectory) -> EasyPostConnector:
    http = HttpClient(InProcessTransport.from_handler(_unused))
    return EasyPostConnector(http=http, api_key="k", webhook_secrets=["s"], directory=directory)


async def test_a_link_written_the_way_the_flow_writes_it_is_found(store: SQLiteStore) -> None:
    order_id, code = new_id(), "9400110200881234567890"
    # ShipStation's decoder names the carrier "USPS" (stamps_com); the flow lower-cases it.
    await store.link(order_id, tracking_link("USPS", code), code)
    directory = StoreShipmentDirectory(store)

    for carrier in ("USPS", "usps", " Usps "):
        ref = await directory.find(carrier, code)
        assert ref is not None
        assert ref.order.id == order_id


async def test_easypost_carrier_spelling_meets_the_hub_spelling(store: SQLiteStore) -> None:
    order_id = new_id()
    await store.link(order_id, tracking_link("DHL Express", "JD0142"), "JD0142")
    directory = StoreShipmentDirectory(store)

    ref = await directory.find("DHLExpress", "JD0142")

    assert ref is not None
    assert ref.order.id == order_id
    assert carrier_spellings("DHLExpress") == ["dhlexpress", "dhl express"]


async def test_a_code_is_only_found_at_its_own_carrier(store: SQLiteStore) -> None:
    await store.link(new_id(), tracking_link("UPS", "CODE1"), "CODE1")
    directory = StoreShipmentDirectory(store, give_up_after=0)

    assert await directory.find("FedEx", "CODE1") is None


async def test_an_unlinked_tracker_is_retried_then_dead_lettered(store: SQLiteStore) -> None:
    clock = ManualClock()
    directory = StoreShipmentDirectory(store, clock=clock, give_up_after=600)

    with pytest.raises(TrackerNotLinkedError, match="1ZNEVER"):
        await directory.find("UPS", "1ZNEVER")
    clock.advance(599)
    with pytest.raises(TrackerNotLinkedError):
        await directory.find("UPS", "1ZNEVER")
    clock.advance(1)

    assert await directory.find("UPS", "1ZNEVER") is None


async def test_a_link_arriving_within_the_wait_is_found(store: SQLiteStore) -> None:
    clock = ManualClock()
    directory = StoreShipmentDirectory(store, clock=clock, give_up_after=600)
    with pytest.raises(TrackerNotLinkedError):
        await directory.find("UPS", "1ZLATE")
    order_id = new_id()
    await store.link(order_id, tracking_link("UPS", "1ZLATE"), "1ZLATE")
    clock.advance(30)

    ref = await directory.find("UPS", "1ZLATE")

    assert ref is not None
    assert ref.order.id == order_id


def test_a_negative_wait_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="give_up_after"):
        StoreShipmentDirectory(SQLiteStore(tmp_path / "x.db"), give_up_after=-1)


async def test_a_tracker_webhook_before_its_link_is_decoded_once_linked(
    store: SQLiteStore,
) -> None:
    connector = _connector(StoreShipmentDirectory(store))
    inbound = ConnectorInbound(
        name="easypost", connector=connector, dedupe=lambda _h, _b: "evt-race-1"
    )
    body = (FIXTURES / "ups_tracker_updated_delivered.json").read_bytes()
    recorded = await store.record_delivery(connector.delivery({}, body, correlation_id="corr-1"))
    worker = DecodeWorker(store, {"easypost": inbound}, lease_seconds=0.05, idle_seconds=0.01)

    await worker.run_once()  # the webhook beat the flow: no link yet

    row = await store.get_inbox(recorded.inbox_id)
    assert row is not None
    assert row.status is not InboxStatus.DEAD
    assert [s for s in await store.read_events(0) if s.event.type == "shipment.updated"] == []

    order_id = new_id()
    await store.link(order_id, tracking_link("UPS", UPS_CODE), UPS_CODE)
    await asyncio.sleep(0.1)  # let the claim lapse, as the worker would
    await worker.drain()

    row = await store.get_inbox(recorded.inbox_id)
    assert row is not None
    assert row.status is InboxStatus.DECODED
    shipments = [s.event for s in await store.read_events(0) if s.event.type == "shipment.updated"]
    assert len(shipments) == 1
    assert shipments[0].data["order"]["id"] == order_id
    assert shipments[0].data["status"] == "delivered"
