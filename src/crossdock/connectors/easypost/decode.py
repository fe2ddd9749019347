"""Pure decoding of EasyPost webhook Events and Trackers into the canonical shipment.

Nothing here performs I/O. A payload that is not an EasyPost tracker Event, or whose
``description`` is not one we decode, raises `DecodeError` with a reason an operator can read;
the caller keeps the raw delivery and dead-letters it (it is never dropped).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, cast

from pydantic import ValidationError

from crossdock.canonical.shipment import SHIPMENT_STATUSES, STATUS_DETAILS, Shipment, StatusDetail
from crossdock.connectorkit.http import decode_json
from crossdock.connectors.easypost.directory import ShipmentRef
from crossdock.connectors.easypost.status import CarrierStatus, map_carrier_status
from crossdock.runtime.errors import PermanentError

__all__ = [
    "DECODED_DESCRIPTIONS",
    "DecodeError",
    "TrackerEvent",
    "TrackingDetail",
    "event_id",
    "parse_event",
    "parse_time",
    "resolve_status",
    "shipment_from_tracker",
    "tracking_details",
]

DECODED_DESCRIPTIONS: Final = frozenset({"tracker.created", "tracker.updated"})
"""The Event descriptions this connector turns into ``shipment.updated``."""


class DecodeError(PermanentError):
    """The delivery cannot be decoded; store it and dead-letter it with `reason`."""


@dataclass(frozen=True, slots=True)
class TrackingDetail:
    """One scan of a tracker, as EasyPost reports it.

    Attributes:
        index: Its position in ``tracking_details`` (ties in time keep this order).
        at: When it happened.
        status: EasyPost's normalised status for it.
        status_detail: EasyPost's refinement, when given.
        carrier_code: The carrier's raw code, when given.
        message: The carrier's text.
    """

    index: int
    at: datetime
    status: str
    status_detail: str | None
    carrier_code: str | None
    message: str


@dataclass(frozen=True, slots=True)
class TrackerEvent:
    """An EasyPost tracker Event, checked.

    Attributes:
        id: The Event id (``evt_…``): the delivery's dedupe key.
        description: ``tracker.created`` or ``tracker.updated``.
        mode: ``test`` or ``production``.
        tracker: The Tracker (``result``) as received.
        previous_status: ``previous_attributes.status``, when given.
        updated_at: When EasyPost last changed the Event.
    """

    id: str
    description: str
    mode: str
    tracker: Mapping[str, Any]
    previous_status: str | None
    updated_at: datetime | None


def _object(raw: bytes) -> Mapping[str, Any]:
    try:
        body = decode_json(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError("not JSON", detail=str(exc)) from exc
    if not isinstance(body, dict):
        raise DecodeError("an EasyPost Event is a JSON object")
    return body


def _required(data: Mapping[str, Any], name: str, where: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise DecodeError(f"{where}.{name} must be a non-empty string, got {value!r}")
    return value


def _optional(data: Mapping[str, Any], name: str, where: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise DecodeError(f"{where}.{name} must be a string or null, got {value!r}")
    return value


def event_id(raw_body: bytes) -> str:
    """The Event id (``evt_…``) of a raw delivery: the inbox's dedupe key.

    Raises:
        DecodeError: The body is not an EasyPost Event with an id.
    """
    body = _object(raw_body)
    ident = _required(body, "id", "event")
    if not ident.startswith("evt_"):
        raise DecodeError(f"event.id must start with evt_, got {ident!r}")
    return ident


def parse_time(value: object, where: str) -> datetime:
    """An EasyPost timestamp (ISO 8601, UTC; a value without an offset is taken as UTC).

    Raises:
        DecodeError: It is not a timestamp.
    """
    if not isinstance(value, str):
        raise DecodeError(f"{where} must be an ISO 8601 timestamp, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise DecodeError(f"{where} is not an ISO 8601 timestamp: {value!r}") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_event(raw_body: bytes) -> TrackerEvent:
    """Check and read an EasyPost Event carrying a Tracker.

    Raises:
        DecodeError: Malformed, not an Event, an unknown description, or no Tracker in it.
    """
    body = _object(raw_body)
    if body.get("object") != "Event":
        raise DecodeError(f"object must be 'Event', got {body.get('object')!r}")
    ident = event_id(raw_body)
    description = _required(body, "description", "event")
    if description not in DECODED_DESCRIPTIONS:
        known = ", ".join(sorted(DECODED_DESCRIPTIONS))
        raise DecodeError(f"unknown event description {description!r} (decoded: {known})")
    tracker = body.get("result")
    if not isinstance(tracker, dict) or tracker.get("object") != "Tracker":
        raise DecodeError(f"{description} must carry a Tracker in result")
    previous = body.get("previous_attributes")
    previous_status = previous.get("status") if isinstance(previous, dict) else None
    updated = body.get("updated_at")
    return TrackerEvent(
        id=ident,
        description=description,
        mode=str(body.get("mode") or ""),
        tracker=tracker,
        previous_status=previous_status if isinstance(previous_status, str) else None,
        updated_at=parse_time(updated, "event.updated_at") if updated is not None else None,
    )


def tracking_details(tracker: Mapping[str, Any]) -> list[TrackingDetail]:
    """The tracker's scans in time order (EasyPost lists them oldest first).

    Raises:
        DecodeError: ``tracking_details`` or one of its entries is malformed.
    """
    raw = tracker.get("tracking_details")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise DecodeError("tracker.tracking_details must be a list")
    details = []
    for index, item in enumerate(raw):
        where = f"tracker.tracking_details[{index}]"
        if not isinstance(item, dict):
            raise DecodeError(f"{where} must be an object")
        status = _required(item, "status", where)
        details.append(
            TrackingDetail(
                index=index,
                at=parse_time(item.get("datetime"), f"{where}.datetime"),
                status=status,
                status_detail=_optional(item, "status_detail", where),
                carrier_code=_optional(item, "carrier_code", where) or None,
                message=_optional(item, "message", where) or "",
            )
        )
    return sorted(details, key=lambda d: (d.at, d.index))


def _own_status(tracker: Mapping[str, Any]) -> CarrierStatus:
    status = tracker.get("status")
    if status not in SHIPMENT_STATUSES:
        raise DecodeError(f"tracker.status {status!r} is not an EasyPost status")
    detail = tracker.get("status_detail")
    return CarrierStatus(status, detail if detail in STATUS_DETAILS else "unknown")


def resolve_status(
    carrier: str, details: Sequence[TrackingDetail], tracker: Mapping[str, Any]
) -> CarrierStatus:
    """The canonical status of a tracker.

    The latest scan's raw carrier code decides through the carrier table (section 6.2); its
    EasyPost detail is kept when EasyPost agrees on the status. Without a known code, the
    tracker's own EasyPost status is kept.

    Raises:
        DecodeError: No known code and the tracker's status is outside the vocabulary.
    """
    if details:
        latest = details[-1]
        mapped = map_carrier_status(carrier, latest.carrier_code, latest.message)
        if mapped is not None:
            agreed = latest.status == mapped.status and latest.status_detail in STATUS_DETAILS
            if agreed and latest.status_detail is not None:
                return CarrierStatus(mapped.status, cast(StatusDetail, latest.status_detail))
            return mapped
    return _own_status(tracker)


def _first(details: Sequence[TrackingDetail], carrier: str, statuses: set[str]) -> datetime | None:
    for detail in details:
        mapped = map_carrier_status(carrier, detail.carrier_code, detail.message)
        status = mapped.status if mapped is not None else detail.status
        if status in statuses:
            return detail.at
    return None


def _last(details: Sequence[TrackingDetail], carrier: str, statuses: set[str]) -> datetime | None:
    return _first(list(reversed(details)), carrier, statuses)


def shipment_from_tracker(tracker: Mapping[str, Any], ref: ShipmentRef) -> Shipment:
    """The canonical shipment a Tracker describes.

    Args:
        tracker: The EasyPost Tracker object.
        ref: The hub shipment it follows (see `ShipmentDirectory`).

    Raises:
        DecodeError: The tracker is malformed or its status is unknown.
    """
    carrier = _required(tracker, "carrier", "tracker")
    code = _required(tracker, "tracking_code", "tracker")
    details = tracking_details(tracker)
    resolved = resolve_status(carrier, details, tracker)
    carrier_detail = tracker.get("carrier_detail")
    service = carrier_detail.get("service") if isinstance(carrier_detail, dict) else None
    public_url = tracker.get("public_url")
    estimate = tracker.get("est_delivery_date")
    delivered = resolved.status == "delivered"
    try:
        return Shipment(
            id=ref.shipment_id,
            order=ref.order,
            carrier=carrier,
            service=service if isinstance(service, str) and service else None,
            tracking_number=code,
            tracking_url=public_url if _is_url(public_url) else None,
            status=resolved.status,
            status_detail=resolved.detail,
            shipped_at=_first(details, carrier, {"in_transit", "out_for_delivery", "delivered"}),
            estimated_delivery_at=(
                parse_time(estimate, "tracker.est_delivery_date") if estimate else None
            ),
            delivered_at=_last(details, carrier, {"delivered"}) if delivered else None,
        )
    except ValidationError as exc:
        raise DecodeError("the tracker does not make a valid shipment", detail=str(exc)) from exc


def _is_url(value: object) -> bool:
    return (
        isinstance(value, str)
        and value.startswith(("https://", "http://"))
        and not any(c.isspace() for c in value)
    )
