"""The canonical entities: strictness, closed shapes, versions, JSON round trips and their rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from crossdock.canonical.address import Address
from crossdock.canonical.charges import TaxLine
from crossdock.canonical.customer import Account, Contact, Customer, CustomerAddress
from crossdock.canonical.ids import new_id
from crossdock.canonical.inventory import InventoryLevel
from crossdock.canonical.invoice import Invoice, InvoiceLine
from crossdock.canonical.money import Money
from crossdock.canonical.order import OrderTotalsMismatch
from crossdock.canonical.price import Price
from crossdock.canonical.product import Product, Variant, gtin_is_valid
from crossdock.canonical.refs import OrderRef
from crossdock.canonical.returns import Refund, Return, ReturnLine
from crossdock.canonical.shipment import SHIPMENT_STATUSES, Shipment

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def samples() -> list[BaseModel]:
    return [
        Customer(
            id=new_id(),
            kind="business",
            account=Account(
                name="Ørsted Møbler A/S", number="C00040", credit_limit=Money("50000", "DKK")
            ),
            contacts=[
                Contact(first_name="Søren", last_name="Ørsted", email="so@example.dk", primary=True)
            ],
            addresses=[
                CustomerAddress(
                    line1="Åboulevarden 23",
                    city="Aarhus C",
                    country_code="DK",
                    default_for=["billing"],
                )
            ],
        ),
        Customer(kind="consumer", first_name="太郎", last_name="山田", email="taro@example.jp"),
        Product(
            title="Trail Runner",
            variants=[
                Variant(sku="TR-10-BLK", gtin="4006381333931", option_values=["10", "Black"]),
                Variant(sku="TR-11-BLK", option_values=["11", "Black"]),
            ],
        ),
        Price(
            price_list="retail-eur",
            sku="TR-10-BLK",
            currency="EUR",
            amount=eur("129.00"),
            valid_from=NOW,
        ),
        InventoryLevel(
            sku="TR-10-BLK",
            location="WH-KOELN",
            on_hand=12,
            reserved=2,
            available=10,
            as_of=NOW,
            source="netsuite",
        ),
        InventoryLevel(
            sku="TR-10-BLK", location="shopify", available=-3, as_of=NOW, source="shopify"
        ),
        Shipment(
            order=OrderRef(number="#1042"),
            carrier="UPS",
            tracking_number="1Z999AA10123456784",
            tracking_url="https://www.ups.com/track?tracknum=1Z999AA10123456784",
            status="in_transit",
            status_detail="arrived_at_facility",
        ),
        Invoice(
            number="INV-2026-0042",
            order=OrderRef(number="SO10482"),
            currency="EUR",
            lines=[
                InvoiceLine(
                    description="Espresso Bohnen 1 kg",
                    sku="CAF-ESP-1KG",
                    quantity=30,
                    unit_price=eur("17.85"),
                    tax_lines=[TaxLine(title="MwSt", rate=Decimal("0.19"), amount=eur("101.75"))],
                )
            ],
            total=eur("637.25"),
            amount_due=eur("637.25"),
            status="open",
            issued_at=NOW,
        ),
        Return(
            order=OrderRef(number="#1043"),
            lines=[
                ReturnLine(
                    line_id="13456789099002",
                    sku="SOCK-MER-M",
                    quantity=1,
                    reason="size_or_fit",
                    disposition="restock",
                )
            ],
            status="refunded",
            refund=Refund(
                subtotal=Money("12.33", "USD"),
                tax=Money("1.17", "USD"),
                total=Money("13.50", "USD"),
            ),
            requested_at=NOW,
        ),
    ]


@pytest.mark.parametrize("entity", samples(), ids=lambda e: type(e).__name__)
def test_json_round_trip(entity: BaseModel) -> None:
    text = entity.model_dump_json()
    assert type(entity).model_validate_json(text) == entity
    assert type(entity).model_validate(json.loads(text)) == entity
    assert json.loads(text)["schema_version"].endswith(".v1")


@pytest.mark.parametrize("entity", samples(), ids=lambda e: type(e).__name__)
def test_unknown_fields_are_refused(entity: BaseModel) -> None:
    data = json.loads(entity.model_dump_json())
    data["shopify_id"] = 123
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        type(entity).model_validate(data)


@pytest.mark.parametrize("entity", samples(), ids=lambda e: type(e).__name__)
def test_entities_are_immutable(entity: BaseModel) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        entity.id = "x"


def test_strict_mode_refuses_coercion() -> None:
    with pytest.raises(ValidationError):
        InventoryLevel.model_validate(
            {"sku": "A", "location": "L", "available": "10", "as_of": NOW, "source": "s"}
        )
    with pytest.raises(ValidationError, match="refusing binary float"):
        TaxLine.model_validate({"title": "VAT", "rate": 0.19, "amount": eur("1.00")})


def test_addresses_keep_non_ascii() -> None:
    address = Address(name="Zoë Ørsted", line1="Leopoldstraße 77", city="東京", country_code="JP")
    assert json.loads(address.model_dump_json())["name"] == "Zoë Ørsted"
    with pytest.raises(ValidationError):
        Address(country_code="jp")


def test_customer_kind_matches_account() -> None:
    with pytest.raises(ValidationError, match="business customer needs an account"):
        Customer(kind="business")
    with pytest.raises(ValidationError, match="consumer has no account"):
        Customer(kind="consumer", account=Account(name="ACME"))


def test_gtin_check_digit() -> None:
    assert gtin_is_valid("4006381333931")
    assert gtin_is_valid("036000291452")
    assert not gtin_is_valid("4006381333932")
    with pytest.raises(ValidationError, match="not a valid GTIN"):
        Variant(sku="X", gtin="4006381333932")


def test_product_skus_are_unique() -> None:
    with pytest.raises(ValidationError, match="duplicate SKUs"):
        Product(title="T", variants=[Variant(sku="A"), Variant(sku="A")])


def test_price_rules() -> None:
    with pytest.raises(ValidationError, match="price list in EUR"):
        Price(price_list="p", sku="A", currency="EUR", amount=Money("1", "USD"))
    with pytest.raises(ValidationError, match="valid_to must be after valid_from"):
        Price(
            price_list="p", sku="A", currency="EUR", amount=eur("1"), valid_from=NOW, valid_to=NOW
        )


def test_shipment_statuses_follow_the_carrier_vocabulary() -> None:
    assert SHIPMENT_STATUSES == (
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
    )
    with pytest.raises(ValidationError):
        Shipment(order=OrderRef(number="1"), carrier="UPS", status="shipped")  # type: ignore[arg-type]


def test_invoice_total_is_checked() -> None:
    data: dict[str, Any] = json.loads(samples()[7].model_dump_json())
    data["total"] = {"amount": "637.26", "currency": "EUR"}
    with pytest.raises(ValidationError, match=r"invoice INV-2026-0042: total 637\.26 EUR differs"):
        Invoice.model_validate(data)
    assert issubclass(OrderTotalsMismatch, ValueError)


def test_order_ref_needs_a_key() -> None:
    with pytest.raises(ValidationError, match="needs an id or a number"):
        OrderRef()
