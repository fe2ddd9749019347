"""Build orders in the real REST shape from a short storefront spec, with totals that add up.

The spec (what a storefront checkout knows)::

    {"line_items": [{"sku": "MUG-RED", "quantity": 2}, {"title": "Engraving", "price": "5.00"},
                    {"gift_card": true, "title": "Gift card", "price": "25.00"}],
     "discount": {"code": "SAVE10", "type": "percentage", "value": "10"},
     "tax": {"title": "VAT", "rate": "0.2", "included": false},
     "shipping": {"title": "Standard", "price": "4.90", "code": "STD"},
     "gift_card_payment": "10.00", "presentment_currency": "USD", "fx_rate": "1.08",
     "customer": {...}, "shipping_address": {...}, "billing_address": {...}, "note": "...",
     "tags": "b2b", "source_name": "web"}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from crossdock.sandbox.shopify._ids import IdMaker, gid
from crossdock.sandbox.shopify._money import Pricing, quantize


class OrderSpecError(ValueError):
    """A storefront spec that cannot become an order."""


@dataclass(frozen=True)
class OrderContext:
    """What the builder needs from the shop."""

    ids: IdMaker
    now: datetime
    currency: str
    order_number: int
    variants_by_id: dict[int, dict[str, Any]]
    variants_by_sku: dict[str, dict[str, Any]]
    products_by_id: dict[int, dict[str, Any]]


def _dec(value: Any, what: str) -> Decimal:
    try:
        return Decimal(str(value))
    except ArithmeticError as exc:
        raise OrderSpecError(f"{what} must be a decimal number, got {value!r}") from exc


def _resolve_line(raw: dict[str, Any], ctx: OrderContext) -> dict[str, Any]:
    quantity = int(raw.get("quantity", 1))
    if quantity < 1:
        raise OrderSpecError("a line quantity must be at least 1")
    variant = None
    if "variant_id" in raw:
        variant = ctx.variants_by_id.get(int(raw["variant_id"]))
        if variant is None:
            raise OrderSpecError(f"no variant {raw['variant_id']}")
    elif raw.get("sku"):
        variant = ctx.variants_by_sku.get(str(raw["sku"]))
        if variant is None:
            raise OrderSpecError(f"no variant with SKU {raw['sku']!r}")
    gift_card = bool(raw.get("gift_card", False))
    if variant is not None:
        product = ctx.products_by_id[variant["product_id"]]
        price = _dec(raw.get("price", variant["price"]), "price")
        return {
            "variant": variant,
            "product": product,
            "title": product["title"],
            "variant_title": variant["title"] if variant["title"] != "Default Title" else None,
            "sku": variant["sku"],
            "vendor": product["vendor"],
            "price": price,
            "quantity": quantity,
            "gift_card": gift_card,
            "taxable": bool(raw.get("taxable", variant.get("taxable", True))) and not gift_card,
            "requires_shipping": not gift_card and variant.get("requires_shipping", True),
            "grams": variant.get("grams", 0),
            "properties": raw.get("properties", []),
        }
    if "title" not in raw or "price" not in raw:
        raise OrderSpecError("a custom line needs a title and a price")
    return {
        "variant": None,
        "product": None,
        "title": str(raw["title"]),
        "variant_title": None,
        "sku": raw.get("sku"),
        "vendor": None,
        "price": _dec(raw["price"], "price"),
        "quantity": quantity,
        "gift_card": gift_card,
        "taxable": bool(raw.get("taxable", not gift_card)) and not gift_card,
        "requires_shipping": bool(raw.get("requires_shipping", not gift_card)),
        "grams": 0,
        "properties": raw.get("properties", []),
    }


def _allocate(total: Decimal, weights: list[Decimal], currency: str) -> list[Decimal]:
    # Proportional shares, rounded, with the remainder on the last weighted line.
    whole = sum(weights)
    if whole == 0 or total == 0:
        return [Decimal(0)] * len(weights)
    shares = [quantize(total * w / whole, currency) for w in weights]
    last = max(i for i, w in enumerate(weights) if w > 0)
    shares[last] += total - sum(shares)
    return shares


def _discounts(
    spec: dict[str, Any], lines: list[dict[str, Any]], currency: str
) -> tuple[list[Decimal], list[dict[str, Any]], list[dict[str, Any]]]:
    discount = spec.get("discount")
    if not discount:
        return [Decimal(0)] * len(lines), [], []
    kind = discount.get("type", "percentage")
    value = _dec(discount.get("value", "0"), "discount value")
    weights = [ln["price"] * ln["quantity"] if not ln["gift_card"] else Decimal(0) for ln in lines]
    if kind == "percentage":
        total = quantize(sum(weights, Decimal(0)) * value / 100, currency)
    elif kind == "fixed_amount":
        total = min(value, sum(weights, Decimal(0)))
    else:
        raise OrderSpecError(f"unsupported discount type {kind!r}")
    shares = _allocate(total, weights, currency)
    code = discount.get("code")
    application: dict[str, Any] = {
        "type": "discount_code" if code else "manual",
        "value": str(value),
        "value_type": kind,
        "allocation_method": "across",
        "target_selection": "all",
        "target_type": "line_item",
    }
    if code:
        application["code"] = code
    else:
        application["title"] = discount.get("title", "Manual discount")
        application["description"] = discount.get("title", "Manual discount")
    codes = [{"code": code, "amount": str(quantize(total, currency)), "type": kind}] if code else []
    return shares, [application], codes


def _tax(base: Decimal, rate: Decimal, included: bool, currency: str) -> Decimal:
    if included:
        return quantize(base - base / (1 + rate), currency)
    return quantize(base * rate, currency)


def _tax_line(title: str, rate: Decimal, amount: Decimal, pricing: Pricing) -> dict[str, Any]:
    return {
        "title": title,
        "rate": float(rate),  # a JSON number on the real wire; the amounts stay strings
        "price": pricing.text(amount),
        "price_set": pricing.money_set(amount),
        "channel_liable": False,
    }


def build_order(spec: dict[str, Any], ctx: OrderContext) -> dict[str, Any]:
    """The REST order for a storefront spec (see the module docstring).

    Raises:
        OrderSpecError: The spec names unknown variants or has impossible values.
    """
    raw_lines = spec.get("line_items") or []
    if not raw_lines:
        raise OrderSpecError("an order needs at least one line item")
    currency = ctx.currency
    pricing = Pricing(
        currency,
        spec.get("presentment_currency"),
        _dec(spec["fx_rate"], "fx_rate") if "fx_rate" in spec else None,
    )
    lines = [_resolve_line(raw, ctx) for raw in raw_lines]
    shares, applications, codes = _discounts(spec, lines, currency)
    tax_spec = spec.get("tax") or {}
    rate = _dec(tax_spec.get("rate", "0"), "tax rate")
    tax_title = str(tax_spec.get("title", "Tax"))
    included = bool(tax_spec.get("included", False))

    line_items, line_taxes = [], []
    for line, share in zip(lines, shares, strict=True):
        gross = line["price"] * line["quantity"]
        tax = _tax(gross - share, rate, included, currency) if line["taxable"] and rate else None
        line_taxes.append(tax or Decimal(0))
        variant, product = line["variant"], line["product"]
        line_id = ctx.ids.next()
        allocations = (
            [
                {
                    "amount": pricing.text(share),
                    "amount_set": pricing.money_set(share),
                    "discount_application_index": 0,
                }
            ]
            if share
            else []
        )
        name = line["title"] + (f" - {line['variant_title']}" if line["variant_title"] else "")
        line_items.append(
            {
                "id": line_id,
                "admin_graphql_api_id": gid("LineItem", line_id),
                "attributed_staffs": [],
                "current_quantity": line["quantity"],
                "fulfillable_quantity": line["quantity"] if line["requires_shipping"] else 0,
                "fulfillment_service": "manual",
                "fulfillment_status": None,
                "gift_card": line["gift_card"],
                "grams": line["grams"],
                "name": name,
                "price": pricing.text(line["price"]),
                "price_set": pricing.money_set(line["price"]),
                "product_exists": product is not None,
                "product_id": product["id"] if product else None,
                "properties": line["properties"],
                "quantity": line["quantity"],
                "requires_shipping": line["requires_shipping"],
                "sku": line["sku"],
                "taxable": line["taxable"],
                "title": line["title"],
                "total_discount": pricing.text(Decimal(0)),
                "total_discount_set": pricing.money_set(Decimal(0)),
                "variant_id": variant["id"] if variant else None,
                "variant_inventory_management": "shopify" if variant else None,
                "variant_title": line["variant_title"],
                "vendor": line["vendor"],
                "tax_lines": [_tax_line(tax_title, rate, tax, pricing)] if tax is not None else [],
                "duties": [],
                "discount_allocations": allocations,
            }
        )

    shipping_spec = spec.get("shipping")
    shipping_lines, shipping_total, shipping_tax = [], Decimal(0), Decimal(0)
    if shipping_spec:
        shipping_total = _dec(shipping_spec.get("price", "0"), "shipping price")
        taxed = bool(shipping_spec.get("taxable", True)) and rate
        shipping_tax = _tax(shipping_total, rate, included, currency) if taxed else Decimal(0)
        ship_id = ctx.ids.next()
        shipping_lines.append(
            {
                "id": ship_id,
                "carrier_identifier": shipping_spec.get("carrier_identifier"),
                "code": shipping_spec.get("code", "Standard"),
                "discounted_price": pricing.text(shipping_total),
                "discounted_price_set": pricing.money_set(shipping_total),
                "is_removed": False,
                "phone": None,
                "price": pricing.text(shipping_total),
                "price_set": pricing.money_set(shipping_total),
                "requested_fulfillment_service_id": None,
                "source": "shopify",
                "title": shipping_spec.get("title", "Standard"),
                "tax_lines": [_tax_line(tax_title, rate, shipping_tax, pricing)] if taxed else [],
                "discount_allocations": [],
            }
        )

    line_items_total = sum((ln["price"] * ln["quantity"] for ln in lines), Decimal(0))
    discounts_total = sum(shares, Decimal(0))
    tax_total = sum(line_taxes, Decimal(0)) + shipping_tax
    subtotal = line_items_total - discounts_total
    total = subtotal + shipping_total + (Decimal(0) if included else tax_total)
    gift_card_paid = min(_dec(spec.get("gift_card_payment", "0"), "gift_card_payment"), total)
    gateways = (["gift_card"] if gift_card_paid else []) + (
        ["shopify_payments"] if total > gift_card_paid else []
    )
    order_tax_lines = [_tax_line(tax_title, rate, tax_total, pricing)] if tax_total else []

    order_id = ctx.ids.next()
    stamp = ctx.now.isoformat(timespec="seconds")
    number = ctx.order_number
    customer = spec.get("customer")
    if customer is not None:
        customer = dict(customer)
        customer.setdefault("id", ctx.ids.next())
        customer.setdefault("admin_graphql_api_id", gid("Customer", customer["id"]))
    money_fields = {
        "total_price": total,
        "subtotal_price": subtotal,
        "total_tax": tax_total,
        "total_discounts": discounts_total,
        "total_line_items_price": line_items_total,
        "total_outstanding": Decimal(0),
        "current_total_price": total,
        "current_subtotal_price": subtotal,
        "current_total_tax": tax_total,
        "current_total_discounts": discounts_total,
        "total_shipping_price": shipping_total,
    }
    order: dict[str, Any] = {
        "id": order_id,
        "admin_graphql_api_id": gid("Order", order_id),
        "app_id": 580111,
        "browser_ip": None,
        "buyer_accepts_marketing": False,
        "cancel_reason": None,
        "cancelled_at": None,
        "closed_at": None,
        "confirmation_number": ctx.ids.confirmation(),
        "confirmed": True,
        "contact_email": spec.get("email"),
        "created_at": stamp,
        "currency": currency,
        "customer_locale": spec.get("customer_locale", "en"),
        "email": spec.get("email", ""),
        "estimated_taxes": False,
        "financial_status": spec.get("financial_status", "paid"),
        "fulfillment_status": None,
        "landing_site": None,
        "name": f"#{number}",
        "note": spec.get("note"),
        "note_attributes": spec.get("note_attributes", []),
        "number": number - 1000,
        "order_number": number,
        "payment_gateway_names": gateways,
        "phone": spec.get("phone"),
        "presentment_currency": pricing.presentment,
        "processed_at": stamp,
        "source_name": spec.get("source_name", "web"),
        "tags": spec.get("tags", ""),
        "tax_lines": order_tax_lines,
        "taxes_included": included,
        "test": bool(spec.get("test", False)),
        "token": ctx.ids.token(),
        "updated_at": stamp,
        "user_id": None,
        "billing_address": spec.get("billing_address", spec.get("shipping_address")),
        "customer": customer,
        "discount_applications": applications,
        "discount_codes": codes,
        "fulfillments": [],
        "line_items": line_items,
        "refunds": [],
        "shipping_address": spec.get("shipping_address"),
        "shipping_lines": shipping_lines,
        "company": spec.get("company"),
    }
    for field, amount in money_fields.items():
        if field != "total_shipping_price":
            order[field] = pricing.text(amount)
        order[f"{field}_set"] = pricing.money_set(amount)
    return order
