"""Carrier status codes (UPS, FedEx) to the canonical shipment status: a pure, table-driven map.

The table follows the wire reference, section 6.2. UPS codes are the Track API
``activity.status.type``; FedEx codes are ``latestStatusDetail.code``/``derivedCode``, as
EasyPost passes them on in ``tracking_details[].carrier_code``.

Two rows are ambiguous and documented here rather than guessed at call sites:

* UPS ``X`` (exception) is a failure or a delivery exception still in transit, depending on
  the carrier's text: damaged, lost or refused parcels fail; a return is a return to sender;
  anything else (no one home, address problem, weather) stays in transit.
* UPS ``P`` (pickup) is in transit here; some integrations call it pre-transit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from crossdock.canonical.shipment import ShipmentStatus, StatusDetail

__all__ = [
    "CARRIER_TABLES",
    "FEDEX_CODES",
    "UPS_CODES",
    "UPS_EXCEPTION_TEXT",
    "CarrierStatus",
    "carrier_family",
    "map_carrier_status",
]


@dataclass(frozen=True, slots=True)
class CarrierStatus:
    """A canonical status and its refinement.

    Attributes:
        status: The canonical shipment status.
        detail: The canonical status detail.
    """

    status: ShipmentStatus
    detail: StatusDetail


def _s(status: ShipmentStatus, detail: StatusDetail) -> CarrierStatus:
    return CarrierStatus(status, detail)


UPS_CODES: Final[Mapping[str, CarrierStatus]] = {
    "M": _s("pre_transit", "label_created"),
    "MV": _s("cancelled", "cancelled"),
    "P": _s("in_transit", "in_transit"),
    "I": _s("in_transit", "in_transit"),
    "W": _s("in_transit", "in_transit"),
    "DO": _s("in_transit", "in_transit"),
    "DD": _s("in_transit", "in_transit"),
    "O": _s("out_for_delivery", "out_for_delivery"),
    "D": _s("delivered", "arrived_at_destination"),
    "X": _s("in_transit", "delivery_exception"),  # refined by text: see UPS_EXCEPTION_TEXT
    "RS": _s("return_to_sender", "return"),
}
"""UPS ``activity.status.type`` to canonical (``X`` is refined by the event's text)."""

UPS_EXCEPTION_TEXT: Final[tuple[tuple[tuple[str, ...], CarrierStatus], ...]] = (
    (("DAMAGE",), _s("failure", "damaged")),
    (("LOST", "CANNOT BE LOCATED", "UNABLE TO LOCATE"), _s("failure", "lost")),
    (("REFUSED",), _s("failure", "refused")),
    (("RETURN",), _s("return_to_sender", "return")),
    (("WEATHER",), _s("in_transit", "weather_delay")),
    (("ADDRESS",), _s("in_transit", "address_correction")),
)
"""UPS ``X``: the first row whose word appears in the text (upper-cased) decides; otherwise
in transit with a delivery exception."""

FEDEX_CODES: Final[Mapping[str, CarrierStatus]] = {
    "OC": _s("pre_transit", "label_created"),
    "PU": _s("in_transit", "in_transit"),
    "AR": _s("in_transit", "arrived_at_facility"),
    "AF": _s("in_transit", "arrived_at_facility"),
    "DP": _s("in_transit", "departed_facility"),
    "IT": _s("in_transit", "in_transit"),
    "AA": _s("in_transit", "arrived_at_facility"),
    "AD": _s("in_transit", "arrived_at_destination"),
    "CC": _s("in_transit", "in_transit"),
    "CD": _s("in_transit", "in_transit"),
    "CP": _s("in_transit", "in_transit"),
    "OD": _s("out_for_delivery", "out_for_delivery"),
    "DL": _s("delivered", "arrived_at_destination"),
    "DE": _s("failure", "delivery_exception"),
    "DD": _s("failure", "delayed"),
    "CA": _s("cancelled", "cancelled"),
    "RS": _s("return_to_sender", "return"),
    "HL": _s("available_for_pickup", "arrived_at_pickup_location"),
}
"""FedEx ``latestStatusDetail.code`` to canonical."""

CARRIER_TABLES: Final[Mapping[str, Mapping[str, CarrierStatus]]] = {
    "ups": UPS_CODES,
    "fedex": FEDEX_CODES,
}


def carrier_family(carrier: str) -> str | None:
    """The code table a carrier name uses: ``ups`` for UPS, UPSDAP, UPSMailInnovations...;
    ``fedex`` for FedEx, FedExDefault, FedExSmartPost...; None for other carriers."""
    name = carrier.strip().lower()
    for family in CARRIER_TABLES:
        if name.startswith(family):
            return family
    return None


def map_carrier_status(carrier: str, code: str | None, text: str = "") -> CarrierStatus | None:
    """Map one raw carrier status code to the canonical status.

    Args:
        carrier: The carrier's name as EasyPost writes it (``UPS``, ``FedEx``...).
        code: The raw carrier code (``tracking_details[].carrier_code``).
        text: The event's message; it refines the ambiguous UPS ``X``.

    Returns:
        The canonical status, or None when the carrier or code is not in the tables (the
        caller then keeps EasyPost's own normalised status).
    """
    family = carrier_family(carrier)
    if family is None or not code:
        return None
    key = code.strip().upper()
    found = CARRIER_TABLES[family].get(key)
    if found is None or not (family == "ups" and key == "X"):
        return found
    upper = text.upper()
    for words, mapped in UPS_EXCEPTION_TEXT:
        if any(word in upper for word in words):
            return mapped
    return found
