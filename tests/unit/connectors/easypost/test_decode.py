"""Decoding real-shaped EasyPost Events (raw UPS/FedEx codes included) into shipment.updated."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crossdock.backbone.store import Delivery
from crossdock.canonical.envelope import Event
from crossdock.canonical.events import dataschema_for
from crossdock.canonical.refs import OrderRef
from crossdock.canonical.shipment import Shipment
from crossdock.connectorkit.http import HttpClient, InProcessTransport, make_headers
from crossdock.connectorkit.http import HttpResponse as _Response
from crossdock.connectors.easypost import (
    DecodeError,
    EasyPostConnector,
    InMemoryShipmentDirectory,
    ShipmentRef,
    parse_event,
    shipment_from_tracker,
)

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "payloads" / "easypost"
ORDER = OrderRef(id="0193a5b0-7c1e-7d2a-9f00-000000000042", number="#1042")
SHIPMENT_ID = "0193a5b0-7c1e-7d2a-9f00-0000000000a1"


def raw(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def body(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(raw(name))
    return loaded


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


async def _unused(_: Any) -> _Response:  # pragma: no cover - decode never calls out
    return _Response(500, make_headers(), b"")


@pytest.fixture
def directory() -> InMemoryShipmentDirectory:
    found = InMemoryShipmentDirectory()
    ref = ShipmentRef(order=ORDER, shipment_id=SHIPMENT_ID)
    for carrier, code in [
        ("UPS", "1Z999AA10123456784"),
        ("UPS", "1Z999AA10123456785"),
        ("FedEx", "794644790138"),
        ("USPS", "9400110200881234567890"),
    ]:
        found.add(carrier, code, ref)
    return found


@pytest.fixture
def connector(directory: InMemoryShipmentDirectory) -> EasyPostConnector:
    http = HttpClient(InProcessTransport.from_handler(_unused))
    return EasyPostConnector(
        http=http, api_key="EZTK_test", webhook_secrets=["s"], directory=directory
    )


async def decode_one(connector: EasyPostConnector, payload: bytes) -> Event:
    delivery = connector.delivery({"X-Hmac-Signature": "x"}, payload, correlation_id="corr-1")
    events = await connector.decode(delivery)
    assert len(events) == 1
    return events[0]


async def test_ups_delivered_decodes_to_exact_shipment_data(
    connector: EasyPostConnector,
) -> None:
    event = await decode_one(connector, raw("ups_tracker_updated_delivered"))
    assert event.type == "shipment.updated"
    assert event.source == "easypost"
    assert event.subject == SHIPMENT_ID
    assert event.dataschema == dataschema_for("shipment.updated")
    assert event.correlationid == "corr-1"
    assert event.time == datetime(2026, 11, 25, 13, 5, 11, tzinfo=UTC)
    assert event.data == {
        "schema_version": "shipment.v1",
        "id": SHIPMENT_ID,
        "order": {"id": ORDER.id, "number": "#1042"},
        "lines": [],
        "carrier": "UPS",
        "service": "Ground",
        "tracking_number": "1Z999AA10123456784",
        "tracking_url": "https://track.easypost.com/djE67f2c0a1b9d3e4f5a",
        "status": "delivered",
        "status_detail": "arrived_at_destination",
        "location": None,
        "shipped_at": "2026-11-23T14:12:00Z",
        "estimated_delivery_at": "2026-11-26T20:00:00Z",
        "delivered_at": "2026-11-25T13:02:00Z",
        "final": None,  # a carrier says nothing of what the warehouse picked
        "short_lines": None,
    }
    assert Shipment.model_validate(event.data).status == "delivered"


async def test_ups_x_with_damage_text_is_a_failure(connector: EasyPostConnector) -> None:
    event = await decode_one(connector, raw("ups_tracker_updated_exception_damaged"))
    assert (event.data["status"], event.data["status_detail"]) == ("failure", "damaged")
    assert event.data["delivered_at"] is None


async def test_ups_x_without_failure_words_stays_in_transit(connector: EasyPostConnector) -> None:
    payload = body("ups_tracker_updated_exception_damaged")
    last = payload["result"]["tracking_details"][-1]
    last["message"] = "THE RECEIVER WAS NOT AVAILABLE FOR DELIVERY."
    last["status"], last["status_detail"] = "in_transit", "delivery_exception"
    event = await decode_one(connector, encode(payload))
    assert (event.data["status"], event.data["status_detail"]) == (
        "in_transit",
        "delivery_exception",
    )


async def test_fedex_hl_is_available_for_pickup(connector: EasyPostConnector) -> None:
    event = await decode_one(connector, raw("fedex_tracker_updated_hold_at_location"))
    assert (event.data["status"], event.data["status_detail"]) == (
        "available_for_pickup",
        "arrived_at_pickup_location",
    )
    assert event.data["shipped_at"] == "2026-11-23T15:00:00Z"


async def test_without_carrier_codes_easypost_status_is_kept(connector: EasyPostConnector) -> None:
    event = await decode_one(connector, raw("usps_tracker_created_no_carrier_codes"))
    assert (event.data["status"], event.data["status_detail"]) == ("pre_transit", "label_created")
    assert event.data["estimated_delivery_at"] is None
    assert event.data["shipped_at"] is None


def test_the_carrier_code_wins_when_easypost_disagrees() -> None:
    payload = body("ups_tracker_updated_delivered")
    tracker = payload["result"]
    tracker["tracking_details"] = tracker["tracking_details"][:2]  # M, then P (pickup)
    tracker["tracking_details"][-1]["status"] = "pre_transit"  # some map P to pre_transit
    tracker["status"], tracker["status_detail"] = "pre_transit", "status_update"
    shipment = shipment_from_tracker(tracker, ShipmentRef(order=ORDER))
    assert (shipment.status, shipment.status_detail) == ("in_transit", "in_transit")


def test_an_unknown_carrier_code_falls_back_to_easypost() -> None:
    payload = body("ups_tracker_updated_delivered")
    tracker = payload["result"]
    tracker["tracking_details"][-1]["carrier_code"] = "ZZ"
    shipment = shipment_from_tracker(tracker, ShipmentRef(order=ORDER))
    assert (shipment.status, shipment.status_detail) == ("delivered", "arrived_at_destination")


def test_scans_out_of_order_are_read_in_time_order() -> None:
    payload = body("ups_tracker_updated_delivered")
    tracker = payload["result"]
    tracker["tracking_details"].reverse()
    shipment = shipment_from_tracker(tracker, ShipmentRef(order=ORDER))
    assert shipment.status == "delivered"


def test_parse_event_reads_id_description_and_previous_status() -> None:
    parsed = parse_event(raw("ups_tracker_updated_delivered"))
    assert parsed.id == "evt_3c3f9a4e8a5c11f1b7d50242ac120002"
    assert parsed.description == "tracker.updated"
    assert parsed.previous_status == "out_for_delivery"
    assert parsed.mode == "test"


def test_dedupe_key_is_the_event_id(connector: EasyPostConnector) -> None:
    payload = raw("fedex_tracker_updated_hold_at_location")
    assert connector.dedupe_key(payload) == "evt_8e7f6a5b8a5c11f1b7d50242ac120002"
    delivery = connector.delivery({"X-HMAC-Signature": "sig", "X-Other": "dropped"}, payload)
    assert delivery.dedupe_key == "evt_8e7f6a5b8a5c11f1b7d50242ac120002"
    assert delivery.body == payload
    assert delivery.headers == {"X-HMAC-Signature": "sig"}
    assert delivery.correlation_id


def _mutated(change: Any) -> bytes:
    payload = body("ups_tracker_updated_delivered")
    change(payload)
    return encode(payload)


def _set(path: list[Any], value: Any) -> Any:
    def change(payload: dict[str, Any]) -> None:
        target: Any = payload
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (raw("batch_updated_unknown_description"), "unknown event description 'batch.updated'"),
        (_mutated(_set(["object"], "Tracker")), "object must be 'Event'"),
        (_mutated(_set(["id"], None)), "event.id"),
        (_mutated(_set(["id"], "trk_1")), "evt_"),
        (_mutated(_set(["result"], {"object": "Shipment"})), "must carry a Tracker"),
        (_mutated(_set(["result", "tracking_details"], {})), "tracking_details must be a list"),
        (
            _mutated(_set(["result", "tracking_details", 0, "datetime"], "yesterday")),
            "not an ISO 8601 timestamp",
        ),
        (_mutated(_set(["result", "carrier"], "")), "tracker.carrier"),
        (_mutated(_set(["updated_at"], 12)), "event.updated_at"),
    ],
)
async def test_malformed_payloads_raise_a_clear_decode_error(
    connector: EasyPostConnector, payload: bytes, reason: str
) -> None:
    delivery = Delivery(source="easypost", dedupe_key="k", body=payload, correlation_id="c")
    with pytest.raises(DecodeError, match=reason):
        await connector.decode(delivery)


def test_an_unknown_status_without_a_known_code_is_a_decode_error() -> None:
    payload = body("usps_tracker_created_no_carrier_codes")
    payload["result"]["status"] = "teleported"
    with pytest.raises(DecodeError, match="teleported"):
        shipment_from_tracker(payload["result"], ShipmentRef(order=ORDER))


async def test_a_tracker_the_hub_does_not_know_is_a_decode_error(
    connector: EasyPostConnector,
) -> None:
    payload = body("ups_tracker_updated_delivered")
    payload["result"]["tracking_code"] = "1ZUNKNOWN"
    delivery = Delivery(source="easypost", dedupe_key="k", body=encode(payload))
    with pytest.raises(DecodeError, match="no hub shipment is linked to UPS tracking code"):
        await connector.decode(delivery)


async def test_decode_error_is_permanent_for_the_worker() -> None:
    from crossdock.runtime.errors import PermanentError

    assert issubclass(DecodeError, PermanentError)


def test_the_api_key_never_shows_in_a_repr(connector: EasyPostConnector) -> None:
    assert "EZTK_test" not in repr(connector.auth)
    assert "EZTK_test" not in repr(connector)
