"""Pure builders of Business Central request bodies and OData filters from command payloads.

Command payloads (JSON, money and quantities as decimal strings or numbers):

``sales_order.create``::

    {"order_id": "<canonical id>", "customer_number": "C00010", "currency": "EUR",
     "order_date": "2026-11-27", "requested_delivery_date": "2026-12-01",
     "email": "...", "phone": "...",
     "ship_to": {"name", "contact", "line1", "line2", "city", "region", "postal_code",
                 "country_code"},
     "lines": [{"sku": "1896-S", "quantity": "2", "unit_price": "1000.80",
                "description": "..."},
               {"account": "6110", "quantity": "1", "unit_price": "5.00",
                "description": "Engraving"}]}

A line names an item (``sku``: an Item line) or a G/L account (``account``: an Account line,
which needs its ``unit_price``).

``customer.upsert``::

    {"number": "C00010" (optional), "email": "...", "display_name": "...",
     "type": "Company" | "Person", "phone": "...", "currency": "...",
     "address": {"line1", "line2", "city", "region", "postal_code", "country_code"}}
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from crossdock.connectorkit import PermanentFailureError

EXTERNAL_DOCUMENT_MAX = 35
"""``externalDocumentNumber`` is a Code[35] in Business Central."""

JSONObject = dict[str, Any]


def external_document_number(order_id: str) -> str:
    """The ``externalDocumentNumber`` that carries a canonical order id.

    A canonical id is a UUID (36 characters with hyphens), one more than BC's Code[35] holds:
    it is written as its 32 hex digits. A shorter id is written as it is.

    Raises:
        PermanentFailureError: An empty id, or a long one that is not a UUID.
    """
    text = order_id.strip()
    if not text:
        raise PermanentFailureError("the order id (externalDocumentNumber) is empty")
    if len(text) <= EXTERNAL_DOCUMENT_MAX:
        return text
    try:
        return uuid.UUID(text).hex
    except ValueError:
        raise PermanentFailureError(
            f"order id {text!r} is longer than Business Central's externalDocumentNumber "
            f"({EXTERNAL_DOCUMENT_MAX} characters) and is not a UUID"
        ) from None


def odata_string(value: str) -> str:
    """An OData string literal: quoted, with ``'`` doubled."""
    return "'" + value.replace("'", "''") + "'"


