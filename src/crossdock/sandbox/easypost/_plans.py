"""How a simulated parcel moves: per carrier, a scripted list of scans for each outcome.

UPS and FedEx scans carry the carrier's raw codes (UPS ``activity.status.type``, FedEx
``latestStatusDetail.code``) as EasyPost passes them on in ``carrier_code``; other carriers get
scans without a code. EasyPost's own status and detail on each scan agree with the wire
reference's table (section 6.2). EasyPost's test tracking codes (``EZ1000000001`` to
``EZ7000000007``) stop at the status EasyPost documents for each.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, get_args

Outcome = Literal[
    "delivered", "delivery_exception", "failure", "return_to_sender", "available_for_pickup"
]
OUTCOMES: Final[tuple[str, ...]] = get_args(Outcome)
DEFAULT_WEIGHTS: Final[Mapping[str, int]] = {
    "delivered": 70,
    "delivery_exception": 12,
    "failure": 6,
    "return_to_sender": 6,
    "available_for_pickup": 6,
}

# Where a scan happens along the route.
Place = Literal["origin", "hub", "destination"]


@dataclass(frozen=True)
class Scan:
    """One scripted scan.

    Attributes:
        status: EasyPost's status after this scan.
        status_detail: EasyPost's status detail.
        carrier_code: The carrier's raw code (None for carriers without one here).
        message: The carrier's text.
        after_h: Hours after the previous scan.
        place: Where along the route it happens.
    """

    status: str
    status_detail: str
    carrier_code: str | None
    message: str
    after_h: float
    place: Place


def _scan(
    status: str, detail: str, code: str | None, message: str, after_h: float, place: Place
) -> Scan:
    return Scan(status, detail, code, message, after_h, place)


_UPS_TRUNK = (
    _scan(
        "pre_transit",
        "label_created",
        "M",
        "Shipper created a label, UPS has not received the package yet.",
        0,
        "origin",
    ),
    _scan("in_transit", "in_transit", "P", "Pickup Scan", 6, "origin"),
    _scan("in_transit", "arrived_at_facility", "I", "Arrived at Facility", 10, "hub"),
    _scan("in_transit", "departed_facility", "I", "Departed from Facility", 4, "hub"),
    _scan("in_transit", "arrived_at_facility", "I", "Arrived at Facility", 12, "destination"),
    _scan("out_for_delivery", "out_for_delivery", "O", "Out For Delivery Today", 8, "destination"),
)
_UPS_DELIVERED = _scan("delivered", "arrived_at_destination", "D", "DELIVERED", 5, "destination")
_UPS_ENDINGS: Mapping[str, tuple[Scan, ...]] = {
    "delivered": (_UPS_DELIVERED,),
    "available_for_pickup": (_UPS_DELIVERED,),  # UPS has no hold-at-location code in the table
    "delivery_exception": (
        _scan(
            "in_transit",
            "delivery_exception",
            "X",
            "THE RECEIVER WAS NOT AVAILABLE FOR DELIVERY. WE'LL MAKE A SECOND ATTEMPT THE NEXT "
            "BUSINESS DAY.",
            5,
            "destination",
        ),
        _scan(
            "out_for_delivery", "out_for_delivery", "O", "Out For Delivery Today", 19, "destination"
        ),
        _UPS_DELIVERED,
    ),
    "failure": (
        _scan(
            "failure",
            "damaged",
            "X",
            "THE PACKAGE WAS DAMAGED AND THE CONTENTS WERE DISCARDED.",
            5,
            "destination",
        ),
    ),
    "return_to_sender": (
        _scan(
            "in_transit",
            "delivery_exception",
            "X",
            "THE RECEIVER HAS MOVED.",
            5,
            "destination",
        ),
        _scan("return_to_sender", "return", "RS", "Returned to shipper", 30, "hub"),
    ),
}

_FEDEX_TRUNK = (
    _scan("pre_transit", "label_created", "OC", "Shipment information sent to FedEx", 0, "origin"),
    _scan("in_transit", "in_transit", "PU", "Picked up", 5, "origin"),
    _scan("in_transit", "arrived_at_facility", "AR", "Arrived at FedEx location", 9, "hub"),
    _scan("in_transit", "departed_facility", "DP", "Departed FedEx location", 3, "hub"),
    _scan("in_transit", "arrived_at_facility", "AR", "At local FedEx facility", 14, "destination"),
)
_FEDEX_OUT = _scan(
    "out_for_delivery", "out_for_delivery", "OD", "On FedEx vehicle for delivery", 7, "destination"
)
_FEDEX_DELIVERED = _scan("delivered", "arrived_at_destination", "DL", "Delivered", 4, "destination")
_FEDEX_ENDINGS: Mapping[str, tuple[Scan, ...]] = {
    "delivered": (_FEDEX_OUT, _FEDEX_DELIVERED),
    "available_for_pickup": (
        _scan(
            "available_for_pickup",
            "arrived_at_pickup_location",
            "HL",
            "Ready for pickup at FedEx location",
            8,
            "destination",
        ),
        _scan(
            "delivered", "arrived_at_destination", "DL", "Picked up by recipient", 26, "destination"
        ),
    ),
    "delivery_exception": (
        _FEDEX_OUT,
        _scan(
            "failure",
            "delivery_exception",
            "DE",
            "Customer not available or business closed",
            4,
            "destination",
        ),
        _scan(
            "out_for_delivery",
            "out_for_delivery",
            "OD",
            "On FedEx vehicle for delivery",
            20,
            "destination",
        ),
        _FEDEX_DELIVERED,
    ),
    "failure": (
        _FEDEX_OUT,
        _scan("failure", "damaged", "DE", "Package damaged, unable to deliver", 4, "destination"),
    ),
    "return_to_sender": (
        _FEDEX_OUT,
        _scan(
            "failure",
            "delivery_exception",
            "DE",
            "Incorrect address, unable to deliver",
            4,
            "destination",
        ),
        _scan("return_to_sender", "return", "RS", "Returning package to shipper", 28, "hub"),
    ),
}

_OTHER_TRUNK = (
    _scan("pre_transit", "label_created", None, "Shipping Label Created", 0, "origin"),
    _scan(
        "in_transit",
        "received_at_origin_facility",
        None,
        "Accepted at Origin Facility",
        6,
        "origin",
    ),
    _scan("in_transit", "arrived_at_facility", None, "Arrived at Regional Facility", 11, "hub"),
    _scan("in_transit", "departed_facility", None, "Departed Regional Facility", 4, "hub"),
    _scan(
        "in_transit",
        "arrived_at_destination",
        None,
        "Arrived at Post Office",
        13,
        "destination",
    ),
    _scan("out_for_delivery", "out_for_delivery", None, "Out for Delivery", 6, "destination"),
)
_OTHER_DELIVERED = _scan(
    "delivered", "arrived_at_destination", None, "Delivered, In/At Mailbox", 5, "destination"
)
_OTHER_ENDINGS: Mapping[str, tuple[Scan, ...]] = {
    "delivered": (_OTHER_DELIVERED,),
    "available_for_pickup": (
        _scan(
            "available_for_pickup",
            "arrived_at_pickup_location",
            None,
            "Available for Pickup",
            4,
            "destination",
        ),
        _OTHER_DELIVERED,
    ),
    "delivery_exception": (
        _scan(
            "in_transit",
            "delivery_exception",
            None,
            "Notice Left (No Authorized Recipient Available)",
            5,
            "destination",
        ),
        _scan("out_for_delivery", "out_for_delivery", None, "Out for Delivery", 19, "destination"),
        _OTHER_DELIVERED,
    ),
    "failure": (
        _scan("failure", "lost", None, "Delivery Attempt, Package Lost", 5, "destination"),
    ),
    "return_to_sender": (
        _scan("return_to_sender", "return", None, "Return to Sender Processed", 6, "destination"),
    ),
}

_SCRIPTS: Mapping[str, tuple[tuple[Scan, ...], Mapping[str, tuple[Scan, ...]]]] = {
    "ups": (_UPS_TRUNK, _UPS_ENDINGS),
    "fedex": (_FEDEX_TRUNK, _FEDEX_ENDINGS),
    "other": (_OTHER_TRUNK, _OTHER_ENDINGS),
}

# EasyPost's test tracking codes: the status each one ends at (EZ7 stays "unknown").
_TEST_CODE = re.compile(r"^EZ([1-7])0{8}\1$")
_TEST_STOPS: Mapping[str, str] = {
    "1": "pre_transit",
    "2": "in_transit",
    "3": "out_for_delivery",
    "4": "delivered",
    "5": "return_to_sender",
    "6": "failure",
    "7": "unknown",
}


def family(carrier: str) -> str:
    """``ups``, ``fedex`` or ``other`` for a carrier name."""
    name = carrier.strip().lower()
    return next((f for f in ("ups", "fedex") if name.startswith(f)), "other")


def guess_carrier(tracking_code: str) -> str:
    """The carrier EasyPost would detect for a code given without one."""
    code = tracking_code.upper()
    if code.startswith("1Z"):
        return "UPS"
    if code.isdigit() and len(code) in {12, 15, 20, 22}:
        return "FedEx"
    return "USPS"


def choose_outcome(seed: int, carrier: str, code: str, weights: Mapping[str, int]) -> str:
    """The outcome of a parcel, fixed by the seed, the carrier and the code (not by order)."""
    rng = random.Random(f"easypost-outcome:{seed}:{carrier.lower()}:{code}")
    names = [n for n in OUTCOMES if weights.get(n, 0) > 0] or ["delivered"]
    return rng.choices(names, weights=[weights.get(n, 1) for n in names])[0]


def script(carrier: str, code: str, outcome: str) -> list[Scan]:
    """The scans a parcel will go through, oldest first.

    Raises:
        ValueError: ``outcome`` is not one of `OUTCOMES`.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r} (known: {', '.join(OUTCOMES)})")
    trunk, endings = _SCRIPTS[family(carrier)]
    stop = _test_stop(code)
    if stop is None:
        return [*trunk, *endings[outcome]]
    if stop == "unknown":
        return []
    if stop in {"return_to_sender", "failure"}:
        return [*trunk, *endings[stop]]
    full = [*trunk, *endings["delivered"]]
    last = max(i for i, s in enumerate(full) if s.status == stop)
    return full[: last + 1]


def _test_stop(code: str) -> str | None:
    match = _TEST_CODE.match(code.upper())
    return _TEST_STOPS[match.group(1)] if match else None


def is_test_code(code: str) -> bool:
    """Whether ``code`` is one of EasyPost's documented test tracking codes."""
    return _test_stop(code) is not None
