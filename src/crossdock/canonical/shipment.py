"""The canonical shipment (``shipment.v1``) and the carrier status vocabulary.

Statuses follow the carrier vocabulary of the wire reference (section 6.1, EasyPost's tracker
statuses), which carrier-specific codes (UPS, FedEx) are mapped onto.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, StringConstraints

from crossdock.canonical.base import CanonicalModel, HubId, NonEmptyStr, Timestamp
from crossdock.canonical.refs import OrderRef

__all__ = [
    "SHIPMENT_STATUSES",
    "STATUS_DETAILS",
    "Shipment",
    "ShipmentLine",
    "ShipmentStatus",
    "StatusDetail",
]

ShipmentStatus = Literal[
    "unknown",
    "pre_transit",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "available_for_pickup",
    "return_to_sender",
    "failure",
    "cancelled",
    "error",
]
StatusDetail = Literal[
    "address_correction",
    "arrived_at_destination",
    "arrived_at_facility",
    "arrived_at_pickup_location",
    "awaiting_information",
    "cancelled",
    "damaged",
    "delayed",
    "delivery_exception",
    "departed_facility",
    "departed_origin_facility",
    "expired",
    "failure",
    "held",
    "in_transit",
    "label_created",
    "lost",
    "missorted",
    "out_for_delivery",
    "received_at_destination_facility",
    "received_at_origin_facility",
    "refused",
    "return",
    "status_update",
    "transferred_to_destination_carrier",
    "transit_exception",
    "unknown",
    "weather_delay",
]
SHIPMENT_STATUSES: tuple[str, ...] = get_args(ShipmentStatus)
STATUS_DETAILS: tuple[str, ...] = get_args(StatusDetail)

TrackingUrl = Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]


class ShipmentLine(CanonicalModel):
    """Units of one order line in this shipment.

    Attributes:
        line_id: the order line (`OrderLine.line_id`), when known.
    """

    line_id: str | None = None
    sku: NonEmptyStr | None = None
    quantity: Annotated[int, Field(ge=1)]


class Shipment(CanonicalModel):
    """A parcel or consignment of an order (``shipment.v1``).

    Attributes:
        carrier: the carrier's name ("UPS", "FedEx", "DHL Express").
        tracking_number: the carrier's tracking code (carriers recycle codes: not a unique key).
        status: the canonical carrier status; `status_detail` refines it.
        location: the hub location code the shipment left from (warehouse or 3PL).
        final: the warehouse says no other shipment follows for its warehouse order (EDI 945
            W0601 ``F``); False when it says more follow; None when it does not say. A final
            shipment with fewer units than were released is a short pick.
        short_lines: units of lines the warehouse did not ship from what it was given (a
            short pick, as the warehouse reports it); None when it does not say.
    """

    schema_version: Literal["shipment.v1"] = "shipment.v1"
    id: HubId | None = None
    order: OrderRef
    lines: list[ShipmentLine] = Field(default_factory=list)
    carrier: NonEmptyStr
    service: str | None = None
    tracking_number: str | None = None
    tracking_url: TrackingUrl | None = None
    status: ShipmentStatus
    status_detail: StatusDetail | None = None
    location: str | None = None
    shipped_at: Timestamp | None = None
    estimated_delivery_at: Timestamp | None = None
    delivered_at: Timestamp | None = None
    final: bool | None = None
    short_lines: list[ShipmentLine] | None = None
