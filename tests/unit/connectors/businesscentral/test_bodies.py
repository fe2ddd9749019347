"""Pure request builders: sales order deep insert, customer fields, diffs and ship plans."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from crossdock.canonical.ids import new_id
from crossdock.connectorkit import PermanentFailureError
from crossdock.connectors.businesscentral import (
    customer_fields,
    eq_filter,
    external_document_number,
    sales_order_body,
    ship_quantities,
)
from crossdock.connectors.businesscentral.bodies import changed

from .conftest import fixture_json

PAYLOAD: dict[str, Any] = {
    "order_id": "0193a4c2-7e1f-7b3a-9c4d-5e6f7a8b9c0d",
    "customer_number": "C00040",
    "currency": "DKK",
    "order_date": "2026-11-22",
    "email": "indkob@orsted-mobler.example",
    "ship_to": {
        "name": "Ørsted Møbler A/S",
        "contact": "Søren Ørsted",
        "line1": "Industrivej 7",
        "line2": "Port 3",
        "city": "Aarhus C",
        "postal_code": "8200",
        "country_code": "DK",
    },
    "lines": [
        {"sku": "1896-S", "quantity": "2", "unit_price": "4399.50"},
        {"sku": "1920-S", "quantity": 1},
    ],
}


def test_a_sales_order_body_is_a_deep_insert_with_exact_decimals() -> None:
    body = sales_order_body(PAYLOAD, local_currency="DKK")

    assert body["externalDocumentNumber"] == "0193a4c27e1f7b3a9c4d5e6f7a8b9c0d"
    assert body["customerNumber"] == "C00040"
    assert body["currencyCode"] == ""  # the local currency is written empty
    assert body["shipToContact"] == "Søren Ørsted"
    assert body["shipToPostCode"] == "8200"
    assert body["salesOrderLines"] == [
        {
            "lineType": "Item",
            "lineObjectNumber": "1896-S",
            "quantity": Decimal(2),
            "unitPrice": Decimal("4399.50"),
        },
        {"lineType": "Item", "lineObjectNumber": "1920-S", "quantity": Decimal(1)},
    ]
    assert sales_order_body(PAYLOAD)["currencyCode"] == "DKK"


def test_a_canonical_id_fits_the_35_character_external_document_number() -> None:
    order_id = new_id()

    number = external_document_number(order_id)

    assert len(order_id) == 36
    assert len(number) == 32
    assert number == order_id.replace("-", "")
    assert external_document_number("PO-2026-0917") == "PO-2026-0917"
    with pytest.raises(PermanentFailureError, match="not a UUID"):
        external_document_number("x" * 36)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"order_id": ""}, "order_id and customer_number"),
        ({"customer_number": None}, "order_id and customer_number"),
        ({"lines": []}, "at least one line"),
        ({"lines": [{"quantity": 1}]}, r"lines\[0\].sku"),
        ({"lines": [{"sku": "A", "quantity": "two"}]}, r"lines\[0\].quantity"),
        ({"lines": [{"sku": "A", "quantity": "NaN"}]}, "finite"),
    ],
)
def test_a_bad_payload_is_permanent(change: dict[str, Any], message: str) -> None:
    with pytest.raises(PermanentFailureError, match=message):
        sales_order_body({**PAYLOAD, **change})


def test_filters_quote_strings_the_odata_way() -> None:
    assert eq_filter("externalDocumentNumber", "O'Brien #1") == (
        "externalDocumentNumber eq 'O''Brien #1'"
    )


def test_customer_fields_map_the_address() -> None:
    fields = customer_fields(
        {
            "email": "ap@fabrikam.example",
            "display_name": "Fabrikam",
            "address": {"line1": "5 Harbour St", "postal_code": "98101", "country_code": "US"},
        }
    )

    assert fields == {
        "displayName": "Fabrikam",
        "email": "ap@fabrikam.example",
        "addressLine1": "5 Harbour St",
        "postalCode": "98101",
        "country": "US",
    }
    with pytest.raises(PermanentFailureError, match="number or an email"):
        customer_fields({"display_name": "Nobody"})


def test_changed_keeps_only_real_differences() -> None:
    entity = {"quantity": Decimal(2), "shipQuantity": 0, "email": "a@b.example"}

    assert changed(entity, {"quantity": 2, "shipQuantity": Decimal(1), "email": "a@b.example"}) == {
        "shipQuantity": Decimal(1)
    }


def test_ship_everything_outstanding_skips_comment_and_account_lines() -> None:
    order = fixture_json("sales_order_S-ORD101005_lcy.json")

    assert ship_quantities(order, None) == {
        "9c3f1a20-7e0b-ef11-9f88-6045bd000001": Decimal(2),
        "9c3f1a20-7e0b-ef11-9f88-6045bd000002": Decimal(1),
    }


def test_ship_targets_are_cumulative_so_a_replay_ships_nothing() -> None:
    order = fixture_json("sales_order_S-ORD101005_lcy.json")
    order["salesOrderLines"][0]["shippedQuantity"] = 1

    assert ship_quantities(order, {"1896-S": Decimal(1)}) == {}
    assert ship_quantities(order, {"1896-S": Decimal(2)}) == {
        "9c3f1a20-7e0b-ef11-9f88-6045bd000001": Decimal(1)
    }
    with pytest.raises(PermanentFailureError, match="more of '1896-S'"):
        ship_quantities(order, {"1896-S": Decimal(3)})
    with pytest.raises(PermanentFailureError, match="no line for SKU 'NOPE'"):
        ship_quantities(order, {"NOPE": Decimal(1)})


def test_an_account_line_posts_to_the_account_at_its_exact_price() -> None:
    line = {"account": "6110", "quantity": "3", "unit_price": "7.35", "description": "Engraving"}
    body = sales_order_body({**PAYLOAD, "lines": [line]})
    assert body["salesOrderLines"] == [
        {
            "lineType": "Account",
            "lineObjectNumber": "6110",
            "quantity": Decimal("3"),
            "unitPrice": Decimal("7.35"),
            "description": "Engraving",
        }
    ]


def test_an_account_line_without_a_price_is_permanent() -> None:
    with pytest.raises(PermanentFailureError, match=r"lines\[0\].unit_price"):
        sales_order_body({**PAYLOAD, "lines": [{"account": "6110", "quantity": 1}]})
