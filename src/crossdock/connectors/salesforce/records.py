"""Pure mapping between canonical customers/orders and Salesforce record fields.

Outbound: `account_fields` and `contact_fields` (a canonical `Customer`), `order_fields` and
`order_item_fields` (a canonical `Order`). Inbound: `customer_from_records` (an Account record
and its Contacts, as the REST API returns them) to a canonical business `Customer`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from crossdock.canonical.address import Address
from crossdock.canonical.customer import Account, Contact, Customer, CustomerAddress
from crossdock.canonical.mapping import MappingError, blank_to_none, timestamp_or_none
from crossdock.canonical.order import Order, OrderLine

__all__ = [
    "account_fields",
    "contact_fields",
    "customer_from_records",
    "order_fields",
    "order_item_fields",
]

Record = Mapping[str, Any]


def _street(address: Address) -> str | None:
    lines = [line for line in (address.line1, address.line2) if line]
    return "\n".join(lines) or None


def _address_fields(prefix: str, address: Address | None) -> dict[str, Any]:
    if address is None:
        return {}
    values = {
        f"{prefix}Street": _street(address),
        f"{prefix}City": address.city,
        f"{prefix}State": address.region,
        f"{prefix}StateCode": address.region_code,
        f"{prefix}PostalCode": address.postal_code,
        f"{prefix}Country": address.country,
        f"{prefix}CountryCode": address.country_code,
    }
    return {k: v for k, v in values.items() if v is not None}


def _default_address(customer: Customer, purpose: str) -> CustomerAddress | None:
    for address in customer.addresses:
        if purpose in address.default_for:
            return address
    return customer.addresses[0] if customer.addresses else None


def account_fields(customer: Customer) -> dict[str, Any]:
    """Account fields of a business customer (Name, number, website, addresses...).

    Raises:
        MappingError: The customer has no account (a consumer).
    """
    if customer.account is None:
        raise MappingError("salesforce: only a business customer becomes an Account")
    account = customer.account
    fields: dict[str, Any] = {
        "Name": account.name,
        "AccountNumber": account.number,
        "Industry": account.industry,
        "Website": account.website,
        "Phone": customer.phone,
    }
    fields.update(_address_fields("Billing", _default_address(customer, "billing")))
    fields.update(_address_fields("Shipping", _default_address(customer, "shipping")))
    return {k: v for k, v in fields.items() if v is not None}


def contact_fields(contact: Contact) -> dict[str, Any]:
    """Contact fields of one canonical contact (``LastName`` always set)."""
    fields = {
        "FirstName": contact.first_name,
        "LastName": contact.last_name,
        "Email": contact.email,
        "Phone": contact.phone,
        "Title": contact.role,
    }
    return {k: v for k, v in fields.items() if v is not None}


def order_fields(order: Order, *, pricebook_id: str) -> dict[str, Any]:
    """Order header fields for a new Draft order on ``pricebook_id`` (no AccountId)."""
    fields: dict[str, Any] = {
        "EffectiveDate": order.placed_at.date().isoformat(),
        "Status": "Draft",
        "Pricebook2Id": pricebook_id,
        "PoNumber": order.purchase_order,
        "Description": f"{order.channel} {order.number}",
    }
    fields.update(_address_fields("Billing", order.billing_address))
    fields.update(_address_fields("Shipping", order.shipping_address))
    return {k: v for k, v in fields.items() if v is not None}


def order_item_fields(line: OrderLine, *, pricebook_entry_id: str) -> dict[str, Any]:
    """OrderItem fields of one order line (``UnitPrice`` exact, as a JSON number)."""
    return {
        "PricebookEntryId": pricebook_entry_id,
        "Quantity": Decimal(line.quantity),
        "UnitPrice": line.unit_price.amount,
        "Description": line.title[:255],
    }


def _address_from(record: Record, prefix: str, purpose: str) -> CustomerAddress | None:
    street = blank_to_none(record.get(f"{prefix}Street"))
    city = blank_to_none(record.get(f"{prefix}City"))
    if street is None and city is None:
        return None
    lines = (street or "").split("\n", 1)
    code = blank_to_none(record.get(f"{prefix}CountryCode"))
    return CustomerAddress(
        company=blank_to_none(record.get("Name")),
        line1=blank_to_none(lines[0]),
        line2=blank_to_none(lines[1]) if len(lines) > 1 else None,
        city=city,
        region=blank_to_none(record.get(f"{prefix}State")),
        region_code=blank_to_none(record.get(f"{prefix}StateCode")),
        postal_code=blank_to_none(record.get(f"{prefix}PostalCode")),
        country=blank_to_none(record.get(f"{prefix}Country")),
        country_code=code.upper() if code else None,
        default_for=[purpose],  # type: ignore[list-item]
    )


def customer_from_records(account: Record, contacts: Sequence[Record] = ()) -> Customer:
    """A canonical business customer from an Account record and its Contact records.

    Raises:
        MappingError: The Account has no Name, or a Contact no LastName.
    """
    name = blank_to_none(account.get("Name"))
    if name is None:
        raise MappingError(f"salesforce Account {account.get('Id')}: no Name")
    people = []
    for record in contacts:
        last = blank_to_none(record.get("LastName"))
        if last is None:
            raise MappingError(f"salesforce Contact {record.get('Id')}: no LastName")
        people.append(
            Contact(
                first_name=blank_to_none(record.get("FirstName")),
                last_name=last,
                email=blank_to_none(record.get("Email")),
                phone=blank_to_none(record.get("Phone")),
                role=blank_to_none(record.get("Title")),
            )
        )
    addresses = [
        a
        for a in (
            _address_from(account, "Billing", "billing"),
            _address_from(account, "Shipping", "shipping"),
        )
        if a is not None
    ]
    return Customer(
        kind="business",
        phone=blank_to_none(account.get("Phone")),
        email=people[0].email if people else None,
        account=Account(
            name=name,
            number=blank_to_none(account.get("AccountNumber")),
            industry=blank_to_none(account.get("Industry")),
            website=blank_to_none(account.get("Website")),
        ),
        contacts=people,
        addresses=addresses,
        currency=blank_to_none(account.get("CurrencyIsoCode")),
        created_at=timestamp_or_none(account.get("CreatedDate"), field="CreatedDate"),
        updated_at=timestamp_or_none(account.get("LastModifiedDate"), field="LastModifiedDate"),
    )
