"""SHIP_NOTIFY deliveries and ShipStation shipments to canonical shipments (pure, no I/O).

A SHIP_NOTIFY body is only ``{resource_url, resource_type}``; the shipments are fetched from
``resource_url`` with ``includeShipmentItems=True`` (the connector does that). Each shipment
becomes one ``shipment.updated`` event:

- a live label: status ``pre_transit`` / ``label_created``, carrier, tracking number, lines;
- a voided label (``voided: true``): status ``cancelled`` / ``cancelled``, the reversal of the
  shipment, so that a flow can undo what the shipment did.

Event ids are derived from ``(shipmentId, voided)``: the same shipment fetched again (a duplicate
notification, a retry, a later batch) gives the same event, which the event log keeps once; the
void gets its own id, so it is never mistaken for a duplicate of the shipment.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import ValidationError

from crossdock.canonical.envelope import Event
from crossdock.canonical.events import EventType, dataschema_for
from crossdock.canonical.refs import OrderRef
from crossdock.canonical.shipment import Shipment, ShipmentLine
from crossdock.connectorkit.http import decode_json
from crossdock.connectors.shipstation.errors import DecodeError
from crossdock.connectors.shipstation.orders import PACIFIC, from_shipstation_time

__all__ = [
    "CARRIER_NAMES",
    "EVENT_NAMESPACE",
    "NOTIFY_TYPES",
    "SHIPMENT_EVENT",
    "ShipNotify",
    "ShipmentsPage",
    "carrier_name",
    "parse_notification",
    "parse_shipments_page",
    "same_origin",
    "shipment_event",
    "shipment_event_id",
    "shipment_events",
    "shipment_from_shipstation",
    "with_items",
    "with_page",
]

EVENT_NAMESPACE: Final = uuid.UUID("5d0f7c1e-3b8a-4e57-9f6d-2c4b8a1e0d93")
SHIPMENT_EVENT: Final = EventType.SHIPMENT_UPDATED
NOTIFY_TYPES: Final = frozenset({"SHIP_NOTIFY", "ITEM_SHIP_NOTIFY"})
"""The resource types whose ``resource_url`` lists shipments."""
MAX_RESOURCE_URL: Final = 200

CARRIER_NAMES: Final[Mapping[str, str]] = {
    "ups": "UPS",
    "ups_walleted": "UPS",
    "fedex": "FedEx",
    "fedex_walleted": "FedEx",
    "stamps_com": "USPS",
    "usps": "USPS",
    "endicia": "USPS",
    "dhl_express": "DHL Express",
    "dhl_express_worldwide": "DHL Express",
    "dhl_ecommerce": "DHL eCommerce",
    "canada_post": "Canada Post",
    "royal_mail": "Royal Mail",
    "australia_post": "Australia Post",
    "ontrac": "OnTrac",
    "lasership": "LaserShip",
    "amazon_shipping": "Amazon Shipping",
}


@dataclass(frozen=True, slots=True)
class ShipNotify:
    """A ShipStation webhook body.

    Attributes:
        resource_url: Where the shipments (or orders) of the notice are listed.
        resource_type: ``SHIP_NOTIFY``, ``ITEM_SHIP_NOTIFY``, ``ORDER_NOTIFY``...
    """

    resource_url: str
    resource_type: str


@dataclass(frozen=True, slots=True)
class ShipmentsPage:
    """One page of ``GET /shipments``."""

    shipments: list[dict[str, Any]]
    total: int
    page: int
    pages: int


def parse_notification(raw: bytes) -> ShipNotify:
    """Read a webhook body.

    Raises:
        DecodeError: Not JSON, not an object, or without a usable ``resource_url`` and
            ``resource_type``.
    """
    try:
        body = decode_json(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DecodeError(f"the webhook body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise DecodeError("the webhook body is not a JSON object")
    url, kind = body.get("resource_url"), body.get("resource_type")
    if not isinstance(url, str) or not url.strip():
        raise DecodeError("the webhook body has no resource_url")
    if not isinstance(kind, str) or not kind.strip():
        raise DecodeError("the webhook body has no resource_type")
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise DecodeError(f"resource_url is not an absolute http(s) URL: {url[:80]!r}")
    return ShipNotify(url.strip(), kind.strip())


def _set_query(url: str, **values: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in values]
    query += list(values.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def with_items(url: str) -> str:
    """``resource_url`` with ``includeShipmentItems=True`` (SHIP_NOTIFY points at False)."""
    parts = urlsplit(url)
    names = {k.lower(): k for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    name = names.get("includeshipmentitems", "includeShipmentItems")
    return _set_query(url, **{name: "True"})


def with_page(url: str, page: int) -> str:
    """``url`` asking for page ``page``."""
    return _set_query(url, page=str(page))


def same_origin(url: str, base_url: str) -> bool:
    """Whether ``url`` has the scheme, host and port of ``base_url``.

    The connector sends its Basic credentials to ``resource_url``; a forged notice must not be
    able to point them at another host.
    """
    a, b = urlsplit(url), urlsplit(base_url)
    return _origin(a.scheme, a.hostname, a.port) == _origin(b.scheme, b.hostname, b.port)


def _origin(scheme: str, host: str | None, port: int | None) -> tuple[str, str | None, int | None]:
    scheme = scheme.lower()
    default = {"https": 443, "http": 80}.get(scheme)
    return scheme, host, port if port is not None else default


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def parse_shipments_page(body: Any) -> ShipmentsPage:
    """Read a ``GET /shipments`` answer.

    Raises:
        DecodeError: The answer is not ``{shipments: [...], total, page, pages}``.
    """
    if not isinstance(body, dict) or not isinstance(body.get("shipments"), list):
        raise DecodeError("the shipments answer has no shipments list")
    shipments = body["shipments"]
    if not all(isinstance(s, dict) for s in shipments):
        raise DecodeError("the shipments list holds something that is not an object")
    return ShipmentsPage(
        shipments=shipments,
        total=_int(body.get("total"), len(shipments)),
        page=_int(body.get("page"), 1),
        pages=_int(body.get("pages"), 1),
    )


def carrier_name(code: str) -> str:
    """The carrier's name for a ShipStation ``carrierCode`` (the code itself when unknown)."""
    return CARRIER_NAMES.get(code.lower(), code)


