"""Pure mapping on real-shaped Salesforce payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crossdock.canonical.address import Address
from crossdock.canonical.customer import Account, Contact, Customer, CustomerAddress
from crossdock.canonical.mapping import MappingError
from crossdock.canonical.money import Money
from crossdock.canonical.order import Order, OrderLine, OrderTotals
from crossdock.connectors.salesforce import (
    account_fields,
    contact_fields,
    customer_from_records,
    order_fields,
    order_item_fields,
)

FIXTURES = Path(__file__).parents[3] / "fixtures" / "payloads" / "salesforce"


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_bytes(), parse_float=Decimal)


def test_an_account_with_its_contacts_becomes_a_business_customer() -> None:
    account = _load("account_record_0015g00000AbCdE.json")
    contacts = _load("contacts_query_0015g00000AbCdE.json")["records"]

    customer = customer_from_records(account, contacts)

    assert customer.kind == "business"
    assert customer.account is not None
    assert (customer.account.name, customer.account.number) == ("Café Größenwahn GmbH", "B2B-1187")
    assert [c.last_name for c in customer.contacts] == ["Größ", "Ng"]
    assert customer.contacts[1].email is None  # "" is no address
    assert customer.email == "einkauf@cafe-groessenwahn.example"
    shipping = customer.addresses[1]
    assert (shipping.line1, shipping.line2, shipping.country_code) == (
        "Lagerstraße 4",
        "Hof 2, Tor B",
        "DE",
    )
    assert shipping.default_for == ["shipping"]
    assert customer.updated_at == datetime(2026, 11, 20, 9, 15, 2, tzinfo=UTC)
    assert customer.currency == "EUR"


def test_an_account_without_name_is_refused() -> None:
    account = {**_load("account_record_0015g00000AbCdE.json"), "Name": " "}

    with pytest.raises(MappingError, match="no Name"):
        customer_from_records(account)


def test_account_fields_round_trip_through_the_record_mapping() -> None:
    customer = Customer(
        kind="business",
        phone="+49 30 1234567",
        account=Account(name="Kontor AG", number="K-1", website="https://kontor.example"),
        addresses=[
            CustomerAddress(
                line1="Hafenstraße 1",
                line2="Halle 3",
                city="Hamburg",
                postal_code="20457",
                country_code="DE",
                default_for=["billing"],
            ),
        ],
    )

    fields = account_fields(customer)

    assert fields == {
        "Name": "Kontor AG",
        "AccountNumber": "K-1",
        "Website": "https://kontor.example",
        "Phone": "+49 30 1234567",
        "BillingStreet": "Hafenstraße 1\nHalle 3",
        "BillingCity": "Hamburg",
        "BillingPostalCode": "20457",
        "BillingCountryCode": "DE",
        "ShippingStreet": "Hafenstraße 1\nHalle 3",
        "ShippingCity": "Hamburg",
        "ShippingPostalCode": "20457",
        "ShippingCountryCode": "DE",
    }
    back = customer_from_records({"Id": "001", **fields})
    assert back.account is not None
    assert back.account.name == "Kontor AG"
    assert back.addresses[0].line2 == "Halle 3"


def test_a_consumer_is_no_account() -> None:
    with pytest.raises(MappingError, match="business"):
        account_fields(Customer(kind="consumer", last_name="Solo"))


def test_contact_fields_leave_out_what_is_unknown() -> None:
    fields = contact_fields(Contact(last_name="Größ", first_name="Jürgen", role="Einkauf"))

    assert fields == {"FirstName": "Jürgen", "LastName": "Größ", "Title": "Einkauf"}


def test_order_and_item_fields_keep_money_exact() -> None:
    line = OrderLine(
        line_id="11",
        sku="CD-MUG-01",
        title="Mug",
        quantity=24,
        unit_price=Money(Decimal("12.50"), "EUR"),
    )
    order = Order(
        number="#1042",
        channel="shopify:b2b",
        currency="EUR",
        purchase_order="PO-88",
        lines=[line],
        totals=OrderTotals(total=Money(Decimal("300.00"), "EUR")),
        status="open",
        placed_at=datetime(2026, 11, 20, 9, 15, tzinfo=UTC),
        shipping_address=Address(line1="Lagerstraße 4", city="Berlin", country_code="DE"),
    )

    header = order_fields(order, pricebook_id="01s5g0000000001AAA")
    item = order_item_fields(line, pricebook_entry_id="01u5g0000000001AAA")

    assert header["Status"] == "Draft"
    assert header["EffectiveDate"] == "2026-11-20"
    assert header["Pricebook2Id"] == "01s5g0000000001AAA"
    assert header["ShippingStreet"] == "Lagerstraße 4"
    assert "BillingStreet" not in header
    assert item["UnitPrice"] == Decimal("12.50")
    assert isinstance(item["UnitPrice"], Decimal)
    assert item["Quantity"] == Decimal(24)
