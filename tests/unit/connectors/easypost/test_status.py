"""UPS and FedEx raw codes to the canonical status, row by row from wire reference 6.2."""

from __future__ import annotations

import pytest

from crossdock.canonical.shipment import SHIPMENT_STATUSES, STATUS_DETAILS
from crossdock.connectors.easypost import CarrierStatus, carrier_family, map_carrier_status
from crossdock.connectors.easypost.status import FEDEX_CODES, UPS_CODES

# (carrier, code, canonical status) as section 6.2 lists them.
SECTION_6_2 = [
    ("UPS", "M", "pre_transit"),
    ("UPS", "MV", "cancelled"),
    ("UPS", "P", "in_transit"),
    ("UPS", "I", "in_transit"),
    ("UPS", "W", "in_transit"),
    ("UPS", "DO", "in_transit"),
    ("UPS", "DD", "in_transit"),
    ("UPS", "O", "out_for_delivery"),
    ("UPS", "D", "delivered"),
    ("UPS", "RS", "return_to_sender"),
    ("FedEx", "OC", "pre_transit"),
    ("FedEx", "PU", "in_transit"),
    *[("FedEx", c, "in_transit") for c in ("AR", "AF", "DP", "IT", "AA", "AD", "CC", "CD", "CP")],
    ("FedEx", "OD", "out_for_delivery"),
    ("FedEx", "DL", "delivered"),
    ("FedEx", "DE", "failure"),
    ("FedEx", "DD", "failure"),
    ("FedEx", "CA", "cancelled"),
    ("FedEx", "RS", "return_to_sender"),
    ("FedEx", "HL", "available_for_pickup"),
]


@pytest.mark.parametrize(("carrier", "code", "status"), SECTION_6_2)
def test_each_row_of_the_reference_table(carrier: str, code: str, status: str) -> None:
    mapped = map_carrier_status(carrier, code)
    assert mapped is not None
    assert mapped.status == status


def test_the_tables_hold_exactly_the_reference_rows_and_valid_vocabulary() -> None:
    assert {("UPS", c) for c in UPS_CODES} | {("FedEx", c) for c in FEDEX_CODES} == {
        (carrier, code) for carrier, code, _ in SECTION_6_2
    } | {("UPS", "X")}
    for mapped in [*UPS_CODES.values(), *FEDEX_CODES.values()]:
        assert mapped.status in SHIPMENT_STATUSES
        assert mapped.detail in STATUS_DETAILS


def test_label_codes_carry_label_created_as_easypost_fixtures_do() -> None:
    assert map_carrier_status("UPS", "M") == CarrierStatus("pre_transit", "label_created")
    assert map_carrier_status("FedEx", "OC") == CarrierStatus("pre_transit", "label_created")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("THE PACKAGE WAS DAMAGED AND THE CONTENTS DISCARDED", ("failure", "damaged")),
        ("Package lost in transit", ("failure", "lost")),
        ("THE PACKAGE CANNOT BE LOCATED", ("failure", "lost")),
        ("THE RECEIVER REFUSED THE DELIVERY", ("failure", "refused")),
        ("THE PACKAGE WILL BE RETURNED TO THE SENDER", ("return_to_sender", "return")),
        ("SEVERE WEATHER CONDITIONS HAVE DELAYED DELIVERY", ("in_transit", "weather_delay")),
        ("THE ADDRESS HAS BEEN CORRECTED", ("in_transit", "address_correction")),
        (
            "THE RECEIVER WAS NOT AVAILABLE FOR DELIVERY. WE'LL MAKE A SECOND ATTEMPT",
            ("in_transit", "delivery_exception"),
        ),
        ("", ("in_transit", "delivery_exception")),
    ],
)
def test_ups_x_is_failure_or_a_delivery_exception_by_its_text(
    text: str, expected: tuple[str, str]
) -> None:
    assert map_carrier_status("UPS", "X", text) == CarrierStatus(*expected)  # type: ignore[arg-type]


def test_fedex_hold_at_location_is_available_for_pickup() -> None:
    assert map_carrier_status("FedEx", "HL") == CarrierStatus(
        "available_for_pickup", "arrived_at_pickup_location"
    )


def test_ups_pickup_is_in_transit_not_pre_transit() -> None:
    mapped = map_carrier_status("UPS", "P")
    assert mapped is not None
    assert mapped.status == "in_transit"


def test_dd_means_different_things_per_carrier() -> None:
    ups, fedex = map_carrier_status("UPS", "DD"), map_carrier_status("FedEx", "DD")
    assert ups is not None
    assert fedex is not None
    assert (ups.status, fedex.status) == ("in_transit", "failure")


def test_carrier_names_and_code_case_are_normalised() -> None:
    assert carrier_family("UPSDAP") == "ups"
    assert carrier_family("FedExDefault") == "fedex"
    assert carrier_family("USPS") is None
    assert map_carrier_status("fedex", " dl ") == map_carrier_status("FedEx", "DL")


@pytest.mark.parametrize(
    ("carrier", "code"),
    [("UPS", "ZZ"), ("FedEx", "XX"), ("USPS", "01"), ("UPS", None), ("UPS", "")],
)
def test_unknown_codes_and_carriers_map_to_none(carrier: str, code: str | None) -> None:
    assert map_carrier_status(carrier, code) is None


def test_the_public_surface_is_unique_and_importable() -> None:
    import crossdock.connectors.easypost as package

    assert len(set(package.__all__)) == len(package.__all__)
    assert all(getattr(package, name) is not None for name in package.__all__)