def _shipped_at(data: Mapping[str, Any]) -> datetime | None:
    created = data.get("createDate")
    if isinstance(created, str) and created:
        return from_shipstation_time(created)
    ship_date = data.get("shipDate")
    if isinstance(ship_date, str) and ship_date:
        day = datetime.fromisoformat(ship_date[:10]).date()
        return datetime.combine(day, time(0, 0), tzinfo=PACIFIC)
    return None


def _lines(items: Any, shipment_id: Any) -> list[ShipmentLine]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise DecodeError(f"shipment {shipment_id}: shipmentItems is not a list")
    lines = []
    for item in items:
        if not isinstance(item, dict):
            raise DecodeError(f"shipment {shipment_id}: a shipment item is not an object")
        qty = item.get("quantity")
        if not isinstance(qty, int) or isinstance(qty, bool) or qty < 0:
            raise DecodeError(f"shipment {shipment_id}: item quantity {qty!r} is not a count")
        if qty == 0:  # a zero line ships nothing and the canonical line needs one unit
            continue
        key, sku = item.get("lineItemKey"), item.get("sku")
        lines.append(
            ShipmentLine(
                line_id=str(key) if key not in (None, "") else None,
                sku=str(sku) if sku not in (None, "") else None,
                quantity=qty,
            )
        )
    return lines


def shipment_from_shipstation(data: Mapping[str, Any], *, location: str | None = None) -> Shipment:
    """A ShipStation shipment as the canonical `Shipment`.

    The order reference carries ``orderKey`` as the hub order id (the connector releases
    orders with that key) and ``orderNumber`` as the number.

    Raises:
        DecodeError: Missing ids or carrier, unreadable dates or items.
    """
    shipment_id = data.get("shipmentId")
    if not isinstance(shipment_id, int) or isinstance(shipment_id, bool):
        raise DecodeError(f"a shipment has no integer shipmentId: {shipment_id!r}")
    carrier = data.get("carrierCode")
    if not isinstance(carrier, str) or not carrier:
        raise DecodeError(f"shipment {shipment_id} has no carrierCode")
    key, number = data.get("orderKey"), data.get("orderNumber")
    voided = data.get("voided") is True
    try:
        shipped_at = _shipped_at(data)
        return Shipment(
            order=OrderRef(
                id=str(key) if key not in (None, "") else None,
                number=str(number) if number not in (None, "") else None,
            ),
            lines=_lines(data.get("shipmentItems"), shipment_id),
            carrier=carrier_name(carrier),
            service=data.get("serviceCode") or None,
            tracking_number=data.get("trackingNumber") or None,
            status="cancelled" if voided else "pre_transit",
            status_detail="cancelled" if voided else "label_created",
            location=location,
            shipped_at=shipped_at,
        )
    except (ValidationError, ValueError, TypeError) as exc:
        raise DecodeError(f"shipment {shipment_id} does not map to shipment.v1: {exc}") from exc


def shipment_event_id(shipment_id: int, voided: bool) -> str:
    """The event id of a shipment's state: one for the label, another for its void."""
    state = "voided" if voided else "shipped"
    return str(uuid.uuid5(EVENT_NAMESPACE, f"shipstation:shipment:{shipment_id}:{state}"))


def shipment_event(
    data: Mapping[str, Any],
    *,
    source: str,
    correlation_id: str,
    location: str | None = None,
) -> Event:
    """The ``shipment.updated`` event of one ShipStation shipment (see the module docstring).

    Raises:
        DecodeError: The shipment does not map (see `shipment_from_shipstation`).
    """
    shipment = shipment_from_shipstation(data, location=location)
    shipment_id = int(data["shipmentId"])
    voided = shipment.status == "cancelled"
    when = data.get("voidDate") if voided else data.get("createDate")
    extra: dict[str, Any] = {}
    if isinstance(when, str) and when:
        try:
            extra["time"] = from_shipstation_time(when)
        except ValueError as exc:
            raise DecodeError(f"shipment {shipment_id}: unreadable time {when!r}") from exc
    return Event(
        id=shipment_event_id(shipment_id, voided),
        source=source,
        type=SHIPMENT_EVENT.value,
        subject=f"shipstation:shipment:{shipment_id}",
        dataschema=dataschema_for(SHIPMENT_EVENT.value),
        correlationid=correlation_id,
        data=shipment.model_dump(mode="json"),
        **extra,
    )


def shipment_events(
    shipments: Sequence[Mapping[str, Any]],
    *,
    source: str,
    correlation_id: str,
    location: str | None = None,
) -> list[Event]:
    """One event per shipment state, deduplicated on ``(shipmentId, voided)``, in order."""
    events: dict[str, Event] = {}
    for data in shipments:
        event = shipment_event(
            data, source=source, correlation_id=correlation_id, location=location
        )
        events.setdefault(event.id, event)
    return list(events.values())