def eq_filter(field: str, value: str) -> str:
    """``<field> eq '<value>'``."""
    return f"{field} eq {odata_string(value)}"


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise PermanentFailureError(f"{where} must be a number, not {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise PermanentFailureError(f"{where} must be a number, not {value!r}") from None
    if not number.is_finite():
        raise PermanentFailureError(f"{where} must be finite, not {value!r}")
    return number


def _text(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def sales_order_body(
    payload: Mapping[str, Any], *, local_currency: str | None = None
) -> JSONObject:
    """The deep-insert body of ``POST salesOrders`` for a ``sales_order.create`` payload.

    Args:
        payload: The command payload (see the module docstring).
        local_currency: The company's local currency, sent as an empty ``currencyCode``.

    Raises:
        PermanentFailureError: A missing order id, customer, or line field.
    """
    order_id = _text(payload, "order_id")
    customer = _text(payload, "customer_number")
    if order_id is None or customer is None:
        raise PermanentFailureError("sales_order.create needs order_id and customer_number")
    body: JSONObject = {
        "externalDocumentNumber": external_document_number(order_id),
        "customerNumber": customer,
    }
    currency = _text(payload, "currency")
    if currency is not None:
        body["currencyCode"] = "" if currency == local_currency else currency
    for key, name in (
        ("order_date", "orderDate"),
        ("requested_delivery_date", "requestedDeliveryDate"),
        ("email", "email"),
        ("phone", "phoneNumber"),
    ):
        value = _text(payload, key)
        if value is not None:
            body[name] = value
    ship_to = payload.get("ship_to")
    if isinstance(ship_to, Mapping):
        body.update(_address(ship_to, "shipTo"))
    lines = payload.get("lines")
    if not isinstance(lines, list) or not lines:
        raise PermanentFailureError("sales_order.create needs at least one line")
    body["salesOrderLines"] = [_line(line, index) for index, line in enumerate(lines)]
    return body


def _line(line: Any, index: int) -> JSONObject:
    where = f"lines[{index}]"
    if not isinstance(line, Mapping):
        raise PermanentFailureError(f"{where} must be an object")
    sku = _text(line, "sku")
    account = _text(line, "account")
    if sku is None and account is None:
        raise PermanentFailureError(f"{where}.sku is required (or an account)")
    if sku is None and line.get("unit_price") is None:
        raise PermanentFailureError(f"{where}.unit_price is required on an account line")
    out: JSONObject = {
        "lineType": "Item" if sku is not None else "Account",
        "lineObjectNumber": sku if sku is not None else account,
        "quantity": _decimal(line.get("quantity"), f"{where}.quantity"),
    }
    if line.get("unit_price") is not None:
        out["unitPrice"] = _decimal(line["unit_price"], f"{where}.unit_price")
    description = _text(line, "description")
    if description is not None:
        out["description"] = description[:100]
    return out


_ADDRESS_FIELDS = (
    ("line1", "AddressLine1"),
    ("line2", "AddressLine2"),
    ("city", "City"),
    ("region", "State"),
    ("postal_code", "PostCode"),
    ("country_code", "Country"),
)


def _address(address: Mapping[str, Any], prefix: str) -> JSONObject:
    out: JSONObject = {}
    for key, suffix in (("name", "Name"), ("contact", "Contact"), *_ADDRESS_FIELDS):
        value = _text(address, key)
        if value is not None:
            out[f"{prefix}{suffix}"] = value
    return out


def customer_fields(payload: Mapping[str, Any]) -> JSONObject:
    """The customer fields a ``customer.upsert`` payload sets (a POST body or PATCH changes).

    Raises:
        PermanentFailureError: Neither a number nor an email to find the customer by, or no
            display name.
    """
    if _text(payload, "number") is None and _text(payload, "email") is None:
        raise PermanentFailureError("customer.upsert needs a number or an email")
    name = _text(payload, "display_name")
    if name is None:
        raise PermanentFailureError("customer.upsert needs a display_name")
    out: JSONObject = {"displayName": name[:100]}
    for key, field in (
        ("number", "number"),
        ("email", "email"),
        ("type", "type"),
        ("phone", "phoneNumber"),
        ("currency", "currencyCode"),
    ):
        value = _text(payload, key)
        if value is not None:
            out[field] = value
    address = payload.get("address")
    if isinstance(address, Mapping):
        for key, suffix in _ADDRESS_FIELDS:
            value = _text(address, key)
            if value is not None:
                field = {"PostCode": "postalCode"}.get(suffix, suffix[0].lower() + suffix[1:])
                out[field] = value
    return out


def changed(entity: Mapping[str, Any], changes: Mapping[str, Any]) -> JSONObject:
    """The part of ``changes`` that differs from ``entity`` (numbers compared as decimals)."""
    out: JSONObject = {}
    for key, value in changes.items():
        current = entity.get(key)
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            try:
                if current is not None and Decimal(str(current)) == Decimal(str(value)):
                    continue
            except InvalidOperation:
                pass
        elif current == value:
            continue
        out[key] = value
    return out


def ship_quantities(
    order: Mapping[str, Any], targets: Mapping[str, Decimal] | None
) -> dict[str, Decimal]:
    """What each Item line must still ship for the order to reach ``targets``.

    Args:
        order: The sales order with ``salesOrderLines``.
        targets: Cumulative quantity shipped wanted per SKU; None ships everything outstanding.

    Returns:
        Line id to quantity to ship now, for lines with something left to ship (empty when
        the order already shipped that much: recording the fulfilment again does nothing).

    Raises:
        PermanentFailureError: A SKU the order does not have, or more than it ordered.
    """
    lines = [line for line in order.get("salesOrderLines") or [] if line.get("lineType") == "Item"]

    def number(line: Mapping[str, Any], key: str) -> Decimal:
        return Decimal(str(line.get(key) or 0))

    outstanding = {
        str(line["id"]): number(line, "quantity") - number(line, "shippedQuantity")
        for line in lines
    }
    if targets is None:
        return {line_id: left for line_id, left in outstanding.items() if left > 0}
    shipped: dict[str, Decimal] = {}
    for line in lines:
        sku = str(line.get("lineObjectNumber"))
        shipped[sku] = shipped.get(sku, Decimal(0)) + number(line, "shippedQuantity")
    unknown = sorted(set(targets) - set(shipped))
    if unknown:
        raise PermanentFailureError(f"the sales order has no line for SKU {unknown[0]!r}")
    need = {sku: max(Decimal(0), target - shipped[sku]) for sku, target in targets.items()}
    plan: dict[str, Decimal] = {}
    for line in lines:
        sku = str(line.get("lineObjectNumber"))
        take = min(outstanding[str(line["id"])], need.get(sku, Decimal(0)))
        if take > 0:
            plan[str(line["id"])] = take
            need[sku] -= take
    over = sorted(sku for sku, left in need.items() if left > 0)
    if over:
        raise PermanentFailureError(f"the fulfilment ships more of {over[0]!r} than was ordered")
    return plan
