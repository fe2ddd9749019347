"""SHIP_NOTIFY bodies and shipments -> canonical shipment events."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from crossdock.canonical.events import dataschema_for
from crossdock.canonical.shipment import Shipment
from crossdock.connectors.shipstation import (
    DecodeError,
    carrier_name,
    parse_notification,
    parse_shipments_page,
    shipment_event_id,
    shipment_events,
    shipment_from_shipstation,
    with_items,
)
from crossdock.connectors.shipstation.shipments import same_origin, with_page


def test_the_notification_is_only_a_resource_url_and_type(raw_payload: Callable[[str], bytes]):
    notice = parse_notification(raw_payload("ship_notify.json"))

    assert notice.resource_type == "SHIP_NOTIFY"
    assert notice.resource_url.endswith("batchId=76543210&includeShipmentItems=False")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"resource_type": "SHIP_NOTIFY"}', "no resource_url"),
        (b'{"resource_url": "https://ssapi.shipstation.com/shipments"}', "no resource_type"),
        (b'{"resource_url": "/shipments?batchId=1", "resource_type": "SHIP_NOTIFY"}', "absolute"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_malformed_notifications_raise_decode_error_with_a_reason(body: bytes, reason: str):
    with pytest.raises(DecodeError, match=reason):
        parse_notification(body)


def test_items_are_asked_for_and_other_parameters_kept() -> None:
    url = "https://ssapi.shipstation.com/shipments?batchId=76543210&includeShipmentItems=False"

    flipped = with_items(url)
    assert flipped == (
        "https://ssapi.shipstation.com/shipments?batchId=76543210&includeShipmentItems=True"
    )
    assert with_items("https://h/shipments?batchId=1").endswith("includeShipmentItems=True")
    assert "page=3" in with_page(flipped, 3)


def test_credentials_only_go_to_the_api_origin() -> None:
    base = "https://ssapi.shipstation.com"
    assert same_origin("https://ssapi.shipstation.com/shipments?batchId=1", base)
    assert same_origin("https://ssapi.shipstation.com:443/shipments", base)
    assert not same_origin("https://evil.example/shipments?batchId=1", base)
    assert not same_origin("http://ssapi.shipstation.com/shipments", base)


def test_a_live_label_becomes_a_pre_transit_shipment(payload: Callable[[str], Any]) -> None:
    data = payload("shipments_batch_76543210_items.json")["shipments"][0]

    shipment = shipment_from_shipstation(data, location="wh-reno")

    assert isinstance(shipment, Shipment)
    assert shipment.order.id == "0193f1c2-7a51-7c3e-9d2b-5e8f4a1b2c3d"
    assert shipment.order.number == "#1042"
    assert (shipment.carrier, shipment.service) == ("UPS", "ups_ground")
    assert shipment.tracking_number == "1Z9X4E270393728190"
    assert (shipment.status, shipment.status_detail) == ("pre_transit", "label_created")
    assert [(ln.line_id, ln.sku, ln.quantity) for ln in shipment.lines] == [
        ("13459672301", "MUG-RED", 2)
    ]
    assert shipment.location == "wh-reno"
    assert shipment.shipped_at is not None
    assert shipment.shipped_at.isoformat() == "2026-11-21T07:42:18.193000-08:00"


def test_a_voided_label_is_a_distinct_reversal_event(payload: Callable[[str], Any]) -> None:
    page = parse_shipments_page(payload("shipments_batch_76543210_items.json"))

    events = shipment_events(page.shipments, source="shipstation", correlation_id="c-1")

    assert [e.data["status"] for e in events] == ["pre_transit", "cancelled"]
    voided = events[1]
    assert voided.type == "shipment.updated"
    assert voided.dataschema == dataschema_for("shipment.updated")
    assert voided.subject == "shipstation:shipment:540118823"
    assert voided.data["carrier"] == "FedEx"
    assert voided.data["status_detail"] == "cancelled"
    assert voided.id == shipment_event_id(540118823, voided=True)
    assert voided.id != shipment_event_id(540118823, voided=False)
    assert voided.time.isoformat() == "2026-11-21T09:05:40-08:00"  # the void's time
    assert all(e.correlationid == "c-1" for e in events)


def test_the_same_shipment_twice_gives_one_event_with_a_stable_id(payload: Callable[[str], Any]):
    shipments = payload("shipments_batch_76543210_items.json")["shipments"]

    once = shipment_events(shipments[:1], source="shipstation", correlation_id="a")
    twice = shipment_events(shipments[:1] * 2, source="shipstation", correlation_id="b")

    assert len(twice) == 1
    assert once[0].id == twice[0].id


def test_without_items_the_shipment_has_no_lines(payload: Callable[[str], Any]) -> None:
    data = payload("shipments_batch_76543210_items.json")["shipments"][0] | {"shipmentItems": None}

    assert shipment_from_shipstation(data).lines == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"shipmentId": None}, "no integer shipmentId"),
        ({"carrierCode": ""}, "no carrierCode"),
        ({"shipmentItems": "x"}, "not a list"),
        ({"shipmentItems": [{"quantity": "2"}]}, "not a count"),
        ({"orderKey": None, "orderNumber": None}, "does not map"),
        ({"createDate": "yesterday"}, "does not map"),
    ],
)
def test_unreadable_shipments_raise_decode_error(
    payload: Callable[[str], Any], change: dict[str, Any], reason: str
) -> None:
    data = copy.deepcopy(payload("shipments_batch_76543210_items.json")["shipments"][0])
    data.update(change)

    with pytest.raises(DecodeError, match=reason):
        shipment_from_shipstation(data)


def test_an_answer_without_a_shipments_list_is_refused() -> None:
    with pytest.raises(DecodeError, match="no shipments list"):
        parse_shipments_page({"orders": []})
    with pytest.raises(DecodeError, match="not an object"):
        parse_shipments_page({"shipments": [1]})


def test_carrier_codes_get_names() -> None:
    assert carrier_name("stamps_com") == "USPS"
    assert carrier_name("fedex") == "FedEx"
    assert carrier_name("some_regional") == "some_regional"
